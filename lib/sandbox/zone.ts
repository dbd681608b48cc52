// The test upstream's data: a JSON zone validated once at load, then looked up per query.
// Pure (no I/O) so its answers can be tested without sockets.

import ipaddr from 'ipaddr.js';
import type { Answer } from 'dns-packet';
import { encodeSvcb, SvcbData, TYPE_HTTPS, TYPE_SVCB } from './svcb';

export interface ZoneRecord extends Partial<SvcbData> {
  name: string;
  type: string;
  /** seconds; default 30 */
  ttl?: number;
  /** A/AAAA address, CNAME target, TXT text (string or list); unused for HTTPS/SVCB */
  data?: string | string[];
}

/** Misbehaviours a test can ask of the upstream, keyed by query name. */
export interface Behaviour {
  delayMs?: number;
  /** UDP answers carry TC=1 and no records (TCP answers in full). */
  truncate?: boolean;
  wrongId?: boolean;
  wrongQuestion?: boolean;
  drop?: boolean;
  /** Answer with this RCODE (e.g. "SERVFAIL", "REFUSED") and no records. */
  rcode?: string;
  /** Add an Extended DNS Error (RFC 8914) to the OPT record, when the query has one. */
  ede?: { code: number; text?: string };
}

export interface ZoneFile {
  records: ZoneRecord[];
  behaviours?: Record<string, Behaviour>;
}

/** dns-packet's representation, ready to encode. */
export type Rr = Answer;

export interface Zone {
  names: Map<string, Rr[]>;
  /** "*.example.com" records, keyed by "example.com" */
  wildcards: Map<string, Rr[]>;
  behaviours: Map<string, Behaviour>;
}

export interface Lookup {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: Rr[];
}

const TYPES: Record<string, number> = { A: 1, CNAME: 5, TXT: 16, AAAA: 28, SVCB: TYPE_SVCB, HTTPS: TYPE_HTTPS };
const MAX_CHAIN = 8; // CNAME hops followed inside the zone
const BEHAVIOUR_KEYS = new Set(['delayMs', 'truncate', 'wrongId', 'wrongQuestion', 'drop', 'rcode', 'ede']);

export function normalizeName(n: string): string {
  return n.toLowerCase().replace(/\.$/, '');
}

function fail(i: number, msg: string): never {
  throw new Error(`zone: records[${i}]: ${msg}`);
}

function toRr(r: ZoneRecord, i: number): Rr {
  if (typeof r !== 'object' || r === null) fail(i, 'is not an object');
  if (typeof r.name !== 'string' || r.name === '') fail(i, 'name must be a non-empty string');
  const type = typeof r.type === 'string' ? r.type.toUpperCase() : '';
  if (!(type in TYPES)) fail(i, `type "${r.type}" is not one of ${Object.keys(TYPES).join(', ')}`);
  const ttl = r.ttl ?? 30;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) fail(i, `ttl ${r.ttl} is not a 31-bit integer`);
  const name = normalizeName(r.name);
  const data = r.data;
  switch (type) {
    case 'A':
    case 'AAAA': {
      const kind = type === 'A' ? 'ipv4' : 'ipv6';
      if (typeof data !== 'string' || !ipaddr.isValid(data) || ipaddr.parse(data).kind() !== kind) fail(i, `data ${JSON.stringify(data)} is not an ${kind} address`);
      return { name, type, ttl, class: 'IN', data: ipaddr.parse(data).toString() };
    }
    case 'CNAME':
      if (typeof data !== 'string' || data === '') fail(i, 'CNAME data must be the target name');
      return { name, type, ttl, class: 'IN', data: normalizeName(data) };
    case 'TXT':
      if (typeof data !== 'string' && !(Array.isArray(data) && data.every((s) => typeof s === 'string'))) fail(i, 'TXT data must be a string or a list of strings');
      return { name, type, ttl, class: 'IN', data };
    default: {
      // HTTPS, SVCB: encoded here, sent as an opaque RDATA
      let rdata: Buffer;
      try {
        rdata = encodeSvcb({ ...r, priority: r.priority ?? 1, target: r.target ?? '.' });
      } catch (e) {
        fail(i, (e as Error).message);
      }
      return { name, type: `UNKNOWN_${TYPES[type]}`, ttl, class: 'IN', data: rdata } as unknown as Rr;
    }
  }
}

/** Validate a parsed zone file; throws an Error that names the bad entry. */
export function loadZone(file: unknown): Zone {
  const f = file as ZoneFile;
  if (typeof f !== 'object' || f === null || !Array.isArray(f.records)) throw new Error('zone: expected an object with a "records" list');
  const zone: Zone = { names: new Map(), wildcards: new Map(), behaviours: new Map() };
  f.records.forEach((r, i) => {
    const rr = toRr(r, i);
    const [map, key] = rr.name.startsWith('*.') ? [zone.wildcards, rr.name.slice(2)] : [zone.names, rr.name];
    if (!map.has(key)) map.set(key, []);
    map.get(key)!.push(rr);
  });
  for (const [n, b] of Object.entries(f.behaviours ?? {})) {
    if (typeof b !== 'object' || b === null) throw new Error(`zone: behaviours["${n}"] is not an object`);
    for (const k of Object.keys(b)) if (!BEHAVIOUR_KEYS.has(k)) throw new Error(`zone: behaviours["${n}"]: unknown key "${k}"`);
    if (b.delayMs !== undefined && !(Number.isFinite(b.delayMs) && b.delayMs >= 0 && b.delayMs <= 600_000)) throw new Error(`zone: behaviours["${n}"]: delayMs must be 0..600000`);
    if (b.ede !== undefined && !(Number.isInteger(b.ede.code) && b.ede.code >= 0 && b.ede.code <= 65535)) throw new Error(`zone: behaviours["${n}"]: ede.code must be 0..65535`);
    zone.behaviours.set(normalizeName(n), b);
  }
  return zone;
}

/** Exact name first, then the closest wildcard ("*.b.c" covers a.b.c and x.a.b.c). */
function recordsOf(zone: Zone, name: string): Rr[] | undefined {
  const exact = zone.names.get(name);
  if (exact) return exact;
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
    const w = zone.wildcards.get(name.slice(i + 1));
    if (w) return w.map((rr) => ({ ...rr, name }));
  }
  return undefined;
}

function typeNumber(rr: Rr): number {
  const t = rr.type as string;
  return t.startsWith('UNKNOWN_') ? Number(t.slice(8)) : TYPES[t];
}

/** Answer qname/qtype like an authoritative server that also chases CNAMEs inside its zone. */
export function lookup(zone: Zone, qname: string, qtype: number): Lookup {
  let name = normalizeName(qname);
  const answers: Rr[] = [];
  for (let hop = 0; hop <= MAX_CHAIN; hop++) {
    const rrs = recordsOf(zone, name);
    if (!rrs) return { rcode: hop === 0 ? 'NXDOMAIN' : 'NOERROR', answers };
    const cname = rrs.find((rr) => rr.type === 'CNAME');
    if (cname && qtype !== TYPES.CNAME && qtype !== 255) {
      answers.push(cname);
      name = (cname as { data: string }).data;
      continue;
    }
    answers.push(...rrs.filter((rr) => qtype === 255 || typeNumber(rr) === qtype));
    return { rcode: 'NOERROR', answers };
  }
  return { rcode: 'NOERROR', answers }; // chain longer than MAX_CHAIN: stop, as resolvers do
}
