// Removing guarded addresses from reply bytes: records removed, counts fixed, names still valid
// after re-compression (decoded with dns-packet), SVCB/HTTPS hints filtered, untouched when clean.
import t from 'tap';
import ipaddr from 'ipaddr.js';
import * as packet from 'dns-packet';
import { stripAddresses, type Guarded } from '../../lib/plugins/guard/rewrite';
import { AnswerGuard } from '../../lib/plugins/guard/ranges';
import { readAnswer } from '../../lib/dns/answer';
import { DnsFormatError } from '../../lib/dns/errors';
import { decodeSvcb } from '../../lib/sandbox/svcb';
import { prng } from '../dns/helpers';

const g = new AnswerGuard([{ cidr: '10.0.0.0/8' }], []);
const guarded: Guarded = (buf, off, size) => g.check(buf, off, size) !== null;

const T = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, SVCB: 64, HTTPS: 65 };

/** A test-side encoder with its own name compression, so the input really is compressed. */
class Msg {
  private parts: Buffer[] = [];
  private len = 12;
  private names = new Map<string, number>();
  private counts = [0, 0, 0, 0];

  constructor(
    private readonly flags = 0x8180,
    private readonly compress = true,
  ) {}

  private push(b: Buffer): void {
    this.parts.push(b);
    this.len += b.length;
  }

  /** The wire form of `name` as if written at offset `at`, registering its suffixes. */
  name(name: string, at: number, compress = this.compress): Buffer {
    const labels = name === '' ? [] : name.split('.');
    const out: Buffer[] = [];
    let off = at;
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).join('.').toLowerCase();
      const ptr = compress ? this.names.get(key) : undefined;
      if (ptr !== undefined) {
        out.push(Buffer.from([0xc0 | (ptr >> 8), ptr & 0xff]));
        return Buffer.concat(out);
      }
      if (compress) this.names.set(key, off);
      const l = Buffer.from(labels[i], 'latin1');
      out.push(Buffer.from([l.length]), l);
      off += l.length + 1;
    }
    out.push(Buffer.from([0]));
    return Buffer.concat(out);
  }

  question(name: string, type: number): this {
    this.push(this.name(name, this.len));
    this.push(Buffer.from([type >> 8, type & 255, 0, 1]));
    this.counts[0]++;
    return this;
  }

  /** rdata: bytes, or a function of its own start offset (to compress names inside it). */
  rr(section: 1 | 2 | 3, name: string, type: number, rdata: Buffer | ((at: number) => Buffer), ttl = 300, klass = 1): this {
    this.push(this.name(name, this.len));
    const rdAt = this.len + 10;
    const rd = typeof rdata === 'function' ? rdata(rdAt) : rdata;
    const f = Buffer.alloc(10);
    f.writeUInt16BE(type, 0);
    f.writeUInt16BE(klass, 2);
    f.writeUInt32BE(ttl, 4);
    f.writeUInt16BE(rd.length, 8);
    this.push(f);
    this.push(rd);
    this.counts[section]++;
    return this;
  }

  nameRdata(name: string, prefix: Buffer = Buffer.alloc(0), compress = this.compress): (at: number) => Buffer {
    return (at) => Buffer.concat([prefix, this.name(name, at + prefix.length, compress)]);
  }

  opt(): this {
    return this.rr(3, '', T.OPT, Buffer.alloc(0), 0, 1232);
  }

  wire(counts?: number[]): Buffer {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(0x1234, 0);
    h.writeUInt16BE(this.flags, 2);
    (counts ?? this.counts).forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
    return Buffer.concat([h, ...this.parts]);
  }
}

function ip(s: string): Buffer {
  return Buffer.from(ipaddr.parse(s).toByteArray());
}

function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 255]);
}

function svc(priority: number, target: string, params: [number, Buffer][]): Buffer {
  const t = target === '' ? Buffer.from([0]) : Buffer.concat([...target.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  return Buffer.concat([u16(priority), t, ...params.flatMap(([k, v]) => [u16(k), u16(v.length), v])]);
}

type Rec = { name: string; type: string; data: unknown };
function records(p: packet.Packet, section: 'answers' | 'authorities' | 'additionals'): Rec[] {
  return (p[section] ?? []).map((r) => {
    const x = r as { name: string; type: string; data?: unknown };
    return { name: x.name, type: x.type, data: Buffer.isBuffer(x.data) ? x.data.toString('hex') : x.data };
  });
}

t.test('a mix: the guarded A record goes, the public one stays, counts follow', async (t) => {
  const wire = new Msg().question('x.example.com', T.A).rr(1, 'x.example.com', T.A, ip('169.254.169.254')).rr(1, 'x.example.com', T.A, ip('198.18.0.10')).opt().wire();
  const s = stripAddresses(wire, guarded)!;
  t.ok(s, 'something was removed');
  t.equal(s.records, 1);
  t.equal(s.hints, 0);
  const p = packet.decode(s.wire);
  t.same(records(p, 'answers'), [{ name: 'x.example.com', type: 'A', data: '198.18.0.10' }]);
  t.equal(p.additionals?.length, 1, 'OPT kept');
  t.equal(s.wire.readUInt16BE(6), 1, 'ANCOUNT');
  t.equal(s.wire.readUInt16BE(10), 1, 'ARCOUNT');
  t.equal(s.wire.readUInt16BE(0), 0x1234, 'ID kept');
  t.ok(s.wire.length < wire.length, 'smaller');
  t.same(
    readAnswer(Buffer.from(s.wire), 'x.example.com', 1, 86400).addresses.map((a) => a.address),
    ['198.18.0.10'],
  );
});

t.test('nothing guarded: null, the reply is left alone', async (t) => {
  const wire = new Msg().question('x.example.com', T.A).rr(1, 'x.example.com', T.A, ip('198.18.0.10')).wire();
  const copy = Buffer.from(wire);
  t.equal(stripAddresses(wire, guarded), null);
  t.same(wire, copy);
});

t.test('CNAME chain: records pointing into the CNAME target keep valid names', async (t) => {
  const m = new Msg().question('www.example.com', T.A);
  m.rr(1, 'www.example.com', T.CNAME, m.nameRdata('edge.cdn.example.net'))
    .rr(1, 'edge.cdn.example.net', T.A, ip('127.0.0.1'))
    .rr(1, 'edge.cdn.example.net', T.A, ip('198.18.0.11'))
    .rr(2, 'cdn.example.net', T.NS, m.nameRdata('ns1.cdn.example.net'))
    .rr(3, 'ns1.cdn.example.net', T.A, ip('10.1.2.3'))
    .rr(3, 'ns1.cdn.example.net', T.AAAA, ip('2001:db8::53'));
  const wire = m.opt().wire();
  const before = packet.decode(wire);
  const s = stripAddresses(wire, guarded)!;
  t.equal(s.records, 2, 'the loopback A and the denyCIDRs glue');
  const p = packet.decode(s.wire);
  t.same(records(p, 'answers'), [
    { name: 'www.example.com', type: 'CNAME', data: 'edge.cdn.example.net' },
    { name: 'edge.cdn.example.net', type: 'A', data: '198.18.0.11' },
  ]);
  t.same(records(p, 'authorities'), records(before, 'authorities'), 'NS (compressed rdata) intact');
  t.same(
    records(p, 'additionals').map((r) => r.type),
    ['AAAA', 'OPT'],
  );
  t.same([s.wire.readUInt16BE(6), s.wire.readUInt16BE(8), s.wire.readUInt16BE(10)], [2, 1, 2]);
  const info = readAnswer(Buffer.from(s.wire), 'www.example.com', 1, 86400);
  t.same(info.chain, ['www.example.com', 'edge.cdn.example.net']);
  t.same(
    info.addresses.map((a) => a.address),
    ['198.18.0.11'],
  );
});

t.test('a later name that pointed into a removed record is written again', async (t) => {
  // b.other.org is first written in full as the owner of the removed record.
  const wire = new Msg()
    .question('a.example.com', T.A)
    .rr(1, 'b.other.org', T.A, ip('127.0.0.2'))
    .rr(1, 'b.other.org', T.A, ip('198.18.0.1'))
    .rr(1, 'c.b.other.org', T.AAAA, ip('2001:db8::1'))
    .wire();
  const s = stripAddresses(wire, guarded)!;
  t.same(records(packet.decode(s.wire), 'answers'), [
    { name: 'b.other.org', type: 'A', data: '198.18.0.1' },
    { name: 'c.b.other.org', type: 'AAAA', data: '2001:db8::1' },
  ]);
  // every pointer goes backwards to a label start that exists in the output
  t.doesNotThrow(() => readAnswer(Buffer.from(s.wire), 'a.example.com', 1, 86400));
});

t.test('SOA, MX and SRV names survive the rewrite; SRV is written uncompressed', async (t) => {
  const m2 = new Msg().question('mail.example.com', T.MX);
  m2.rr(1, 'mail.example.com', T.A, ip('0.0.0.0'))
    .rr(1, 'mail.example.com', T.MX, m2.nameRdata('mx.example.com', u16(10)))
    .rr(1, '_sip._tcp.example.com', T.SRV, m2.nameRdata('sip.example.com', Buffer.from([0, 1, 0, 2, 0x13, 0xc4])))
    .rr(2, 'example.com', T.SOA, (at) => {
      const mname = m2.name('ns.example.com', at);
      return Buffer.concat([mname, m2.name('hostmaster.example.com', at + mname.length), Buffer.alloc(20, 1)]);
    });
  const wire = m2.wire();
  const before = packet.decode(wire);
  const s = stripAddresses(wire, guarded)!;
  t.equal(s.records, 1);
  const p = packet.decode(s.wire);
  t.same(records(p, 'answers'), records(before, 'answers').slice(1));
  t.same(records(p, 'authorities'), records(before, 'authorities'));
  // the SRV target holds no pointer in the output
  const srvAt = s.wire.indexOf(Buffer.from([0, 1, 0, 2, 0x13, 0xc4]));
  t.same(s.wire.subarray(srvAt + 6, srvAt + 6 + 17), Buffer.concat([Buffer.from('\x03sip\x07example\x03com\x00', 'latin1')]));
});

t.test('mixed case in names is kept byte for byte', async (t) => {
  const wire = new Msg().question('WwW.ExAmPlE.cOm', T.A).rr(1, 'WwW.ExAmPlE.cOm', T.A, ip('127.0.0.1')).rr(1, 'WwW.ExAmPlE.cOm', T.A, ip('198.18.0.3')).wire();
  const s = stripAddresses(wire, guarded)!;
  t.equal(packet.decode(s.wire).answers?.[0].name, 'WwW.ExAmPlE.cOm');
  t.ok(s.wire.subarray(12, 33).equals(wire.subarray(12, 33)), 'question bytes unchanged');
  t.equal(s.wire.readUInt16BE(6), 1, 'ANCOUNT');
});

t.test('AAAA: IPv4-mapped guarded forms go, ordinary IPv6 stays', async (t) => {
  const wire = new Msg()
    .question('v6.example.com', T.AAAA)
    .rr(1, 'v6.example.com', T.AAAA, ip('::ffff:169.254.169.254'))
    .rr(1, 'v6.example.com', T.AAAA, ip('fe80::1'))
    .rr(1, 'v6.example.com', T.AAAA, ip('2001:db8::10'))
    .wire();
  const s = stripAddresses(wire, guarded)!;
  t.equal(s.records, 2);
  t.same(
    records(packet.decode(s.wire), 'answers').map((r) => r.data),
    ['2001:db8::10'],
  );
});

t.test('HTTPS hints: guarded values go, other params stay; an emptied hint key goes', async (t) => {
  const rd = svc(1, '', [
    [1, Buffer.from('\x02h2', 'latin1')],
    [4, Buffer.concat([ip('169.254.169.254'), ip('198.18.0.5')])],
    [6, ip('::ffff:127.0.0.1')],
  ]);
  const wire = new Msg().question('svc.example.com', T.HTTPS).rr(1, 'svc.example.com', T.HTTPS, rd).opt().wire();
  const s = stripAddresses(wire, guarded)!;
  t.equal(s.records, 0);
  t.equal(s.hints, 2);
  const p = packet.decode(s.wire);
  const d = decodeSvcb((p.answers![0] as unknown as { data: Buffer }).data);
  t.same(d.ipv4hint, ['198.18.0.5']);
  t.equal(d.ipv6hint, undefined, 'ipv6hint removed: an empty hint is not valid');
  t.same(d.alpn, ['h2']);
  t.equal(d.priority, 1);
  t.same(
    readAnswer(Buffer.from(s.wire), 'svc.example.com', 65, 86400).addresses.map((a) => a.address),
    ['198.18.0.5'],
  );
});

t.test('SVCB whose mandatory hint key would be emptied is dropped whole', async (t) => {
  const rd = svc(1, 'pool.example.net', [
    [0, u16(4)],
    [4, ip('127.0.0.1')],
  ]);
  const keep = svc(2, 'pool.example.net', [[4, ip('198.18.0.6')]]);
  const wire = new Msg().question('_dns.example.com', T.SVCB).rr(1, '_dns.example.com', T.SVCB, rd).rr(1, '_dns.example.com', T.SVCB, keep).wire();
  const s = stripAddresses(wire, guarded)!;
  t.equal(s.hints, 1);
  const p = packet.decode(s.wire);
  t.equal(p.answers?.length, 1);
  t.same(decodeSvcb((p.answers![0] as unknown as { data: Buffer }).data).ipv4hint, ['198.18.0.6']);
});

t.test('a truncated (TC) reply that stops early keeps what it had', async (t) => {
  const m = new Msg(0x8380).question('tc.example.com', T.A).rr(1, 'tc.example.com', T.A, ip('127.0.0.1')).rr(1, 'tc.example.com', T.A, ip('198.18.0.7'));
  const wire = m.wire([1, 5, 0, 0]); // claims 5 answers, holds 2
  const s = stripAddresses(wire, guarded)!;
  t.equal(s.wire.readUInt16BE(6), 1);
  t.same(
    records(packet.decode(s.wire), 'answers').map((r) => r.data),
    ['198.18.0.7'],
  );
});

t.test('malformed replies throw DnsFormatError (the plugin fails closed)', async (t) => {
  const wire = new Msg().question('x.example.com', T.A).rr(1, 'x.example.com', T.A, ip('127.0.0.1')).wire();
  t.throws(() => stripAddresses(wire.subarray(0, wire.length - 2), guarded), DnsFormatError);
  const bad = Buffer.from(wire);
  bad.writeUInt16BE(3, 6); // three answers claimed, no TC
  t.throws(() => stripAddresses(bad, guarded), DnsFormatError);
  t.throws(() => stripAddresses(Buffer.alloc(5), guarded), DnsFormatError);
});

const SEED = Number(process.env.GUARD_SEED ?? 0x9e3779b9);
t.test(`random compressed replies (seed ${SEED}): output decodes to the input minus guarded records`, async (t) => {
  const rand = prng(SEED);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const names = ['a.example.com', 'b.example.com', 'x.a.example.com', 'cdn.example.net', 'EXAMPLE.com', 'z.y.x.example.org'];
  const v4 = ['198.18.0.1', '198.18.0.2', '127.0.0.1', '169.254.169.254', '10.9.8.7', '203.0.113.5', '224.0.0.1'];
  const v6 = ['2001:db8::1', 'fe80::1', '::1', '::ffff:10.0.0.1', '::ffff:198.18.0.1', 'ff02::fb'];
  let failures = 0;
  for (let n = 0; n < 300; n++) {
    const m = new Msg(0x8180, rand() < 0.8).question(pick(names), T.A);
    const total = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < total; i++) {
      const section = (1 + Math.floor(rand() * 3)) as 1 | 2 | 3;
      const kind = rand();
      if (kind < 0.4) m.rr(section, pick(names), T.A, ip(pick(v4)));
      else if (kind < 0.7) m.rr(section, pick(names), T.AAAA, ip(pick(v6)));
      else if (kind < 0.85) m.rr(section, pick(names), T.CNAME, m.nameRdata(pick(names)));
      else m.rr(section, pick(names), T.TXT, Buffer.from('\x03abc', 'latin1'));
    }
    const wire = m.wire();
    const before = packet.decode(wire);
    let s;
    try {
      s = stripAddresses(wire, guarded);
    } catch (e) {
      failures++;
      t.fail(`seed ${SEED} packet ${n}: ${(e as Error).message}`);
      continue;
    }
    const keep = (r: Rec) => !((r.type === 'A' || r.type === 'AAAA') && g.check(ip(r.data as string), 0, r.type === 'A' ? 4 : 16));
    const want = (['answers', 'authorities', 'additionals'] as const).map((sec) => records(before, sec).filter(keep));
    const removed = (['answers', 'authorities', 'additionals'] as const).reduce((a, sec) => a + records(before, sec).length, 0) - want.flat().length;
    if (removed === 0) {
      if (s !== null) t.fail(`seed ${SEED} packet ${n}: changed a clean reply`);
      continue;
    }
    if (!s) {
      failures++;
      t.fail(`seed ${SEED} packet ${n}: nothing removed, ${removed} expected`);
      continue;
    }
    const after = packet.decode(s.wire);
    const got = (['answers', 'authorities', 'additionals'] as const).map((sec) => records(after, sec));
    if (JSON.stringify(got) !== JSON.stringify(want) || s.records !== removed) {
      failures++;
      t.same(got, want, `seed ${SEED} packet ${n}`);
    }
    if (s.wire.length > wire.length) t.fail(`seed ${SEED} packet ${n}: grew from ${wire.length} to ${s.wire.length}`);
  }
  t.equal(failures, 0, `seed ${SEED}`);
});
