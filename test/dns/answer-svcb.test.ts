// readAnswer: ipv4hint/ipv6hint of HTTPS and SVCB records owned by a chain name.
import t from 'tap';
import { readAnswer } from '../../lib/dns/answer';
import { TYPE, SVCPARAM, CLASS } from '../../lib/dns/constants';
import { header, question, rawName, rr, ip4, svcRdata } from './helpers';

const v6a = Buffer.from('20010db8000000000000000000000001', 'hex');
const v6b = Buffer.from('20010db8000000000000000000000002', 'hex');

/** A reply for www.example.com HTTPS; the question name sits at offset 12 for pointers. */
function httpsReply(records: Buffer[]): Buffer {
  return Buffer.concat([header(7, 0x8180, 1, records.length, 0, 0), question(rawName(['www', 'example', 'com']), TYPE.HTTPS), ...records]);
}
const owner = Buffer.from([0xc0, 12]);

t.test('ServiceMode hints are collected with the record TTL', async (t) => {
  const rd = svcRdata(1, Buffer.from([0]), [
    [SVCPARAM.ALPN, Buffer.from('\x02h2\x02h3', 'latin1')],
    [SVCPARAM.IPV4HINT, Buffer.concat([ip4('192.0.2.10'), ip4('192.0.2.11')])],
    [SVCPARAM.ECH, Buffer.alloc(20, 9)],
    [SVCPARAM.IPV6HINT, Buffer.concat([v6a, v6b])],
  ]);
  const info = readAnswer(httpsReply([rr(owner, TYPE.HTTPS, CLASS.IN, 120, rd)]), 'www.example.com', TYPE.HTTPS, 60);
  t.same(
    info.addresses.map((x) => [x.family, x.address, x.ttl]),
    [
      [4, '192.0.2.10', 60],
      [4, '192.0.2.11', 60],
      [6, '2001:db8::1', 60],
      [6, '2001:db8::2', 60],
    ],
  );
});

t.test('SVCB works the same, with a target name', async (t) => {
  const rd = svcRdata(2, rawName(['svc', 'example', 'net']), [[SVCPARAM.IPV4HINT, ip4('198.51.100.1')]]);
  const info = readAnswer(httpsReply([rr(owner, TYPE.SVCB, CLASS.IN, 30, rd)]), 'www.example.com', TYPE.SVCB, 600);
  t.same(
    info.addresses.map((x) => x.address),
    ['198.51.100.1'],
  );
});

t.test('AliasMode (priority 0) hints are ignored', async (t) => {
  const rd = svcRdata(0, rawName(['alias', 'example']), [[SVCPARAM.IPV4HINT, ip4('192.0.2.66')]]);
  const info = readAnswer(httpsReply([rr(owner, TYPE.HTTPS, CLASS.IN, 30, rd)]), 'www.example.com', TYPE.HTTPS, 600);
  t.same(info.addresses, []);
});

t.test('hints of records owned by other names are ignored; chain names count', async (t) => {
  const other = rr(rawName(['evil', 'example']), TYPE.HTTPS, CLASS.IN, 30, svcRdata(1, Buffer.from([0]), [[SVCPARAM.IPV4HINT, ip4('203.0.113.1')]]));
  const cn = rr(owner, TYPE.CNAME, CLASS.IN, 30, rawName(['cdn', 'example']));
  const viaChain = rr(rawName(['CDN', 'example']), TYPE.HTTPS, CLASS.IN, 30, svcRdata(1, Buffer.from([0]), [[SVCPARAM.IPV6HINT, v6a]]));
  const info = readAnswer(httpsReply([other, viaChain, cn]), 'www.example.com', TYPE.HTTPS, 600);
  t.same(info.chain, ['www.example.com', 'cdn.example']);
  t.same(
    info.addresses.map((x) => x.address),
    ['2001:db8::1'],
  );
});

t.test('malformed SvcParams throw DnsFormatError', async (t) => {
  const bad: Array<[string, Buffer, RegExp]> = [
    ['ipv4hint of 5 bytes', svcRdata(1, Buffer.from([0]), [[SVCPARAM.IPV4HINT, Buffer.alloc(5)]]), /bad ipv4hint length 5/],
    ['empty ipv6hint', svcRdata(1, Buffer.from([0]), [[SVCPARAM.IPV6HINT, Buffer.alloc(0)]]), /bad ipv6hint length 0/],
    ['ipv6hint of 20 bytes', svcRdata(1, Buffer.from([0]), [[SVCPARAM.IPV6HINT, Buffer.alloc(20)]]), /bad ipv6hint length 20/],
    ['param overruns', Buffer.concat([svcRdata(1, Buffer.from([0]), []), Buffer.from([0, 4, 0, 8, 1, 2, 3, 4])]), /SvcParam overruns/],
    ['cut param header', Buffer.concat([svcRdata(1, Buffer.from([0]), []), Buffer.from([0, 4, 0])]), /truncated SvcParam/],
    ['target overruns', Buffer.from([0, 1, 5, 0x61]), /truncated name/],
    ['too short', Buffer.from([0, 1]), /truncated SVCB/],
  ];
  for (const [what, rd, re] of bad) {
    // follow with a harmless record so a target that runs past its RDATA still finds bytes
    const r = httpsReply([rr(owner, TYPE.HTTPS, CLASS.IN, 30, rd), rr(owner, TYPE.TXT, CLASS.IN, 30, Buffer.from('\x05hello\x00'))]);
    t.throws(() => readAnswer(r, 'www.example.com', TYPE.HTTPS, 600), re, what);
  }
});
