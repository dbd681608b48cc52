// Synthesized responses: decoded by dns-packet, and the EDE option checked byte by byte.
import t from 'tap';
import { denyResponse, errorResponse, truncatedResponse, withId, readId, edeTextBytes } from '../../lib/dns/synth';
import { parseQuery, questionMatches } from '../../lib/dns/query';
import { RCODE, EDE, FLAG, TYPE } from '../../lib/dns/constants';
import { query, ednsQuery, packet } from './helpers';

const CD = 1 << 4;

// dns-packet decodes rcode and opcode, its type definitions do not list them
function decode(b: Buffer): packet.DecodedPacket & { rcode: string; opcode: string } {
  return packet.decode(b) as never;
}

function ednsOf(
  d: packet.Packet,
): { udpPayloadSize: number; flags: number; extendedRcode: number; ednsVersion: number; options: Array<{ code: number; data?: Buffer }> } | undefined {
  return (d.additionals ?? []).find((x) => x.type === 'OPT');
}

t.test('deny without EDNS: no OPT, question bytes exact', async (t) => {
  const w = query('wWw.ExAmple.COM', 'AAAA', { flags: packet.RECURSION_DESIRED | CD, id: 0xbeef });
  const q = parseQuery(w);
  const out = denyResponse(w, q, RCODE.NXDOMAIN, 'blocked by policy');
  t.equal(out.length, w.length, 'header + question only');
  t.ok(questionMatches(out, w, q), 'question bytes as the client sent them');
  const d = decode(out);
  t.equal(d.id, 0xbeef);
  t.equal(d.type, 'response');
  t.equal(d.rcode, 'NXDOMAIN');
  t.equal(d.opcode, 'QUERY');
  t.equal(d.flag_rd, true);
  t.equal(d.flag_ra, true);
  t.equal(d.flag_cd, true);
  t.equal(d.flag_aa, false);
  t.equal(d.flag_tc, false);
  t.equal(d.flag_ad, false);
  t.same(d.questions, [{ name: 'wWw.ExAmple.COM', type: 'AAAA', class: 'IN' }]);
  t.same([d.answers, d.authorities, d.additionals], [[], [], []]);
});

t.test('deny with EDNS: OPT 1232, DO echoed, EDE 18 with the text', async (t) => {
  const w = ednsQuery('x.example', 'A', 4096, packet.DNSSEC_OK);
  const q = parseQuery(w);
  const out = denyResponse(w, q, RCODE.REFUSED, 'denied: x.example');
  const d = decode(out);
  t.equal(d.rcode, 'REFUSED');
  t.equal(d.flag_rd, true);
  t.equal(d.flag_cd, false);
  const opt = ednsOf(d)!;
  t.equal(opt.udpPayloadSize, 1232);
  t.equal(opt.flags & packet.DNSSEC_OK, packet.DNSSEC_OK);
  t.equal(opt.extendedRcode, 0);
  t.equal(opt.ednsVersion, 0);
  t.equal(opt.options.length, 1);
  t.equal(opt.options[0].code, 15);
  // RFC 8914 §2: INFO-CODE (u16) then EXTRA-TEXT; our OPT is the last 11+4+2+text bytes
  const text = Buffer.from('denied: x.example');
  const tail = out.subarray(out.length - (11 + 6 + text.length));
  t.same(tail, Buffer.concat([Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 6 + text.length]), Buffer.from([0, 15, 0, 2 + text.length, 0, 18]), text]));
  const noDo = denyResponse(ednsQuery('x.example'), parseQuery(ednsQuery('x.example')), RCODE.NXDOMAIN, '');
  t.equal(ednsOf(decode(noDo))!.flags & packet.DNSSEC_OK, 0, 'DO clear when the client did not set it');
  t.same(noDo.subarray(noDo.length - 6), Buffer.from([0, 15, 0, 2, 0, EDE.PROHIBITED]), 'empty EXTRA-TEXT');
});

t.test('EDE text is cut at 200 bytes on a UTF-8 boundary', async (t) => {
  t.equal(edeTextBytes('a'.repeat(300)).length, 200);
  const cut = edeTextBytes('a'.repeat(199) + 'é' + 'b'); // é is 2 bytes at 199..200
  t.equal(cut.length, 199);
  t.equal(cut.toString('utf8'), 'a'.repeat(199));
  const w = ednsQuery('x.example');
  const out = denyResponse(w, parseQuery(w), RCODE.NXDOMAIN, '€'.repeat(100));
  const data = ednsOf(decode(out))!.options[0].data!;
  t.equal(data.length, 2 + 198);
  t.equal(data.subarray(2).toString('utf8'), '€'.repeat(66));
});

t.test('errorResponse with a parsed query', async (t) => {
  const w = ednsQuery('x.example', 'TXT');
  const q = parseQuery(w);
  const plain = decode(errorResponse(w, q, RCODE.SERVFAIL));
  t.equal(plain.rcode, 'SERVFAIL');
  t.same(ednsOf(plain)!.options, [], 'OPT without EDE when none is given');
  const withEde = errorResponse(w, q, RCODE.SERVFAIL, { code: EDE.NETWORK_ERROR, text: 'nft commit failed' });
  const opt = ednsOf(decode(withEde))!;
  t.equal(opt.options[0].data!.readUInt16BE(0), 23);
  t.equal(opt.options[0].data!.subarray(2).toString(), 'nft commit failed');
  const w0 = query('x.example');
  const noEdns = errorResponse(w0, parseQuery(w0), RCODE.SERVFAIL, { code: 0, text: 'x' });
  t.equal(noEdns.length, w0.length, 'no OPT, so no EDE, without EDNS in the query');
  const bv = decode(errorResponse(w, q, RCODE.BADVERS));
  t.equal(ednsOf(bv)!.extendedRcode, 1, 'BADVERS: upper bits in the OPT record');
  t.throws(() => errorResponse(w0, parseQuery(w0), RCODE.BADVERS), RangeError);
});

t.test('errorResponse without a parsed query: bare header', async (t) => {
  const garbage = Buffer.from([0xab, 0xcd, 0x29, 0x00, 0xff, 0xff, 1, 2, 3]); // opcode 5, RD
  const out = errorResponse(garbage, null, RCODE.FORMERR);
  t.equal(out.length, 12);
  t.equal(readId(out), 0xabcd);
  const flags = out.readUInt16BE(2);
  t.equal(flags & FLAG.QR, FLAG.QR);
  t.equal((flags >> 11) & 0xf, 5, 'opcode echoed');
  t.equal(flags & FLAG.RD, FLAG.RD);
  t.equal(flags & 0xf, RCODE.FORMERR);
  t.same(out.subarray(4), Buffer.alloc(8), 'all counts 0');
  t.equal(readId(errorResponse(Buffer.from([7]), null, RCODE.FORMERR)), 0, 'no ID to echo');
  t.equal(decode(errorResponse(Buffer.alloc(0), null, RCODE.NOTIMP)).rcode, 'NOTIMP');
});

t.test('truncatedResponse: TC=1, question only, OPT kept', async (t) => {
  const w = ednsQuery('Big.Example', 'TXT');
  const q = parseQuery(w);
  const d = decode(truncatedResponse(w, q));
  t.equal(d.flag_tc, true);
  t.equal(d.rcode, 'NOERROR');
  t.same(d.questions, [{ name: 'Big.Example', type: 'TXT', class: 'IN' }]);
  t.equal(d.answers!.length, 0);
  t.equal(ednsOf(d)!.udpPayloadSize, 1232);
  const w0 = query('big.example', 'TXT');
  t.equal(truncatedResponse(w0, parseQuery(w0)).length, w0.length);
});

t.test('withId and readId work in place', async (t) => {
  const w = query('x.example');
  withId(w, 0x4242);
  t.equal(readId(w), 0x4242);
  t.equal(decode(w).id, 0x4242);
  withId(w, 0x14243);
  t.equal(readId(w), 0x4243, 'masked to 16 bits');
  t.equal(readId(Buffer.alloc(1)), -1);
});

t.test('synthesized answers parse back with the same question', async (t) => {
  for (const type of ['A', 'AAAA', 'HTTPS', 'MX'] as const) {
    const name = 'MiXeD.case.example';
    const w = type === 'HTTPS' ? query(name, 'UNKNOWN_65' as packet.RecordType) : ednsQuery(name, type);
    const q = parseQuery(w);
    for (const out of [denyResponse(w, q, RCODE.NXDOMAIN, 'no'), errorResponse(w, q, RCODE.SERVFAIL), truncatedResponse(w, q)]) {
      t.equal(out.readUInt16BE(4), 1);
      t.same(out.subarray(12, q.questionEnd), w.subarray(12, q.questionEnd), `${type} question bytes`);
      t.equal(out.readUInt16BE(q.questionEnd - 4), type === 'HTTPS' ? TYPE.HTTPS : q.qtype);
    }
  }
});
