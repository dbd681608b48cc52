// Shared by the listener tests (fairness/listeners, server/tcp-close): a DNS query, its TCP
// frame, and a handler that answers each request with its own bytes as a reply.
import * as dnsPacket from 'dns-packet';
import type { Handler, Request, Response } from '../../lib/plugins/types';

export function query(id: number): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.example.com' }] });
}

/** The query as one RFC 7766 frame (2-byte length first). */
export function frame(id: number): Buffer {
  const q = query(id);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(q.length);
  return Buffer.concat([len, q]);
}

/** Answers NOERROR (QR set) at once, or holds every request until release() when held is true. */
export function handler(held = false): { h: Handler; release: () => void } {
  const waiting: (() => void)[] = [];
  const h: Handler = (req: Request) => {
    const reply = (): Response => {
      const wire = Buffer.from(req.wire);
      wire[2] |= 0x80;
      return { wire, rcode: 0, origin: 'synthesized' };
    };
    if (!held) return Promise.resolve(reply());
    return new Promise((resolve) => waiting.push(() => resolve(reply())));
  };
  return { h, release: () => waiting.splice(0).forEach((f) => f()) };
}
