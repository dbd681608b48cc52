// 10. The first connection right after the answer is never dropped: every iteration resolves a
// name never seen before (a new address, a new element) and connects at once.
import t from 'tap';
import { requireSystem, createWorld, ADDR, type World } from './world';

const N = 200;
const ZONE = {
  records: Array.from({ length: N }, (_, i) => ({ name: `n${i}.fresh.example.com`, type: 'A', ttl: 30, data: `198.18.${2 + (i >> 8)}.${(i & 255) + 1}` })),
};
const POLICIES = `
policies:
  - name: frontend
    sources: ["${ADDR.pod1.v4}/32", "${ADDR.pod1.v6}/128"]
    allow: ["*.fresh.example.com"]
`;

if (requireSystem(t)) {
  let w: World;
  t.before(async () => {
    w = await createWorld('dwsf', ZONE, POLICIES);
  });
  t.teardown(() => w?.destroy());

  t.test(`${N} fresh names, query then connect at once: zero drops`, async (t) => {
    let dnsFail = 0,
      connectFail = 0,
      done = 0;
    const errors: string[] = [];
    const started = Date.now();
    for (let i = 0; i < N && Date.now() - started < 60_000; i++) {
      const r = await w.pod1.resolveConnect({
        server: ADDR.nodePod1.v4,
        dnsPort: 53,
        name: `n${i}.fresh.example.com`,
        type: 'A',
        port: 443,
        count: 1,
        connectTimeoutMs: 1000,
        timeoutMs: 2000,
      });
      if (!r.ok) {
        errors.push(r.error);
        dnsFail++;
        continue;
      }
      done += r.done;
      dnsFail += r.dnsFail + r.noAddress;
      connectFail += r.connectFail;
      errors.push(...r.errors);
    }
    t.equal(done, N, `${done} iterations in ${Date.now() - started} ms`);
    t.equal(dnsFail, 0, 'every query answered');
    t.equal(connectFail, 0, `no first connection dropped ${errors.slice(0, 3).join('; ')}`);
    const els = (await w.list()).filter((e) => e.comment.endsWith('.fresh.example.com'));
    t.equal(els.length, N, 'one element per name');
  });
}
