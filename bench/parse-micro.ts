// Micro-benchmark of the request path's wire parsing (parseQuery, readAnswer, the cache's
// scanReply, the answer guard's scan) on fixed messages: `node dist/bench/parse-micro.js [dist-dir]`. Compare two builds by
// passing another build's dist directory (e.g. main's). Not a test: prints ns per call.
import path from 'node:path';
import * as packet from 'dns-packet';

const dist = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
/* eslint-disable @typescript-eslint/no-require-imports -- the build to measure is chosen at run time */
const { parseQuery } = require(path.join(dist, 'lib/dns/query.js')) as typeof import('../lib/dns/query');
const { readAnswer } = require(path.join(dist, 'lib/dns/answer.js')) as typeof import('../lib/dns/answer');
const { scanReply } = require(path.join(dist, 'lib/plugins/cache/wire.js')) as typeof import('../lib/plugins/cache/wire');
const { stripAddresses } = require(path.join(dist, 'lib/plugins/guard/rewrite.js')) as typeof import('../lib/plugins/guard/rewrite');
/* eslint-enable @typescript-eslint/no-require-imports */

const q = packet.encode({
  type: 'query',
  id: 1,
  flags: packet.RECURSION_DESIRED,
  questions: [{ name: 'www.example.com', type: 'A', class: 'IN' }],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as unknown as packet.Answer],
});
// compressed CNAME + 3 addresses + OPT, as upstreams send it
const hdr = Buffer.from('000181800001000400000001', 'hex');
const qn = Buffer.from('03777777076578616d706c6503636f6d0000010001', 'hex');
const rr = (owner: string, type: number, ttl: number, rdata: Buffer) => {
  const f = Buffer.alloc(10);
  f.writeUInt16BE(type, 0);
  f.writeUInt16BE(1, 2);
  f.writeUInt32BE(ttl, 4);
  f.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([Buffer.from(owner, 'hex'), f, rdata]);
};
const reply = Buffer.concat([
  hdr,
  qn,
  rr('c00c', 5, 300, Buffer.from('0563646e3031c010', 'hex')),
  rr('c02d', 1, 60, Buffer.from([192, 0, 2, 1])),
  rr('c02d', 1, 60, Buffer.from([192, 0, 2, 2])),
  rr('c02d', 1, 60, Buffer.from([192, 0, 2, 3])),
  Buffer.from('0000291000000000000000', 'hex').subarray(0, 11),
]);
// HTTPS reply: one ServiceMode record with alpn, 2 ipv4hints and 1 ipv6hint
const https = Buffer.concat([
  Buffer.from('000181800001000100000000', 'hex'),
  Buffer.from('03777777076578616d706c6503636f6d0000410001', 'hex'),
  rr('c00c', 65, 300, Buffer.from('000100' + '0001000302683200040008c0000201c0000202' + '0006001020010db8000000000000000000000001', 'hex')),
]);

// CPU time (not wall time: the machine may be shared), best of 7 batches after a warm-up.
function time(what: string, n: number, fn: () => unknown): number {
  for (let i = 0; i < n; i++) fn(); // warm up
  let best = Infinity;
  for (let b = 0; b < 7; b++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, ((c.user + c.system) * 1000) / n);
  }
  console.log(`${what.padEnd(17)} ${best.toFixed(0).padStart(6)} ns/call`);
  return best;
}

const N = Number(process.env.N ?? 200_000);
const copy = Buffer.from(reply);
const info = readAnswer(Buffer.from(reply), 'www.example.com', 1, 3600);
if (info.addresses.length !== 3) throw new Error(`fixture: ${info.addresses.length} addresses`);
console.log(`build ${dist}`);
time('parseQuery', N, () => parseQuery(q));
time('readAnswer', N, () => {
  reply.copy(copy);
  return readAnswer(copy, 'www.example.com', 1, 3600);
});
time('scanReply', N, () => scanReply(reply));
const httpsCopy = Buffer.from(https);
const hinted = readAnswer(Buffer.from(https), 'www.example.com', 65, 3600);
if (hinted.addresses.length !== 3) throw new Error(`fixture: ${hinted.addresses.length} hint addresses`);
time('readAnswer https', N, () => {
  https.copy(httpsCopy);
  return readAnswer(httpsCopy, 'www.example.com', 65, 3600);
});
const none = () => false;
time('guard scan', N, () => stripAddresses(reply, none));
time('guard https', N, () => stripAddresses(https, none));
