// Name text form: lowercase, escapes that cannot be confused with a label boundary, pointers.
import t from 'tap';
import { readName, nameText, readNameText } from '../../lib/dns/name';
import { parseQuery } from '../../lib/dns/query';
import { DnsFormatError } from '../../lib/dns/errors';
import { header, question, rawName } from './helpers';

function queryName(labels: Array<string | Buffer>): string {
  return parseQuery(Buffer.concat([header(1, 0, 1, 0, 0, 0), question(rawName(labels))])).name;
}

t.test('uppercase and 0x20 mixed case are lowercased', async (t) => {
  t.equal(queryName(['WWW', 'ExAmPlE', 'COM']), 'www.example.com');
  t.equal(queryName(['wWw', 'eXaMpLe', 'CoM']), 'www.example.com');
});

t.test('a dot inside a label is escaped, never a label boundary', async (t) => {
  const tricky = queryName(['evil.allowed', 'com']);
  t.equal(tricky, 'evil\\046allowed.com');
  t.not(tricky, queryName(['evil', 'allowed', 'com']));
  t.equal(queryName(['allowed.com']), 'allowed\\046com', 'a one-label name with a dot is not allowed.com');
});

t.test('backslash and non-printable bytes are escaped, so the text form is injective', async (t) => {
  t.equal(queryName(['a\\046b']), 'a\\092046b', 'a literal backslash cannot forge an escape');
  t.not(queryName(['a\\046b']), queryName(['a.b']));
  t.equal(queryName([Buffer.from([0x00, 0x20, 0x7f, 0xff, 0x41])]), '\\000\\032\\127\\255a');
  t.equal(queryName(['*', 'example', 'com']), '*.example.com', 'printable punctuation stays');
  t.equal(queryName(['_sip', '_tcp', 'ex-ample']), '_sip._tcp.ex-ample');
  t.equal(queryName([Buffer.from('É', 'latin1')]), '\\201', 'no case folding outside ASCII');
});

t.test('injective over random short labels', async (t) => {
  const seen = new Map<string, string>();
  const alphabet = [0x2e, 0x5c, 0x41, 0x61, 0x30, 0x00, 0x34, 0x36];
  // all labels of length 1..3 over a hostile alphabet, with case-folding collapsing A/a
  let n = 0;
  for (let len = 1; len <= 3; len++) {
    const total = alphabet.length ** len;
    for (let k = 0; k < total; k++) {
      const bytes: number[] = [];
      let x = k;
      for (let i = 0; i < len; i++) {
        bytes.push(alphabet[x % alphabet.length]);
        x = Math.floor(x / alphabet.length);
      }
      const folded = Buffer.from(bytes.map((b) => (b === 0x41 ? 0x61 : b))).toString('hex');
      const text = queryName([Buffer.from(bytes)]);
      const prev = seen.get(text);
      if (prev !== undefined && prev !== folded) t.fail(`${text} from ${prev} and ${folded}`);
      seen.set(text, folded);
      n++;
    }
  }
  t.ok(n > 500, `checked ${n} labels`);
});

t.test('backward compression pointers in a reply are followed', async (t) => {
  // 12: example.com in the question; 29: www -> pointer to 12; 35: a -> pointer to 29
  const msg = Buffer.concat([header(1, 0x8000, 1, 0, 0, 0), question(rawName(['Example', 'com'])), rawName(['WWW'], 12), rawName(['a'], 29)]);
  t.equal(readName(msg, 29, true), 35);
  t.equal(nameText(), 'www.example.com');
  t.same(readNameText(msg, 35), { name: 'a.www.example.com', end: 39 });
  t.equal(readName(msg, 35, false), 39, 'skipping gives the same end');
});

t.test('bad pointers throw DnsFormatError, quickly', async (t) => {
  const base = Buffer.concat([header(1, 0x8000, 1, 0, 0, 0), question(rawName(['example', 'com']))]);
  const cases: Array<[string, Buffer, number, RegExp]> = [
    ['forward', Buffer.concat([base, Buffer.from([0xc0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0])]), 29, /forward name pointer/],
    ['beyond buffer', Buffer.concat([base, Buffer.from([0xff, 0xff])]), 29, /forward name pointer/],
    ['self', Buffer.concat([base, Buffer.from([0xc0, 29])]), 29, /forward name pointer/],
    ['loop via earlier label', Buffer.concat([base, rawName(['x'], 29)]), 29, /name pointer loop/],
    ['two-step loop', Buffer.concat([base, rawName(['x'], 33), rawName(['y'], 29)]), 33, /forward name pointer|name pointer loop/],
    ['into header', Buffer.concat([base, Buffer.from([0xc0, 0x02])]), 29, /pointer into header/],
    ['cut pointer', Buffer.concat([base, Buffer.from([0xc0])]), 29, /truncated name pointer/],
    ['reserved label type', Buffer.concat([base, Buffer.from([0x80, 1, 0])]), 29, /label too long/],
  ];
  for (const [what, msg, off, re] of cases) {
    t.throws(() => readName(msg, off, true), re, what);
    t.throws(() => readName(msg, off, false), DnsFormatError, `${what} (skip)`);
  }
});

t.test('pointer-to-pointer chains are bounded', async (t) => {
  // 300 pointers, each to the one before: legal direction, but no real name needs that many.
  const parts = [header(1, 0x8000, 1, 0, 0, 0), question(rawName(['example', 'com']))];
  let at = 29;
  let prev = 12;
  for (let i = 0; i < 300; i++) {
    parts.push(Buffer.from([0xc0 | (prev >> 8), prev & 0xff]));
    prev = at;
    at += 2;
  }
  const msg = Buffer.concat(parts);
  t.equal(readName(msg, 29 + 2 * 100, true), 29 + 2 * 100 + 2, '100 hops are fine');
  t.equal(nameText(), 'example.com');
  t.throws(() => readName(msg, at - 2, true), /too many name pointers/);
});
