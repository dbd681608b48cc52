// NEWSETELEM bytes against what nft 1.0.6 sends (captured with strace -xx -e trace=sendmsg).
// Needs no root.
import t from 'tap';
import { prng, randomBytes, testSeed } from '../prng';
import { encodeElement, newSetElemMsg, setElemMsg, setElemOverhead, decodeSetElemMsg, commentUserdata, sanitizeComment, parseComment } from '../../lib/nft/netlink/setelem';
import { attr, be64Attr, nested, nlmsg, strAttr } from '../../lib/nft/netlink/encode';
import { parseMessages } from '../../lib/nft/netlink/decode';
import { encodeKey, decodeKey } from '../../lib/nft/keys';
import {
  NFPROTO_INET,
  NFTA_DATA_VALUE,
  NFTA_LIST_ELEM,
  NFTA_SET_ELEM_EXPIRATION,
  NFTA_SET_ELEM_KEY,
  NFTA_SET_ELEM_LIST_ELEMENTS,
  NFTA_SET_ELEM_LIST_SET,
  NFTA_SET_ELEM_LIST_TABLE,
  NFTA_SET_ELEM_TIMEOUT,
  NFTA_SET_ELEM_USERDATA,
  NFTNL_UDATA_SET_ELEM_COMMENT,
  NFT_MSG_DELSETELEM,
  NFT_MSG_DESTROYSETELEM,
  NFT_MSG_GETSETELEM,
  NFT_MSG_NEWSETELEM,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REQUEST,
  nftType,
} from '../../lib/nft/netlink/constants';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// nft add element inet dnswall allow4 { 10.244.1.6 . 198.51.100.9 timeout 60s expires 30s comment "api.example.com" }
// payload of NFTA_SET_ELEM_LIST_ELEMENTS (nla_len=72, NLA_F_NESTED|3)
const ALLOW4 = hex(`44000180 0c000400 0000000000 00ea60 0c000500 00000000000075 30
  10000180 0c000100 0af40106 c6336409 16000600 0010 6170692e6578616d706c652e636f6d00 0000`);
// nft add element inet dnswall allow4p { 10.244.1.6 . 198.51.100.9 . tcp . 443 timeout 60s expires 30s comment "api.example.com" }
const ALLOW4P = hex(`4c000180 0c000400 00000000000 0ea60 0c000500 0000000000007530
  18000180 14000100 0af40106 c6336409 06000000 01bb0000 16000600 0010 6170692e6578616d706c652e636f6d00 0000`);
// nft add element inet dnswall allow6p { fd00:10:244:1::6 . 2001:db8::9 . udp . 53 timeout 10s comment "ns.example.com" }
const ALLOW6P = hex(`58000180 0c000400 0000000000002710 30000180 2c000100
  fd000010 02440001 00000000 00000006 20010db8 00000000 00000000 00000009 11000000 00350000
  15000600 000f 6e732e6578616d706c652e636f6d00 000000`);

const v4 = (s: string) => Buffer.from(s.split('.').map(Number));
const v6 = (s: string) => {
  // tiny expander for the two test addresses
  const [a, b] = s.split('::');
  const head = a ? a.split(':') : [],
    tail = b ? b.split(':') : [];
  const groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
};

t.test('one element is byte-identical to nft (allow4, allow4p, allow6p)', async (t) => {
  const k4 = encodeKey({ set: 'allow4', source: Buffer.from([10, 244, 1, 6]), destination: Buffer.from([198, 51, 100, 9]) });
  t.same(encodeElement({ key: k4, timeoutMs: 60000, expirationMs: 30000, comment: 'api.example.com' }), ALLOW4);
  const k4p = encodeKey({ set: 'allow4p', source: Buffer.from([10, 244, 1, 6]), destination: Buffer.from([198, 51, 100, 9]), proto: 6, port: 443 });
  t.same(encodeElement({ key: k4p, timeoutMs: 60000, expirationMs: 30000, comment: 'api.example.com' }), ALLOW4P);
  const k6p = encodeKey({ set: 'allow6p', source: v6('fd00:10:244:1::6'), destination: v6('2001:db8::9'), proto: 17, port: 53 });
  t.same(encodeElement({ key: k6p, timeoutMs: 10000, comment: 'ns.example.com' }), ALLOW6P);
});

t.test('whole NEWSETELEM message matches nft except NFTA_SET_ELEM_LIST_SET_ID, which we do not send', async (t) => {
  // nlmsghdr from the same capture: type NFNL_SUBSYS_NFTABLES<<8|NFT_MSG_NEWSETELEM, flags NLM_F_REQUEST|NLM_F_CREATE
  const msg = newSetElemMsg(1, NFPROTO_INET, 'dnswall', 'allow4', [ALLOW4]);
  const expected = Buffer.concat([
    hex('74000000 0c0a 0104 01000000 00000000'), // len 116 (nft: 124 with SET_ID), host order (LE)
    hex('01000000'), // nfgenmsg: NFPROTO_INET, v0, res_id 0
    hex('0c000100 646e7377616c6c00'), // NFTA_SET_ELEM_LIST_TABLE "dnswall"
    hex('0b000200 616c6c6f773400 00'), // NFTA_SET_ELEM_LIST_SET "allow4" + pad
    hex('48000380'),
    ALLOW4, // NFTA_SET_ELEM_LIST_ELEMENTS
  ]);
  t.same(msg, expected);
});

t.test('decoding our own message gives back the element', async (t) => {
  const key = encodeKey({ set: 'allow6p', source: v6('fd00::1'), destination: v6('2001:db8::1'), proto: 6, port: 8443 });
  const [m] = parseMessages(newSetElemMsg(7, NFPROTO_INET, 'dnswall', 'allow6p', [encodeElement({ key, timeoutMs: 5000, expirationMs: 4000, comment: 'x.example.com' })]));
  const d = decodeSetElemMsg(m);
  t.equal(d.table, 'dnswall');
  t.equal(d.set, 'allow6p');
  t.same(d.elements, [{ key, timeoutMs: 5000, expirationMs: 4000, comment: 'x.example.com' }]);
  t.same(decodeKey('allow6p', key), { set: 'allow6p', source: v6('fd00::1'), destination: v6('2001:db8::1'), proto: 6, port: 8443 });
});

t.test('parseMessages skip: a message left out by its header, the ones around it kept whole', async (t) => {
  const el = (n: number) => [
    encodeElement({ key: encodeKey({ set: 'allow4', source: v4('192.0.2.1'), destination: v4(`198.51.100.${n}`) }), timeoutMs: 1000, comment: `n${n}.example` }),
  ];
  const withPid = (b: Buffer, pid: number) => (b.writeUInt32LE(pid, 12), b);
  const buf = Buffer.concat([
    withPid(newSetElemMsg(1, NFPROTO_INET, 'dnswall', 'allow4', el(1)), 100),
    withPid(newSetElemMsg(2, NFPROTO_INET, 'dnswall', 'allow4', el(2)), 200),
    withPid(newSetElemMsg(3, NFPROTO_INET, 'dnswall', 'allow4', el(3)), 100),
  ]);
  const seen: [number, number][] = [];
  const kept = parseMessages(buf, (type, pid) => (seen.push([type, pid]), pid === 200));
  t.same(
    seen.map(([, pid]) => pid),
    [100, 200, 100],
    'asked about every message, with its pid',
  );
  t.equal(seen[0][0], parseMessages(buf)[0].type, 'and its type');
  t.same(
    kept.map((m) => decodeSetElemMsg(m).elements[0].comment),
    ['n1.example', 'n3.example'],
    'the skipped one is left out, the others decode whole',
  );
  t.equal(parseMessages(buf).length, 3, 'without skip: all three');
});

t.test('comment userdata: libnftnl TLV, sanitized, bounded', async (t) => {
  t.same(commentUserdata('x'), Buffer.from([0, 2, 0x78, 0]));
  t.equal(sanitizeComment('a"b\\c d\x00é'), 'a?b?c?d??');
  const long = 'a'.repeat(200) + '.example.com';
  const s = sanitizeComment(long);
  t.equal(s.length, 128);
  t.ok(s.startsWith('~') && s.endsWith('a.example.com'));
  t.equal(parseComment(commentUserdata(long)), s);
  t.equal(parseComment(Buffer.from([0, 9, 0x41])), undefined, 'truncated TLV is ignored');
});

t.test('bad keys are refused with the field named', async (t) => {
  t.throws(() => encodeKey({ set: 'allow4', source: Buffer.alloc(16), destination: Buffer.alloc(4) }), /source must be 4 bytes/);
  t.throws(() => encodeKey({ set: 'allow4p', source: Buffer.alloc(4), destination: Buffer.alloc(4), proto: 6 }), /port/);
  t.throws(() => encodeKey({ set: 'allow4', source: Buffer.alloc(4), destination: Buffer.alloc(4), port: 1 }), /no proto\/port/);
  t.throws(() => encodeKey({ set: 'bogus' as never, source: Buffer.alloc(4), destination: Buffer.alloc(4) }), /unknown set/);
});

t.test('hostile replies never throw', async (t) => {
  const seed = testSeed(0x5eed);
  const rand = prng(seed);
  // random bytes behind a netlink header whose length is the datagram's, and mutated real messages
  const real = newSetElemMsg(7, NFPROTO_INET, 'dnswall', 'allow4p', [ALLOW4P, ALLOW4P]);
  let threw = 0,
    messages = 0,
    elements = 0;
  for (let i = 0; i < 2000; i++) {
    let b: Buffer;
    if (i % 2 === 0) {
      b = randomBytes(rand, Math.floor(rand() * 200));
      if (b.length >= 4) b.writeUInt32LE(b.length, 0);
    } else {
      b = Buffer.from(real);
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) b[16 + Math.floor(rand() * (b.length - 16))] = Math.floor(rand() * 256);
    }
    try {
      const ms = parseMessages(b);
      // a whole-datagram length field makes exactly one message once the header fits
      if (ms.length !== (b.length >= 16 ? 1 : 0)) t.fail(`seed ${seed} datagram ${i}: ${ms.length} messages from ${b.length} bytes`);
      for (const m of ms) {
        messages++;
        for (const e of decodeSetElemMsg(m).elements) {
          elements++;
          if (!Buffer.isBuffer(e.key) || e.key.length === 0) t.fail(`seed ${seed} datagram ${i}: element without a key`);
        }
      }
    } catch (e) {
      if (threw++ === 0) t.fail(`seed ${seed} datagram ${i} ${b.toString('hex')}: ${String(e)}`);
    }
  }
  t.equal(threw, 0, `2000 hostile datagrams, none threw (seed ${seed})`);
  t.ok(messages >= 1000, `${messages} messages decoded`);
  t.ok(elements > 0, `${elements} elements survived mutation, so the decoder walked real elements`);
});

// The set-element encoders write in one pass into one pooled buffer (they run per answer); the
// bytes must be those of the generic builders (nlmsg/strAttr/nested/attr, as libnftnl nests
// them), padding zeroed even where the pool held other bytes before.
t.test('one-pass set-element encoding equals the attribute builders (seeded)', async (t) => {
  const seed = testSeed(0x5e7e1);
  const rand = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  const sets = ['allow4', 'allow6', 'allow4p', 'allow6p', 'cgroup4', 'cgroup6', 'cgroup4p', 'cgroup6p'] as const;
  const srcLen = { allow4: 4, allow6: 16, allow4p: 4, allow6p: 16, cgroup4: 8, cgroup6: 8, cgroup4p: 8, cgroup6p: 8 };
  const names = ['dnswall', 'dw', 'a-much-longer-table-name', 'täble', 'allow4', 'x'];
  let mismatches = 0;
  for (let i = 0; i < 400; i++) {
    // dirty the pool so that unzeroed padding would show
    Buffer.allocUnsafe(Math.floor(rand() * 64) + 1).fill(0xa5);
    const set = pick(sets);
    const withPort = set.endsWith('p');
    const els: Buffer[] = [];
    const n = Math.floor(rand() * 6);
    for (let k = 0; k < n; k++) {
      const key = encodeKey({
        set,
        source: randomBytes(rand, srcLen[set]),
        destination: randomBytes(rand, set.endsWith('6') || set.endsWith('6p') ? 16 : 4),
        ...(withPort ? { proto: pick([6, 17]), port: Math.floor(rand() * 65536) } : {}),
      });
      const e = {
        key,
        ...(rand() < 0.8 ? { timeoutMs: Math.floor(rand() * 1e9) } : {}),
        ...(rand() < 0.5 ? { expirationMs: Math.floor(rand() * 1e6) } : {}),
        ...(rand() < 0.7 ? { comment: randomBytes(rand, Math.floor(rand() * 160)).toString('latin1') } : {}),
      };
      const got = encodeElement(e);
      const want = attr(
        NFTA_LIST_ELEM | NLA_F_NESTED,
        Buffer.concat([
          ...(e.timeoutMs !== undefined ? [be64Attr(NFTA_SET_ELEM_TIMEOUT, e.timeoutMs)] : []),
          ...(e.expirationMs !== undefined ? [be64Attr(NFTA_SET_ELEM_EXPIRATION, e.expirationMs)] : []),
          nested(NFTA_SET_ELEM_KEY, [attr(NFTA_DATA_VALUE, key)]),
          ...(e.comment
            ? [
                attr(
                  NFTA_SET_ELEM_USERDATA,
                  Buffer.concat([Buffer.from([NFTNL_UDATA_SET_ELEM_COMMENT, sanitizeComment(e.comment).length + 1]), Buffer.from(sanitizeComment(e.comment) + '\0', 'latin1')]),
                ),
              ]
            : []),
        ]),
      );
      if (!got.equals(want) && ++mismatches <= 3) t.same(got, want, `seed ${seed}: element ${JSON.stringify(e)}`);
      els.push(got);
    }
    const table = pick(names);
    const type = pick([NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM, NFT_MSG_DESTROYSETELEM, NFT_MSG_GETSETELEM]);
    const flags = pick([0, NLM_F_ACK, NLM_F_CREATE]);
    const seq = Math.floor(rand() * 2 ** 32);
    const got = setElemMsg(type, flags, seq, NFPROTO_INET, table, set, els);
    const want = nlmsg(nftType(type), NLM_F_REQUEST | flags, seq, NFPROTO_INET, [
      strAttr(NFTA_SET_ELEM_LIST_TABLE, table),
      strAttr(NFTA_SET_ELEM_LIST_SET, set),
      nested(NFTA_SET_ELEM_LIST_ELEMENTS, els),
    ]);
    if (!got.equals(want) && ++mismatches <= 6) t.same(got, want, `seed ${seed}: message ${type} ${flags} ${table} ${set} ${els.length} elements`);
    if (type === NFT_MSG_NEWSETELEM && flags === NLM_F_CREATE && !newSetElemMsg(seq, NFPROTO_INET, table, set, els).equals(want)) mismatches++;
    if (setElemOverhead(table, set) !== want.length - els.reduce((a, b) => a + b.length, 0) && ++mismatches <= 9) t.fail(`seed ${seed}: setElemOverhead(${table}, ${set})`);
  }
  t.equal(mismatches, 0, `seed ${seed}: 400 messages and their elements`);
  t.throws(() => setElemMsg(NFT_MSG_NEWSETELEM, 0, 1, NFPROTO_INET, 'dnswall', 'allow4', [Buffer.alloc(65532)]), /over the u16 limit/);
});
