// health: /healthz answers while the event loop runs; /readyz checks the ruleset, the kernel and
// an upstream — it fails (503, naming the check) while the ruleset is missing and recovers once
// a reload installs it again.
import t from 'tap';
import { requireSystem, createWorld, config, ADDR, type World } from './world';

const ZONE = { records: [{ name: 'api.example.com', type: 'A', ttl: 60, data: '198.18.0.10' }] };
const POLICIES = `
health: "127.0.0.1:8086"
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32"]
    allow: [api.example.com]
`;

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwhl', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  const get = async (path: string) => {
    const r = await w.topo.exec(w.topo.ns.node, ['curl', '-sS', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', `http://127.0.0.1:8086${path}`]);
    const lines = r.stdout.trimEnd().split('\n');
    return { code: Number(lines.pop()), body: lines.join('\n'), err: r.stderr };
  };

  t.test('/healthz and /readyz answer 200 on a running daemon', async (t) => {
    const h = await get('/healthz');
    t.equal(h.code, 200, h.err);
    const r = await get('/readyz');
    t.equal(r.code, 200, r.body);
    t.match(r.body, /\[\+\]ruleset ok/);
    t.match(r.body, /\[\+\]kernel ok/);
    t.match(r.body, /\[\+\]upstream ok/, 'the upstream probe (". NS") answered');
  });

  t.test('/readyz fails while the ruleset is missing, and recovers after a reload reinstalls it', async (t) => {
    const del = await w.nft('delete', 'table', 'inet', 'dnswall');
    t.equal(del.code, 0, del.stderr);
    const r = await get('/readyz');
    t.equal(r.code, 503, 'not ready');
    t.match(r.body, /\[-\]ruleset failed: table inet dnswall/);
    t.equal((await get('/healthz')).code, 200, 'still alive');
    const line = await w.daemon.reload(config(POLICIES));
    t.equal(line.msg, 'configuration reloaded');
    const again = await get('/readyz');
    t.equal(again.code, 200, again.body);
  });
}
