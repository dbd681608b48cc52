// The `dnswall check` summary counts what the config holds.
import t from 'tap';
import { parseConfig } from '../../lib/config/load';
import { summarize } from '../../lib/config/summary';

t.test('summary lists endpoints, counts and each policy', async (t) => {
  const cfg = parseConfig(
    `listen: ["169.254.20.10:53", "[fd00::53]:53"]
policies:
  - name: web
    sources: [10.0.0.0/8, "cgroup:/a.slice"]
    allow: [a.com, b.com]
    allowCIDRs: [192.0.2.0/24]
  - name: locked
    sources: [10.1.0.0/16]
`,
    'c.yaml',
  );
  const s = summarize(cfg);
  t.match(s, /^c\.yaml: ok$/m);
  t.match(s, /^listen +169\.254\.20\.10:53, \[fd00::53\]:53$/m);
  t.match(s, /^upstreams +10\.96\.0\.10:53$/m);
  t.match(s, /^policies +2 policies, 3 sources \(2 CIDRs, 1 cgroup\), 2 patterns, 1 static CIDR$/m);
  t.match(s, /^ {2}- web: 1 CIDR \+ 1 cgroup; 2 patterns, 1 static CIDR$/m);
  t.match(s, /^ {2}- locked: 1 CIDR; default deny$/m);
});

t.test('an empty config', async (t) => {
  t.match(summarize(parseConfig('', 'e.yaml')), /policies +0 policies, 0 sources \(0 CIDRs, 0 cgroups\), 0 patterns, 0 static CIDRs/);
});
