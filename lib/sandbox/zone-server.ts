// An authoritative test upstream on dns2's UDP and TCP servers. dns2 parses the query;
// the reply is built with dns-packet (plus our SVCB codec), because dns2 cannot encode
// HTTPS/SVCB and its encoder is slow; dns2 sends raw buffers as they are.

import net from 'node:net';
import type dgram from 'node:dgram';
import DNS2 from 'dns2';
import * as dnsPacket from 'dns-packet';
import { lookup, normalizeName, Zone } from './zone';
import { TYPE_HTTPS, TYPE_SVCB } from './svcb';

export interface Endpoint {
  host: string;
  port: number;
}
export interface QueryLogLine {
  q: string;
  type: string;
  transport: 'udp' | 'tcp';
  src: string;
}

const FLAG_AA = 1 << 10,
  FLAG_TC = 1 << 9,
  FLAG_RD = 1 << 8,
  FLAG_RA = 1 << 7;
const RCODE: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const TYPE_OPT = 41;
const OPT_EDE = 15; // RFC 8914
const UDP_MIN = 512; // RFC 1035 §4.2.1; larger only when the query's OPT says so (RFC 6891 §6.2.5)
const OUR_UDP_SIZE = 1232;
const CLASSES: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS', 255: 'ANY' };

// dns-packet's type table (not in its typings): number -> "A" | ... | "UNKNOWN_65"
// eslint-disable-next-line @typescript-eslint/no-require-imports -- dns-packet/types has no typings; the cast below is its shape
const packetTypes = require('dns-packet/types') as { toString(n: number): string };

/** Presentation name of a type: "A", "HTTPS", "TYPE999" (RFC 3597). */
export function qtypeName(t: number): string {
  if (t === TYPE_HTTPS) return 'HTTPS';
  if (t === TYPE_SVCB) return 'SVCB';
  const s = packetTypes.toString(t);
  return s.startsWith('UNKNOWN_') ? `TYPE${t}` : s;
}

// dns2 parses as many records as the header claims and swallows each failure, so 12 bytes
// claiming 65535 records cost seconds of CPU (measured: 1.4 s). Reject, before dns2 parses,
// counts that the message cannot hold: a question takes >= 5 bytes, a record >= 11.
const MIN_QUESTION = 5,
  MIN_RR = 11;
const GUARDED = Symbol.for('dnswall.sandbox.dns2ParseGuard');

/** What the guard did since it was installed: messages refused before dns2 saw them, and passed on. */
export interface ParseGuardStats {
  refused: number;
  parsed: number;
}

function guardDns2Parse(): ParseGuardStats {
  const P = DNS2.Packet as unknown as { parse: (b: Buffer) => unknown; [GUARDED]?: ParseGuardStats };
  const installed = P[GUARDED];
  if (installed) return installed;
  const stats: ParseGuardStats = { refused: 0, parsed: 0 };
  const parse = P.parse;
  P.parse = (b: Buffer) => {
    if (!Buffer.isBuffer(b) || b.length < 12) {
      stats.refused++;
      throw new Error('zone-server: message shorter than a header');
    }
    const need = b.readUInt16BE(4) * MIN_QUESTION + (b.readUInt16BE(6) + b.readUInt16BE(8) + b.readUInt16BE(10)) * MIN_RR;
    if (need > b.length - 12) {
      stats.refused++;
      throw new Error('zone-server: section counts exceed the message length');
    }
    stats.parsed++;
    return parse.call(P, b);
  };
  P[GUARDED] = stats;
  return stats;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

type Request = DNS2.Packet & { header: { id: number; qr: number; opcode: number; rd: number } };

export class ZoneServer {
  private zone: Zone;
  private readonly log: (l: QueryLogLine) => void;
  private readonly closers: (() => Promise<void>)[] = [];
  /** where each endpoint ended up (port 0 resolved) */
  readonly bound: Endpoint[] = [];
  /** the dns2 parse guard's counts (shared by every ZoneServer of the process) */
  readonly parseGuard: ParseGuardStats;

  constructor(zone: Zone, opts: { log?: (l: QueryLogLine) => void } = {}) {
    this.zone = zone;
    this.log = opts.log ?? (() => {});
    this.parseGuard = guardDns2Parse();
  }

  /** Swap the zone; queries already delayed keep the answer they computed. */
  setZone(zone: Zone): void {
    this.zone = zone;
  }

  /** Listen on UDP and TCP at each endpoint (the same port for both, also for port 0). */
  async listen(endpoints: Endpoint[]): Promise<Endpoint[]> {
    for (const ep of endpoints) this.bound.push(await this.listenOne(ep));
    return this.bound;
  }

  async close(): Promise<void> {
    await Promise.all(this.closers.splice(0).map((c) => c()));
  }

  private async listenOne(ep: Endpoint): Promise<Endpoint> {
    const family = net.isIPv6(ep.host) ? 'udp6' : 'udp4';
    for (let attempt = 0; ; attempt++) {
      const udp = DNS2.createUDPServer({ type: family });
      udp.on('request', (req, send, client) => this.handle(req, send, 'udp', (client as dgram.RemoteInfo).address));
      udp.on('requestError', () => {
        /* unparseable datagram: no answer, as a real server */
      });
      await new Promise<void>((res, rej) => {
        udp.once('error', rej);
        udp.bind(ep.port, ep.host, () => {
          udp.removeListener('error', rej);
          res();
        });
      });
      const port = udp.address().port;
      const tcp = DNS2.createTCPServer();
      tcp.on('request', (req, send, client) => this.handle(req, send, 'tcp', (client as net.Socket).remoteAddress ?? ''));
      tcp.on('requestError', () => {});
      try {
        await new Promise<void>((res, rej) => {
          tcp.once('error', rej);
          tcp.listen(port, ep.host, () => {
            tcp.removeListener('error', rej);
            res();
          });
        });
      } catch (e) {
        udp.close();
        // port 0: the kernel's UDP choice may be taken for TCP; try another
        if (ep.port === 0 && (e as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 20) continue;
        throw new Error(`zone-server: cannot listen on tcp ${ep.host}:${port}: ${(e as Error).message}`, { cause: e });
      }
      this.closers.push(
        () => new Promise<void>((res) => udp.close(() => res())),
        () => new Promise<void>((res) => tcp.close(() => res())),
      );
      return { host: ep.host, port };
    }
  }

  private handle(req: Request, send: (b: Buffer) => Promise<Buffer>, transport: 'udp' | 'tcp', src: string): void {
    try {
      const reply = this.answer(req, transport, src);
      if (!reply) return;
      const go = () => {
        send(reply.wire).catch(() => {
          /* peer gone */
        });
      };
      if (reply.delayMs > 0) setTimeout(go, reply.delayMs).unref();
      else go();
    } catch {
      // a query we cannot answer (bad name, odd class): stay silent rather than crash
    }
  }

  private answer(req: Request, transport: 'udp' | 'tcp', src: string): { wire: Buffer; delayMs: number } | null {
    const h = req.header;
    if (h.qr) return null; // a response sent to us: never answer it
    const q = req.questions?.[0];
    const opt = (req.additionals ?? []).find((r) => r && r.type === TYPE_OPT) as { class?: number } | undefined;
    const udpLimit = Math.max(opt?.class ?? 0, UDP_MIN);
    const qname = q ? String(q.name) : '';
    const qtype = q ? Number(q.type) : 0;
    const qclass = q ? Number(q.class) : 1;
    if (q) this.log({ q: normalizeName(qname), type: qtypeName(qtype), transport, src });
    const b = q ? this.zone.behaviours.get(normalizeName(qname)) : undefined;
    if (b?.drop) return null;

    let rcode: number;
    let answers: dnsPacket.Answer[] = [];
    if (!q) rcode = RCODE.FORMERR;
    else if (h.opcode !== 0) rcode = RCODE.NOTIMP;
    else if (!(qclass in CLASSES)) return null;
    else if (qclass !== 1) rcode = RCODE.REFUSED;
    else if (b?.rcode !== undefined) rcode = RCODE[b.rcode.toUpperCase()] ?? RCODE.SERVFAIL;
    else {
      const l = lookup(this.zone, qname, qtype);
      rcode = RCODE[l.rcode];
      answers = l.answers;
    }
    // the first owner name carries the query's own spelling, as servers echo case (0x20)
    if (answers.length) answers[0] = { ...answers[0], name: qname };
    const questions: dnsPacket.Question[] = q
      ? [
          {
            name: b?.wrongQuestion ? `wrong-question.${qname}` : qname,
            type: packetTypes.toString(qtype) as dnsPacket.RecordType,
            class: CLASSES[qclass] as dnsPacket.RecordClass,
          },
        ]
      : [];
    const flags = FLAG_AA | FLAG_RA | (h.rd ? FLAG_RD : 0) | ((h.opcode & 0xf) << 11) | rcode;
    const options = b?.ede ? [{ code: OPT_EDE, data: Buffer.concat([u16(b.ede.code), Buffer.from(b.ede.text ?? '')]) }] : [];
    const additionals = opt ? [{ type: 'OPT', name: '.', udpPayloadSize: OUR_UDP_SIZE, flags: 0, options } as unknown as dnsPacket.Answer] : [];
    const id = b?.wrongId ? (h.id + 1) & 0xffff : h.id;
    const encode = (ans: dnsPacket.Answer[], tc: boolean) =>
      dnsPacket.encode({
        id,
        type: 'response',
        flags: flags | (tc ? FLAG_TC : 0),
        questions,
        answers: ans,
        additionals,
      });
    let wire = encode(answers, transport === 'udp' && !!b?.truncate);
    if (transport === 'udp' && (b?.truncate || wire.length > udpLimit)) wire = encode([], true);
    return { wire, delayMs: b?.delayMs ?? 0 };
  }
}
