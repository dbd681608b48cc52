// The sock_diag request and reply codec, without a kernel: orientation per transport, the
// cookie, the reply's port and cgroup attribute, truncated input.
import t from 'tap';
import { encodeRequest, decodeReplies, SOCK_DIAG_BY_FAMILY, INET_DIAG_CGROUP_ID } from '../../lib/identity/cgroup/sockdiag';

const q = { family: 4 as const, peer: { address: '127.0.0.5', port: 40000 }, local: { address: '127.0.0.1', port: 53 } };

t.test('UDP: src = our end, dst = the querier (udp_dump_one swaps them); TCP the other way', async (t) => {
  const u = encodeRequest({ ...q, transport: 'udp' }, 7);
  t.equal(u.length, 16 + 56);
  t.equal(u.readUInt16LE(4), SOCK_DIAG_BY_FAMILY);
  t.equal(u.readUInt16LE(6), 1, 'NLM_F_REQUEST only: an exact lookup, not a dump');
  t.equal(u.readUInt32LE(8), 7, 'sequence number');
  t.same([u[16], u[17]], [2, 17], 'AF_INET, IPPROTO_UDP');
  t.same([u.readUInt16BE(24), u.readUInt16BE(26)], [53, 40000], 'sport = ours, dport = querier');
  t.same([...u.subarray(28, 32)], [127, 0, 0, 1]);
  t.same([...u.subarray(44, 48)], [127, 0, 0, 5]);
  t.ok(u.subarray(64, 72).equals(Buffer.alloc(8, 0xff)), 'INET_DIAG_NOCOOKIE');
  const tc = encodeRequest({ ...q, transport: 'tcp' }, 8);
  t.equal(tc[17], 6, 'IPPROTO_TCP');
  t.same([tc.readUInt16BE(24), tc.readUInt16BE(26)], [40000, 53], 'sport = querier');
  t.same([...tc.subarray(28, 32)], [127, 0, 0, 5]);
});

t.test('IPv6 addresses fill all 16 bytes', async (t) => {
  const r = encodeRequest({ transport: 'udp', family: 6, peer: { address: '2001:db8::5', port: 1 }, local: { address: '::1', port: 53 } }, 1);
  t.equal(r[16], 10, 'AF_INET6');
  t.equal(r.subarray(28, 44).toString('hex'), '00000000000000000000000000000001');
  t.equal(r.subarray(44, 60).toString('hex'), '20010db8000000000000000000000005');
});

function reply(seq: number, sport: number, id?: bigint, family = 2): Buffer {
  const attrs: Buffer[] = [];
  const mark = Buffer.alloc(8);
  mark.writeUInt16LE(8, 0);
  mark.writeUInt16LE(15, 2); // INET_DIAG_MARK first
  attrs.push(mark);
  if (id !== undefined) {
    const a = Buffer.alloc(12);
    a.writeUInt16LE(12, 0);
    a.writeUInt16LE(INET_DIAG_CGROUP_ID, 2);
    a.writeBigUInt64LE(id, 4);
    attrs.push(a);
  }
  const body = Buffer.concat([Buffer.alloc(72), ...attrs]);
  body[0] = family;
  body.writeUInt16BE(sport, 4);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body]);
}

t.test('replies: port, cgroup id, errors, garbage', async (t) => {
  const err = Buffer.alloc(20);
  err.writeUInt32LE(20, 0);
  err.writeUInt16LE(2, 4);
  err.writeUInt32LE(9, 8);
  err.writeInt32LE(-2, 16);
  const out = decodeReplies(Buffer.concat([reply(3, 40000, 44n), reply(4, 53), err, reply(5, 1, 2n ** 63n + 5n, 10)]));
  t.same(
    out,
    [
      { seq: 3, error: 0, family: 2, sport: 40000, cgroupId: 44n },
      { seq: 4, error: 0, family: 2, sport: 53 },
      { seq: 9, error: -2 },
      { seq: 5, error: 0, family: 10, sport: 1, cgroupId: 2n ** 63n + 5n },
    ],
    'an AF_INET6 reply to an AF_INET request is accepted (dual-stack client)',
  );
  const full = reply(3, 40000, 44n);
  for (let n = 0; n < full.length; n++) decodeReplies(full.subarray(0, n)); // never throws
  t.same(decodeReplies(full.subarray(0, 40)), [], 'a truncated message is not half-read');
});
