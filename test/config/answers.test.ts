// answers.denyCIDRs: canonical CIDRs, every problem with FILE:LINE:COL, shown by `check`.
import t from 'tap';
import { parseConfig } from '../../lib/config/load';
import { ConfigError } from '../../lib/config/errors';
import { summarize } from '../../lib/config/summary';

function errors(text: string): string[] {
  try {
    parseConfig(text, 'a.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  return [];
}

t.test('absent, null or empty: no extra ranges', async (t) => {
  for (const text of ['', 'answers:\n', 'answers: {}\n', 'answers: { denyCIDRs: [] }\n', 'answers: { denyCIDRs: ~ }\n']) {
    t.same(parseConfig(text, 'a.yaml').answers, { denyCIDRs: [] }, JSON.stringify(text));
  }
});

t.test('CIDRs and bare addresses, IPv4 and IPv6, in canonical form', async (t) => {
  const cfg = parseConfig('answers:\n  denyCIDRs: ["10.0.0.0/8", "192.0.2.7", "FD00:10:96::/112", "::ffff:10.0.0.0/104"]\n', 'a.yaml');
  t.same(
    cfg.answers.denyCIDRs.map((c) => c.cidr),
    ['10.0.0.0/8', '192.0.2.7/32', 'fd00:10:96::/112', '::ffff:a00:0/104'],
  );
  t.same(cfg.answers.denyCIDRs[0], { cidr: '10.0.0.0/8', family: 4, address: '10.0.0.0', prefix: 8 });
});

t.test('errors name the problem at its line and column', async (t) => {
  t.same(errors('answers:\n  denyCIDRs: ["10.0.0.1/8", "nope", "10.0.0.0/33", 7]\n'), [
    'a.yaml:2:15 answers.denyCIDRs[0]: "10.0.0.1/8" has host bits set; the network is 10.0.0.0/8',
    'a.yaml:2:29 answers.denyCIDRs[1]: "nope" is not an IP address (IPv4 is four decimal octets, e.g. 10.0.0.1)',
    'a.yaml:2:37 answers.denyCIDRs[2]: "10.0.0.0/33": prefix length must be 0..32',
    'a.yaml:2:52 answers.denyCIDRs[3] must be a string, got number "7"',
  ]);
  t.same(errors('answers:\n  denyCIDRs: ["10.0.0.0/8", "10.0.0.0/8"]\n'), ['a.yaml:2:29 answers.denyCIDRs[1]: duplicate of answers.denyCIDRs[0] (10.0.0.0/8)']);
  t.same(errors('answers:\n  denyCIDR: ["10.0.0.0/8"]\n'), ['a.yaml:2:3 unknown key "denyCIDR" in answers; did you mean "denyCIDRs"?']);
  t.same(errors('answers:\n  denyCIDRs: "10.0.0.0/8"\n'), ['a.yaml:2:14 answers.denyCIDRs must be a list']);
  t.same(errors('answers: [1]\n'), ['a.yaml:1:10 answers must be a mapping']);
  t.same(errors('answer: {}\n').length, 1);
});

t.test('check shows the guard ranges', async (t) => {
  t.match(summarize(parseConfig('', 'a.yaml')), /^guard +built-in \(loopback, unspecified, link-local, multicast, broadcast; IPv4-mapped too\) \+ no denyCIDRs$/m);
  t.match(summarize(parseConfig('answers: { denyCIDRs: [10.0.0.0/8, "fd00::/8"] }\n', 'a.yaml')), /^guard +built-in .* \+ denyCIDRs 10\.0\.0\.0\/8, fd00::\/8$/m);
});
