// Address text forms: RFC 5952 for IPv6, checked against ipaddr.js on random addresses.
import t from 'tap';
import * as ipaddr from 'ipaddr.js';
import { ipv4Text, ipv6Text } from '../../lib/dns/answer';
import { prng } from './helpers';

t.test('known IPv6 forms', async (t) => {
  const cases: Array<[string, string]> = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000000000001000000000000', '2001:db8:0:0:1::'],
    ['20010000000000010000000000010001', '2001::1:0:0:1:1'],
    ['20010db80000abcd0000000000000000', '2001:db8:0:abcd::'],
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['fe800000000000000000000000000000', 'fe80::'],
  ];
  for (const [hex, text] of cases) t.equal(ipv6Text(Buffer.from(hex, 'hex')), text, text);
  t.equal(ipv4Text(Buffer.from([198, 51, 100, 255])), '198.51.100.255');
});

t.test('random IPv6 addresses match ipaddr.js', async (t) => {
  const rand = prng(42);
  let mismatches = 0;
  for (let n = 0; n < 5000; n++) {
    const b = Buffer.alloc(16);
    for (let g = 0; g < 8; g++) if (rand() < 0.5) b.writeUInt16BE(rand() < 0.3 ? 1 : Math.floor(rand() * 65536), 2 * g);
    const ours = ipv6Text(b);
    const theirs = (ipaddr.fromByteArray([...b]) as ipaddr.IPv6).toRFC5952String();
    if (ours !== theirs && mismatches++ < 5) t.fail(`${b.toString('hex')}: ${ours} vs ${theirs}`);
  }
  t.equal(mismatches, 0);
});
