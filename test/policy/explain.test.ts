// The one-line verdicts `dnswall explain` prints.
import t from 'tap';
import { PolicyIndex } from '../../lib/policy/index';
import { explain } from '../../lib/policy/explain';
import { parseConfig } from '../../lib/config/load';

const cfg = parseConfig(
  `
policies:
  - name: frontend
    sources: ["10.244.1.0/24"]
    allow:
      - "api.stripe.com"
      - name: "**.googleapis.com"
        ports: ["tcp/443", "udp/443"]
  - name: metrics
    sources: ["10.244.1.0/26"]
`,
  'x.yaml',
);
const ix = PolicyIndex.compile(cfg.policies);
const src = (address: string) => ({ address, family: 4 as const });

t.equal(explain(ix, src('10.244.1.100'), 'www.googleapis.com'), 'allow  policy=frontend pattern=**.googleapis.com ports=tcp/443,udp/443');
t.equal(explain(ix, src('10.244.1.100'), 'API.Stripe.com.'), 'allow  policy=frontend pattern=api.stripe.com ports=all');
t.equal(explain(ix, src('10.244.1.100'), 'api.evil.com'), 'deny  policy(s)=frontend: no pattern matches api.evil.com');
t.equal(explain(ix, src('10.244.1.1'), 'API.evil.com.'), 'deny  policy(s)=frontend,metrics: no pattern matches api.evil.com');
t.equal(explain(ix, src('10.9.9.9'), 'api.stripe.com'), 'unmanaged  no policy selects 10.9.9.9');
t.equal(explain(ix, src('nonsense'), 'api.stripe.com'), 'deny  nonsense is not an IP address');
