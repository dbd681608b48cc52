// Accept/reject table for pattern syntax, and the product specification's name-pattern table (SPEC_TABLE, copied here) matched for real.
import t from 'tap';
import { validatePattern, expandPattern, normalizeName, LabelGlob } from '../../lib/policy/pattern';
import { PolicyIndex } from '../../lib/policy/index';
import type { Policy } from '../../lib/config/types';

const SRC = { address: '10.1.2.3', family: 4 as const };

function indexFor(pattern: string): PolicyIndex {
  const p: Policy = {
    name: 'p',
    sources: [{ kind: 'cidr', cidr: '10.0.0.0/8', family: 4, address: '10.0.0.0', prefix: 8 }],
    allow: [{ pattern: normalizeName(pattern), ports: [] }],
    allowCIDRs: [],
  };
  return PolicyIndex.compile([p]);
}

// [pattern, names that match, names that do not]
const SPEC_TABLE: [string, string[], string[]][] = [
  ['api.example.com', ['api.example.com'], ['x.api.example.com']],
  ['*.example.com', ['a.example.com'], ['example.com', 'a.b.example.com']],
  ['api-*.example.com', ['api-eu.example.com'], ['api.example.com']],
  ['**.example.com', ['a.example.com', 'a.b.example.com'], ['example.com']],
  ['*', ['every.name', 'com', 'a.b.c.d.e', ''], []],
];

const EXTRA: [string, string[], string[]][] = [
  ['API.Example.COM.', ['api.example.com', 'API.EXAMPLE.COM', 'api.example.com.'], ['api.example.co', 'example.com']],
  ['{eu,us}.api.example.com', ['eu.api.example.com', 'us.api.example.com'], ['ap.api.example.com', 'api.example.com']],
  ['{,www.}example.com', ['example.com', 'www.example.com'], ['a.example.com']],
  ['api-*', ['api-x', 'api-'], ['api', 'x.api-x']],
  ['*-*.example.com', ['a-b.example.com', 'x-y-z.example.com', '-.example.com'], ['ab.example.com']],
  ['a.*.example.com', ['a.b.example.com'], ['a.example.com', 'a.b.c.example.com', 'b.b.example.com']],
  ['**', ['com', 'a.b.c'], ['']],
  ['**.*.example.com', ['a.b.example.com', 'x.y.b.example.com'], ['b.example.com']],
  ['_sip._tcp.example.com', ['_SIP._TCP.example.com'], ['sip.tcp.example.com']],
  // U+212A KELVIN SIGN lowercases to 'k' with String#toLowerCase; DNS folds ASCII only.
  ['k.example.com', ['K.example.com'], ['\u212a.example.com']],
];

for (const [pattern, yes, no] of [...SPEC_TABLE, ...EXTRA]) {
  t.test(`pattern ${pattern}`, async (t) => {
    t.equal(validatePattern(pattern), null, 'valid');
    const ix = indexFor(pattern);
    for (const n of yes) t.equal(ix.decideAddress(SRC, n).verdict, 'allow', `matches ${JSON.stringify(n)}`);
    for (const n of no) t.equal(ix.decideAddress(SRC, n).verdict, 'deny', `does not match ${JSON.stringify(n)}`);
  });
}

// [pattern, a fragment the error message must contain]
const REJECT: [string, string][] = [
  ['', 'empty pattern'],
  ['.', 'empty pattern'],
  ['a..example.com', 'empty label'],
  ['.example.com', 'empty label'],
  ['x.**.example.com', "'**' is allowed only as the whole first label"],
  ['**foo.example.com', "'**' is allowed only"],
  ['example.**', "'**' is allowed only"],
  ['***.example.com', "'**' is allowed only"],
  ['a?.example.com', "'?' is not supported"],
  ['[ab].example.com', 'character classes'],
  ['(a|b).example.com', 'regular expressions'],
  ['a+.example.com', 'regular expressions'],
  ['^example.com$', 'regular expressions'],
  ['a\\.b', 'regular expressions'],
  ['a b.com', "invalid character ' '"],
  ['caf\u00e9.com', 'invalid character U+00e9'],
  ['a,b.com', "',' is only allowed inside a brace set"],
  ['{a}.com', 'at least two alternatives'],
  ['{a,b.com', "unbalanced '{'"],
  ['a,b}.com', "unbalanced '}'"],
  ['{a,{b,c}}.com', 'nested brace sets'],
  ['{1..3}.example.com', 'brace ranges'],
  ['{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}.com', 'more than 256'],
  ['{a,x..y}.com', 'brace ranges'],
  ['{ok,b?d}.example.com', "'?' is not supported"],
  [`${'a'.repeat(64)}.com`, 'longer than 63'],
  [Array(64).fill('abc').join('.'), 'longer than 253'],
  ['x'.repeat(2000), 'longer than 1024'],
];

t.test('rejected patterns name the problem', async (t) => {
  for (const [p, fragment] of REJECT) {
    const err = validatePattern(p);
    t.ok(err?.includes(fragment), `${JSON.stringify(p).slice(0, 60)} → ${err}`);
    t.throws(() => expandPattern(p), /bad pattern/);
  }
});

t.test('limits are inclusive', async (t) => {
  t.equal(validatePattern(`${'a'.repeat(63)}.com`), null, '63-char label');
  t.equal(validatePattern(Array(63).fill('abc').join('.')), null, '251 chars');
  t.equal(validatePattern(`*${'a'.repeat(63)}.com`), null, "'*' does not count towards the label length");
});

t.test('expandPattern normalizes and deduplicates', async (t) => {
  t.same(expandPattern('{EU,us,eu}.Api.example.com.'), ['eu.api.example.com', 'us.api.example.com']);
  t.same(expandPattern('*'), ['*']);
});

t.test('normalizeName', async (t) => {
  t.equal(normalizeName('WWW.Example.COM.'), 'www.example.com');
  t.equal(normalizeName('.'), '', 'root');
  t.equal(normalizeName('a..'), 'a.', 'only one trailing dot is removed');
  t.equal(normalizeName('\u212a.COM'), '\u212a.com', 'non-ASCII left alone');
});

t.test('LabelGlob never backtracks and is exact', async (t) => {
  const g = new LabelGlob('a*a*a*a*a*a*a*a*a*a*b');
  t.equal(g.matches('a'.repeat(63)), false);
  t.equal(g.matches(`${'a'.repeat(62)}b`), true);
  t.equal(new LabelGlob('ab*ba').matches('aba'), false, 'prefix and suffix may not overlap');
  t.equal(new LabelGlob('ab*ba').matches('abba'), true);
  t.equal(new LabelGlob('x*y*z').matches('xzyz'), true);
  t.equal(new LabelGlob('x*y*z').matches('xzzy'), false);
});
