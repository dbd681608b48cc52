// Parsers for the address-like strings of the config: IPs, CIDRs, sources, endpoints, ports.
// Each returns a value or { error } naming the problem; none throws.
import ipaddr from 'ipaddr.js';
import type { Endpoint, Family, PortRule, SourceSpec } from './types';

export interface Failure {
  error: string;
}
export type Parsed<T> = T | Failure;

export function failed<T>(r: Parsed<T>): r is Failure {
  return typeof r === 'object' && r !== null && 'error' in r;
}

export interface Cidr {
  cidr: string;
  family: Family;
  address: string;
  prefix: number;
}

/** A literal IP in canonical text (RFC 5952 for IPv6). Only dotted-quad IPv4, no zone IDs. */
export function parseIP(text: string): Parsed<{ address: string; family: Family }> {
  if (text.includes(':')) {
    if (text.includes('%')) return { error: `"${text}": IPv6 zone IDs are not supported` };
    if (!ipaddr.IPv6.isValid(text)) return { error: `"${text}" is not an IPv6 address` };
    return { address: ipaddr.IPv6.parse(text).toString(), family: 6 };
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { error: `"${text}" is not an IP address (IPv4 is four decimal octets, e.g. 10.0.0.1)` };
  }
  return { address: ipaddr.IPv4.parse(text).toString(), family: 4 };
}

/** "addr/prefix", or a bare IP (= /32 or /128). Host bits must be zero. */
export function parseCIDR(text: string): Parsed<Cidr> {
  const slash = text.lastIndexOf('/');
  const ipText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIP(ipText);
  if (failed(ip)) return ip;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return { error: `"${text}": prefix length must be 0..${max}` };
    prefix = Number(p);
  }
  const addr = ipaddr.parse(ip.address);
  const bytes = addr.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  const network = ipaddr.fromByteArray(bytes).toString();
  if (network !== ip.address) {
    return { error: `"${text}" has host bits set; the network is ${network}/${prefix}` };
  }
  return { cidr: `${network}/${prefix}`, family: ip.family, address: network, prefix };
}

/** cgroup v2 path: absolute, no empty, "." or ".." segments. */
export function parseCgroupPath(path: string): Parsed<string> {
  if (!path.startsWith('/')) return { error: `cgroup path "${path}" must be absolute, e.g. cgroup:/system.slice/x.service` };
  if (path === '/')
    return { error: 'cgroup:/ would select every process of the host, dnswall and its own upstream queries included: name a subtree, e.g. cgroup:/system.slice/x.service' };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) return { error: 'cgroup path contains control characters' };
  const segs = path.slice(1).split('/');
  for (const s of segs) {
    if (s === '..' || s === '.') return { error: `cgroup path "${path}" must not contain "${s}"` };
    if (s === '') return { error: `cgroup path "${path}" has an empty segment or a trailing "/"` };
  }
  return path;
}

/** A policy source: an IP, a CIDR or cgroup:/path. */
export function parseSource(text: string): Parsed<SourceSpec> {
  if (text.startsWith('cgroup:')) {
    const p = parseCgroupPath(text.slice('cgroup:'.length));
    return failed(p) ? p : { kind: 'cgroup', path: p };
  }
  const c = parseCIDR(text);
  if (failed(c)) {
    if (/^[A-Za-z][A-Za-z0-9-]*:[^:]/.test(text) && !text.includes('::')) {
      return { error: `"${text}" is not a source: write an IP, a CIDR or cgroup:/path` };
    }
    return c;
  }
  if (c.family === 6 && ipaddr.IPv6.parse(c.address).isIPv4MappedAddress()) {
    return { error: `"${text}" is IPv4-mapped; write the IPv4 form (sources arrive as IPv4)` };
  }
  return { kind: 'cidr', ...c };
}

function parsePortNumber(text: string, what: string): Parsed<number> {
  if (!/^\d{1,5}$/.test(text)) return { error: `${what}: port "${text}" is not a number` };
  const n = Number(text);
  if (n < 1 || n > 65535) return { error: `${what}: port ${n} is out of range 1..65535` };
  return n;
}

/** "1.2.3.4:53" or "[fd00::53]:53"; the port is required. */
/** The inverse of parseEndpoint: "10.96.0.10:53", "[fd00::53]:53". */
export function formatEndpoint(e: Endpoint): string {
  return e.family === 6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

export function parseEndpoint(text: string): Parsed<Endpoint> {
  let host: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { error: `"${text}": missing "]"` };
    host = text.slice(1, close);
    if (text[close + 1] !== ':') return { error: `"${text}": missing port (write [IPv6]:PORT, e.g. [fd00::53]:53)` };
    port = text.slice(close + 2);
    if (!host.includes(':')) return { error: `"${text}": only IPv6 addresses go in brackets` };
  } else {
    const colons = text.split(':').length - 1;
    if (colons > 1) return { error: `"${text}": write IPv6 addresses in brackets with a port, e.g. [fd00::53]:53` };
    if (colons === 0) return { error: `"${text}": missing port (write HOST:PORT, e.g. 10.96.0.10:53)` };
    [host, port] = text.split(':');
  }
  const ip = parseIP(host);
  if (failed(ip)) return { error: `"${text}": ${ip.error}` };
  const p = parsePortNumber(port, `"${text}"`);
  if (failed(p)) return p;
  return { host: ip.address, port: p, family: ip.family };
}

/** "tcp/443" or "udp/53". */
export function parsePortRule(text: string): Parsed<PortRule> {
  const m = /^([A-Za-z]+)\/(.*)$/.exec(text);
  if (!m) return { error: `bad port "${text}": write tcp/PORT or udp/PORT, e.g. tcp/443` };
  const proto = m[1].toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') return { error: `bad port "${text}": protocol must be tcp or udp` };
  const n = parsePortNumber(m[2], `"${text}"`);
  if (failed(n)) return n;
  return { proto, port: n };
}
