// DNS over TCP to an upstream (RFC 7766): one connection per exchange, 2-byte length framing,
// one reply read, then the connection is closed. Used when the caller asks for TCP and when a
// UDP reply comes back truncated (TC=1). Reusing connections and pipelining queries on them
// (RFC 7766 6.2.1) would save a handshake per query; TCP is rare enough here not to need it yet.
import net from 'node:net';
import type { Endpoint } from '../config/types';
import { UpstreamError, endpointText } from './errors';
import type { RandomIds } from './ids';
import type { UpstreamStats } from './stats';
import { sameQuestion } from './wire';
import { FLAG, HEADER_SIZE } from '../dns/constants';

/** The length prefix is a u16 (RFC 1035 4.2.2): no DNS message over TCP exceeds this. */
export const MAX_TCP_MESSAGE = 0xffff;

export class TcpClient {
  /** exchanges in flight, each with the function that ends it */
  private readonly open = new Map<net.Socket, (err: Error) => void>();
  private closed = false;

  constructor(
    private readonly ids: RandomIds,
    private readonly stats: UpstreamStats,
  ) {}

  /**
   * Send `query` (copied, never changed) with a fresh random ID and resolve with the reply (still
   * carrying our ID). `timeoutMs` bounds the connect, and then separately the wait for the reply.
   */
  query(query: Buffer, qEnd: number, server: Endpoint, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new UpstreamError('CLOSED', 'upstream pool is closed'));
    if (query.length > MAX_TCP_MESSAGE) {
      return Promise.reject(new UpstreamError('BAD_QUERY', `query of ${query.length} bytes does not fit a TCP frame`));
    }
    const id = this.ids.take();
    const frame = Buffer.allocUnsafe(2 + query.length);
    frame.writeUInt16BE(query.length, 0);
    query.copy(frame, 2);
    frame.writeUInt16BE(id, 2);
    const wire = frame.subarray(2);
    const where = endpointText(server);

    return new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect({ host: server.host, port: server.port, family: server.family, noDelay: true });
      let done = false;
      let chunks: Buffer[] = [];
      let have = 0;
      let phase = 'connect';

      const finish = (err: Error | null, reply?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.open.delete(socket);
        socket.destroy();
        if (err) reject(err);
        else resolve(reply!);
      };
      const fail = (code: 'TCP_FAILED' | 'BAD_REPLY', message: string) => {
        this.stats.tcpErrors++;
        finish(new UpstreamError(code, `${where} over TCP: ${message}`));
      };
      const arm = () =>
        setTimeout(() => {
          this.stats.timeouts++;
          finish(new UpstreamError('TIMEOUT', `${where} over TCP: no ${phase === 'connect' ? 'connection' : 'reply'} within ${timeoutMs} ms`));
        }, timeoutMs);
      let timer = arm();
      this.open.set(socket, (err) => finish(err));

      socket.once('connect', () => {
        phase = 'reply';
        clearTimeout(timer);
        timer = arm();
        this.stats.sent++;
        socket.write(frame);
      });
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        have += chunk.length;
        if (have < 2) return;
        if (chunks.length > 1) chunks = [Buffer.concat(chunks, have)];
        const buf = chunks[0];
        const len = buf.readUInt16BE(0);
        if (len < HEADER_SIZE) return fail('BAD_REPLY', `reply length ${len} is shorter than a DNS header`);
        if (have < 2 + len) return; // more chunks to come; at most 64 KiB are ever buffered
        const reply = buf.subarray(2, 2 + len);
        if (reply.readUInt16BE(0) !== id) return fail('BAD_REPLY', 'reply ID differs from the query ID');
        if ((reply.readUInt16BE(2) & FLAG.QR) === 0) return fail('BAD_REPLY', 'reply has QR=0');
        if (!sameQuestion(wire, qEnd, reply)) return fail('BAD_REPLY', 'reply question differs from the query');
        this.stats.accepted++;
        // Trailing bytes (a second message) are ignored: we sent one query.
        finish(null, Buffer.from(reply));
      });
      socket.on('error', (err) => fail('TCP_FAILED', `${phase} failed: ${err.message}`));
      socket.on('close', () => fail('TCP_FAILED', `connection closed after ${have} bytes, before a full reply`));
    });
  }

  /** Abort every TCP exchange in flight (they reject with CLOSED). */
  close(): void {
    this.closed = true;
    for (const end of [...this.open.values()]) {
      end(new UpstreamError('CLOSED', 'upstream pool closed while the query was in flight'));
    }
  }
}
