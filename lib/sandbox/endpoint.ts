// The sandbox peers' own endpoint syntax: like lib/config/addresses.ts but port 0 is allowed
// (peers in tests listen on any free port), and no address family is carried.
import net from 'node:net';

/** "203.0.113.2:53" or "[2001:db8:3::2]:53" -> {host, port}; throws naming the bad text. */
export function parseEndpoint(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:[\]]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !net.isIP(m[1]) || port > 65535) throw new Error(`bad endpoint "${s}": expected ADDR:PORT or [ADDR6]:PORT`);
  return { host: m[1], port };
}

export function formatEndpoint(e: { host: string; port: number }): string {
  return net.isIPv6(e.host) ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
