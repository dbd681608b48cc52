// The configuration example of the product specification (a document outside this repository),
// verbatim: it has `allow` twice in one policy, which must be a duplicate-key error at the second
// key. Without the first `allow` it is valid.
import t from 'tap';
import { parseConfig } from '../../lib/config/load';
import { ConfigError } from '../../lib/config/errors';

const SPEC_EXAMPLE = `listen: ["169.254.20.10:53"]        # UDP and TCP on each; IPv6 as "[fd00::53]:53"
upstreams: ["10.96.0.10:53"]        # tried in order, with failover; answers are trusted only from these
denyResponse: nxdomain              # nxdomain | refused — sent with EDE 18 (Prohibited) when the client speaks EDNS
ttl:
  min: 10          # seconds: an element lives at least this long (TTL 0 answers included)
  max: 86400       # seconds: TTLs are capped here, in the set and in the answer to the client
  grace: 10        # seconds: extra life of an element beyond the TTL given to the client
enforce:
  mode: enforce    # enforce | audit (answer everything, program nothing, drop nothing; log and count what would be denied)
  action: reject   # reject (TCP reset / ICMP admin-prohibited) | drop
nftables:
  table: dnswall   # table inet dnswall; dnswall owns this table and nothing else
policies:
  - name: frontend
    sources: ["10.244.1.0/24", "fd00:10:244:1::/64"]   # IPs or CIDRs; a source may be in several policies: their allows add up
  - name: backup-agent
    sources: ["cgroup:/system.slice/backup.service"]   # host processes, by cgroup v2 path (and its descendants)
    allow: ["*.backup.example.com"]
    allow:
      - "api.stripe.com"                      # exact name, all ports
      - "*.s3.amazonaws.com"                  # '*' = within one label
      - name: "**.googleapis.com"             # '**.' prefix = one or more labels
        ports: ["tcp/443"]
    allowCIDRs: ["10.96.0.0/12"]             # static destinations, no DNS needed
`;

t.test('verbatim: exactly one error, the duplicate allow at 19:5', async (t) => {
  const err = t.throws(() => parseConfig(SPEC_EXAMPLE, 'spec.yaml')) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.same(err.issues, [{ file: 'spec.yaml', line: 19, col: 5, message: 'duplicate key "allow"' }]);
  t.equal(err.message, 'spec.yaml:19:5 duplicate key "allow"');
});

t.test('without the first allow it is valid and complete', async (t) => {
  const cfg = parseConfig(SPEC_EXAMPLE.replace('    allow: ["*.backup.example.com"]\n', ''), 'spec.yaml');
  t.equal(cfg.file, 'spec.yaml');
  t.same(cfg.listen, [{ host: '169.254.20.10', port: 53, family: 4 }]);
  t.same(cfg.upstreams, [{ host: '10.96.0.10', port: 53, family: 4 }]);
  t.equal(cfg.denyResponse, 'nxdomain');
  t.same(cfg.ttl, { min: 10, max: 86400, grace: 10 });
  t.same(cfg.enforce, { mode: 'enforce', action: 'reject' });
  t.same(cfg.nftables, { table: 'dnswall', stateFile: '/run/dnswall/nft.state' });
  t.same(
    cfg.policies.map((p) => p.name),
    ['frontend', 'backup-agent'],
  );
  const [frontend, backup] = cfg.policies;
  t.same(frontend.sources, [
    { kind: 'cidr', cidr: '10.244.1.0/24', family: 4, address: '10.244.1.0', prefix: 24 },
    { kind: 'cidr', cidr: 'fd00:10:244:1::/64', family: 6, address: 'fd00:10:244:1::', prefix: 64 },
  ]);
  t.same(frontend.allow, [], 'no allow: default deny');
  t.same(backup.sources, [{ kind: 'cgroup', path: '/system.slice/backup.service' }]);
  t.same(backup.allow, [
    { pattern: 'api.stripe.com', ports: [] },
    { pattern: '*.s3.amazonaws.com', ports: [] },
    { pattern: '**.googleapis.com', ports: [{ proto: 'tcp', port: 443 }] },
  ]);
  t.same(backup.allowCIDRs, [{ cidr: '10.96.0.0/12', family: 4, address: '10.96.0.0', prefix: 12 }]);
});
