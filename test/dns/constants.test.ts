// Constant tables agree with dns-packet's; typeName and rcodeName name them.
import t from 'tap';
import * as packet from 'dns-packet';
import { TYPE, RCODE, EDE, rcodeName, typeName } from '../../lib/dns/constants';

// dns-packet ships these tables without type definitions
// eslint-disable-next-line @typescript-eslint/no-require-imports
const types = require('dns-packet/types') as { toType(s: string): number };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rcodes = require('dns-packet/rcodes') as { toRcode(s: string): number };

t.test('TYPE values match dns-packet', async (t) => {
  for (const [name, n] of Object.entries(TYPE)) {
    if (name === 'SVCB' || name === 'HTTPS') continue; // dns-packet 5.6 does not know them
    t.equal(types.toType(name), n, name);
  }
  t.equal(TYPE.SVCB, 64);
  t.equal(TYPE.HTTPS, 65);
});

t.test('RCODE values match dns-packet', async (t) => {
  for (const [name, n] of Object.entries(RCODE)) if (n < 16) t.equal(rcodes.toRcode(name), n, name);
  void packet;
});

t.test('type names', async (t) => {
  t.equal(typeName(1), 'A');
  t.equal(typeName(65), 'HTTPS');
  t.equal(typeName(65000), 'TYPE65000');
});

t.test('rcode names', async (t) => {
  t.equal(rcodeName(3), 'NXDOMAIN');
  t.equal(rcodeName(16), 'BADVERS');
  t.equal(rcodeName(23), 'RCODE23');
});

t.test('RFC 8914 info codes used by dnswall', async (t) => {
  t.same([EDE.OTHER, EDE.NOT_READY, EDE.BLOCKED, EDE.FILTERED, EDE.PROHIBITED, EDE.NETWORK_ERROR], [0, 14, 15, 17, 18, 23]);
});
