// The SvcParam walker (lib/dns/records.ts SvcParamWalker) and its two users, readAnswer and the
// answer guard's rewrite: exact fields on a known RDATA, each refusal with its offset, the same
// params and hints as an independent codec (lib/sandbox/svcb.ts) on random valid RDATA, only
// DnsFormatError (never anything else, never a read past the RDATA) on random and mutated RDATA,
// and readAnswer and the guard seeing the same hint addresses in random replies.
// Seeded (DNS_FUZZ_SEED or FUZZ_SEED replays a run); the seed is in every failure message.
import t from 'tap';
import ipaddr from 'ipaddr.js';
import { SvcParamWalker, SVC_PRIORITY_ALIAS_MODE } from '../../lib/dns/records';
import { DnsFormatError } from '../../lib/dns/errors';
import { readAnswer } from '../../lib/dns/answer';
import { stripAddresses } from '../../lib/plugins/guard/rewrite';
import { TYPE, CLASS, SVCPARAM } from '../../lib/dns/constants';
import { encodeSvcb, decodeSvcb, type SvcbData } from '../../lib/sandbox/svcb';
import { testSeed, prng, randomBytes } from '../prng';
import { header, question, rawName, rr, ip4, svcRdata } from './helpers';

const SEED = testSeed(0x5c6b, 'DNS_FUZZ_SEED');

interface Param {
  key: number;
  paramAt: number;
  value: number;
  valueEnd: number;
  hintSize: number;
}

/** Everything the walker yields for wire[rd, rdEnd), or the DnsFormatError it threw. */
function walk(wire: Buffer, rd: number, rdEnd: number): { priority: number; svcParams: number; params: Param[] } | DnsFormatError {
  const s = new SvcParamWalker();
  try {
    s.reset(wire, rd, rdEnd);
    const params: Param[] = [];
    while (s.next()) params.push({ key: s.key, paramAt: s.paramAt, value: s.value, valueEnd: s.valueEnd, hintSize: s.hintSize });
    return { priority: s.svcPriority, svcParams: s.svcParams, params };
  } catch (err) {
    if (err instanceof DnsFormatError) return err;
    throw err;
  }
}

t.test('fields of a known RDATA inside a message', async (t) => {
  const prefix = Buffer.from('garbage!'); // 8 octets before the RDATA
  const rd = svcRdata(1, rawName(['svc', 'example']), [
    [SVCPARAM.ALPN, Buffer.from('\x02h2', 'latin1')],
    [SVCPARAM.IPV4HINT, Buffer.concat([ip4('192.0.2.1'), ip4('192.0.2.2')])],
    [SVCPARAM.IPV6HINT, Buffer.alloc(16, 1)],
    [9999, Buffer.alloc(0)],
  ]);
  const wire = Buffer.concat([prefix, rd, Buffer.from([0xff, 0xff, 0xff])]);
  const s = new SvcParamWalker().reset(wire, 8, 8 + rd.length);
  t.equal(s.svcPriority, 1);
  t.equal(s.targetName, 10);
  t.equal(s.svcParams, 10 + 13, 'TargetName is 13 octets');
  const got: number[][] = [];
  while (s.next()) got.push([s.key, s.paramAt, s.value, s.valueEnd, s.hintSize]);
  t.same(got, [
    [SVCPARAM.ALPN, 23, 27, 30, 0],
    [SVCPARAM.IPV4HINT, 30, 34, 42, 4],
    [SVCPARAM.IPV6HINT, 42, 46, 62, 16],
    [9999, 62, 66, 66, 0],
  ]);
  t.equal(66, 8 + rd.length, 'the last value ends the RDATA');
  t.equal(s.next(), false, 'stays at the end');
  t.equal(new SvcParamWalker().reset(svcRdata(0, Buffer.from([0]), []), 0, 3).svcPriority, SVC_PRIORITY_ALIAS_MODE);
});

t.test('malformed RDATA: DnsFormatError naming the problem and its offset', async (t) => {
  const root = Buffer.from([0]);
  const cases: Array<[string, Buffer, RegExp, number]> = [
    ['too short', Buffer.from([0, 1]), /truncated SVCB RDATA/, 0],
    ['TargetName past RDATA', Buffer.from([0, 1, 3, 0x61]), /truncated name/, 2],
    ['cut SvcParam header', Buffer.concat([svcRdata(1, root, []), Buffer.from([0, 1, 0])]), /truncated SvcParam/, 3],
    ['value overruns', Buffer.concat([svcRdata(1, root, []), Buffer.from([0, 1, 0, 9, 1, 2])]), /SvcParam overruns RDATA/, 7],
    ['ipv4hint of 5', svcRdata(1, root, [[SVCPARAM.IPV4HINT, Buffer.alloc(5)]]), /bad ipv4hint length 5/, 7],
    ['empty ipv4hint', svcRdata(1, root, [[SVCPARAM.IPV4HINT, Buffer.alloc(0)]]), /bad ipv4hint length 0/, 7],
    ['ipv6hint of 4', svcRdata(1, root, [[SVCPARAM.IPV6HINT, Buffer.alloc(4)]]), /bad ipv6hint length 4/, 7],
    [
      'bad hint after a good param',
      svcRdata(1, root, [
        [SVCPARAM.PORT, Buffer.from([1, 187])],
        [SVCPARAM.IPV6HINT, Buffer.alloc(17)],
      ]),
      /bad ipv6hint length 17/,
      13,
    ],
  ];
  for (const [what, rd, re, offset] of cases) {
    // the RDATA is followed by bytes that would make a longer read succeed
    const wire = Buffer.concat([rd, Buffer.alloc(40, 0)]);
    const r = walk(wire, 0, rd.length);
    if (!(r instanceof DnsFormatError)) {
      t.fail(`${what}: accepted`);
      continue;
    }
    t.match(r.message, re, what);
    t.equal(r.offset, offset, `${what}: offset`);
  }
  t.throws(() => new SvcParamWalker().reset(Buffer.alloc(4), 0, 5), RangeError, 'an RDATA range outside the message is a caller error');
});

// ---- random valid RDATA against the sandbox's independent codec ----

function randomAddress(rand: () => number, kind: 4 | 6): string {
  return ipaddr.fromByteArray([...randomBytes(rand, kind === 4 ? 4 : 16)]).toString();
}

function randomSvcb(rand: () => number): SvcbData {
  const pick = () => rand() < 0.5;
  const d: SvcbData = { priority: rand() < 0.2 ? 0 : 1 + Math.floor(rand() * 65535), target: '.' };
  if (pick()) d.target = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => `l${i}x${Math.floor(rand() * 1e6)}`).join('.');
  if (pick()) d.alpn = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ['h2', 'h3', 'http/1.1'][Math.floor(rand() * 3)]);
  if (pick()) d.noDefaultAlpn = true;
  if (pick()) d.port = Math.floor(rand() * 65536);
  if (pick()) d.ipv4hint = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => randomAddress(rand, 4));
  if (pick()) d.ech = randomBytes(rand, Math.floor(rand() * 60)).toString('base64');
  if (pick()) d.ipv6hint = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => randomAddress(rand, 6));
  if (pick()) d.mandatory = ['alpn', 'port', 'ipv4hint', 'ipv6hint'].filter(() => pick()).filter((k) => k in d);
  return d;
}

t.test(`random valid RDATA: the sandbox codec's params and hints (seed ${SEED})`, async (t) => {
  const rand = prng(SEED);
  let hints = 0;
  let failures = 0;
  for (let i = 0; i < 3000 && failures < 5; i++) {
    const d = randomSvcb(rand);
    const rd = encodeSvcb(d);
    const pre = Math.floor(rand() * 20);
    const wire = Buffer.concat([randomBytes(rand, pre), rd, randomBytes(rand, Math.floor(rand() * 20))]);
    const r = walk(wire, pre, pre + rd.length);
    const want = decodeSvcb(rd);
    if (r instanceof DnsFormatError) {
      t.fail(`seed ${SEED} #${i}: refused a valid RDATA (${r.message}): ${rd.toString('hex')}`);
      failures++;
      continue;
    }
    const got: SvcbData = { priority: r.priority, target: want.target };
    let at = r.svcParams;
    for (const p of r.params) {
      if (p.paramAt !== at) throw new Error(`seed ${SEED} #${i}: param at ${p.paramAt}, want ${at}`);
      at = p.valueEnd;
      const v = wire.subarray(p.value, p.valueEnd);
      if (p.hintSize === 0) continue;
      const list: string[] = [];
      for (let o = 0; o < v.length; o += p.hintSize) list.push(ipaddr.fromByteArray([...v.subarray(o, o + p.hintSize)]).toString());
      if (p.key === SVCPARAM.IPV4HINT) got.ipv4hint = list;
      else got.ipv6hint = list;
      hints += list.length;
    }
    const wantKeys = (
      [
        [0, want.mandatory],
        [1, want.alpn],
        [2, want.noDefaultAlpn],
        [3, want.port],
        [4, want.ipv4hint],
        [5, want.ech],
        [6, want.ipv6hint],
      ] as const
    )
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k);
    const same =
      got.priority === want.priority &&
      JSON.stringify(got.ipv4hint) === JSON.stringify(want.ipv4hint) &&
      JSON.stringify(got.ipv6hint) === JSON.stringify(want.ipv6hint) &&
      at === pre + rd.length &&
      r.params.map((p) => p.key).join() === wantKeys.join();
    if (!same) {
      t.fail(`seed ${SEED} #${i}: walker ${JSON.stringify(got)} keys ${r.params.map((p) => p.key).join()}, codec ${JSON.stringify(want)}`);
      failures++;
    }
  }
  t.equal(failures, 0, `seed ${SEED}: every random RDATA walked like the codec decodes it`);
  t.ok(hints > 3000, `seed ${SEED}: ${hints} hint addresses compared`);
});

// ---- random and mutated RDATA: DnsFormatError or a consistent walk, bounded by the RDATA ----

function mutate(rand: () => number, rd: Buffer): Buffer {
  const b = Buffer.from(rd);
  switch (Math.floor(rand() * 5)) {
    case 0: // flip a few bytes
      for (let n = 1 + Math.floor(rand() * 3); n > 0 && b.length; n--) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      return b;
    case 1: // cut
      return b.subarray(0, Math.floor(rand() * b.length));
    case 2: // append
      return Buffer.concat([b, randomBytes(rand, 1 + Math.floor(rand() * 8))]);
    case 3: {
      // a length field of some param (or the octets where one might be) gets another value
      const at = 3 + Math.floor(rand() * Math.max(1, b.length - 4));
      if (at + 1 < b.length) b.writeUInt16BE(Math.floor(rand() * 40), at);
      return b;
    }
    default:
      return randomBytes(rand, Math.floor(rand() * 48));
  }
}

t.test(`random and mutated RDATA: only DnsFormatError, and never a read past the RDATA (seed ${SEED})`, async (t) => {
  const rand = prng(SEED ^ 0x3c3c);
  let accepted = 0;
  let refused = 0;
  let failures = 0;
  for (let i = 0; i < 20000 && failures < 5; i++) {
    const rd = mutate(rand, encodeSvcb(randomSvcb(rand)));
    const pre = Math.floor(rand() * 16);
    // the same RDATA followed by two different tails: a walk bounded by the RDATA cannot tell them apart
    const tailA = randomBytes(rand, 24);
    const tailB = Buffer.from(tailA.map((x) => x ^ 0xa5));
    const before = randomBytes(rand, pre);
    const wa = Buffer.concat([before, rd, tailA]);
    const wb = Buffer.concat([before, rd, tailB]);
    let ra, rb;
    try {
      ra = walk(wa, pre, pre + rd.length);
      rb = walk(wb, pre, pre + rd.length);
    } catch (err) {
      t.fail(`seed ${SEED} #${i}: ${(err as Error).name} escaped: ${(err as Error).message}; rdata ${rd.toString('hex')}`);
      failures++;
      continue;
    }
    const sa = ra instanceof DnsFormatError ? `${ra.message}@${ra.offset}` : JSON.stringify(ra);
    const sb = rb instanceof DnsFormatError ? `${rb.message}@${rb.offset}` : JSON.stringify(rb);
    if (sa !== sb) {
      t.fail(`seed ${SEED} #${i}: the bytes after the RDATA changed the walk: ${sa} / ${sb}; rdata ${rd.toString('hex')}`);
      failures++;
      continue;
    }
    if (ra instanceof DnsFormatError) {
      refused++;
      continue;
    }
    accepted++;
    // an accepted walk tiles the params exactly up to the end of the RDATA, hints whole
    let at = ra.svcParams;
    for (const p of ra.params) {
      const ok =
        p.paramAt === at &&
        p.value === p.paramAt + 4 &&
        p.valueEnd === p.value + wa.readUInt16BE(p.paramAt + 2) &&
        p.hintSize === (p.key === SVCPARAM.IPV4HINT ? 4 : p.key === SVCPARAM.IPV6HINT ? 16 : 0) &&
        (p.hintSize === 0 || (p.valueEnd > p.value && (p.valueEnd - p.value) % p.hintSize === 0));
      if (!ok) {
        t.fail(`seed ${SEED} #${i}: inconsistent param ${JSON.stringify(p)}; rdata ${rd.toString('hex')}`);
        failures++;
        break;
      }
      at = p.valueEnd;
    }
    if (at !== pre + rd.length) {
      t.fail(`seed ${SEED} #${i}: params end at ${at}, RDATA at ${pre + rd.length}`);
      failures++;
    }
  }
  t.equal(failures, 0, `seed ${SEED}: every walk refused with DnsFormatError or consistent`);
  t.ok(accepted > 2000 && refused > 2000, `seed ${SEED}: both outcomes exercised (${accepted} accepted, ${refused} refused)`);
});

// ---- both users: the same hints ----

const QNAME = rawName(['www', 'example', 'com']);

function httpsReply(rand: () => number, n: number): { wire: Buffer; rdatas: Buffer[] } {
  const rdatas: Buffer[] = [];
  const records: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const d = randomSvcb(rand);
    if (d.priority === 0) d.priority = 1; // readAnswer ignores AliasMode's hints; the guard does not
    const rd = encodeSvcb(d);
    rdatas.push(rd);
    records.push(rr(Buffer.from([0xc0, 12]), rand() < 0.5 ? TYPE.HTTPS : TYPE.SVCB, CLASS.IN, 300, rd));
  }
  return { wire: Buffer.concat([header(9, 0x8180, 1, n, 0, 0), question(QNAME, TYPE.HTTPS), ...records]), rdatas };
}

t.test(`random HTTPS/SVCB replies: readAnswer and the guard see the same hint addresses (seed ${SEED})`, async (t) => {
  const rand = prng(SEED ^ 0x7777);
  let compared = 0;
  let failures = 0;
  for (let i = 0; i < 1000 && failures < 5; i++) {
    const { wire } = httpsReply(rand, 1 + Math.floor(rand() * 4));
    const seen: string[] = [];
    // a predicate that guards nothing sees every hint value (the scan never stops early)
    const r = stripAddresses(wire, (buf, off, size) => {
      seen.push(`${off}/${size}`);
      return false;
    });
    const info = readAnswer(Buffer.from(wire), 'www.example.com', TYPE.HTTPS, 600);
    // readAnswer keeps one address per value: compare the distinct values at the offsets the guard saw
    const guardValues = [
      ...new Set(
        seen.map((s) => {
          const [off, size] = s.split('/').map(Number);
          return ipaddr.fromByteArray([...wire.subarray(off, off + size)]).toString();
        }),
      ),
    ].sort();
    const answerValues = info.addresses.map((x) => ipaddr.parse(x.address).toString()).sort();
    if (r !== null || JSON.stringify(guardValues) !== JSON.stringify(answerValues)) {
      t.fail(`seed ${SEED} #${i}: guard ${guardValues.join(' ')} / readAnswer ${answerValues.join(' ')}; ${wire.toString('hex')}`);
      failures++;
    }
    compared += answerValues.length;
  }
  t.equal(failures, 0, `seed ${SEED}: same hints`);
  t.ok(compared > 1000, `seed ${SEED}: ${compared} addresses compared`);
});

t.test(`mutated HTTPS replies: readAnswer and the guard throw only DnsFormatError (seed ${SEED})`, async (t) => {
  const rand = prng(SEED ^ 0x1234);
  let refused = 0;
  let failures = 0;
  for (let i = 0; i < 5000 && failures < 5; i++) {
    const { wire, rdatas } = httpsReply(rand, 1 + Math.floor(rand() * 3));
    // mutate inside one record's RDATA (keeping RDLENGTH), so the record framing stays and the SvcParams are what breaks
    const k = Math.floor(rand() * rdatas.length);
    const at = wire.length - rdatas.slice(k).reduce((n, b) => n + b.length + 12, 0) + 12;
    const m = mutate(rand, rdatas[k]);
    const rd = Buffer.alloc(rdatas[k].length);
    m.copy(rd, 0, 0, Math.min(m.length, rd.length));
    rd.copy(wire, at);
    for (const [who, run] of [
      ['readAnswer', () => readAnswer(Buffer.from(wire), 'www.example.com', TYPE.HTTPS, 600)],
      ['guard', () => stripAddresses(wire, (buf, off) => buf[off] === 127)],
    ] as const) {
      try {
        run();
      } catch (err) {
        if (err instanceof DnsFormatError) {
          refused++;
          continue;
        }
        t.fail(`seed ${SEED} #${i}: ${who}: ${(err as Error).name} escaped: ${(err as Error).message}; ${wire.toString('hex')}`);
        failures++;
      }
    }
  }
  t.equal(failures, 0, `seed ${SEED}: nothing but DnsFormatError`);
  t.ok(refused > 1000, `seed ${SEED}: ${refused} refusals`);
});
