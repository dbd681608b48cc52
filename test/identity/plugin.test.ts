// The identity step: an IP sender is selected by CIDR and keyed by its own address; resolvers
// are asked in order before it; an unattributable sender gets SERVFAIL and goes no further; a
// reload while a resolver waits resolves again with the new index.
import t from 'tap';
import pino from 'pino';
import { IdentityPlugin } from '../../lib/plugins/identity/identity';
import { PolicyPlugin } from '../../lib/plugins/policy/policy';
import { buildChain } from '../../lib/plugins/chain';
import type { Handler, Request } from '../../lib/plugins/types';
import type { Resolver } from '../../lib/identity/resolver';
import type { Source } from '../../lib/identity/types';
import { PolicyIndex } from '../../lib/policy/index';
import { parseConfig } from '../../lib/config/load';
import { query } from '../cache/replies';
import { RCODE } from '../../lib/dns/constants';

const log = pino({ level: 'silent' });
const index = (yaml: string) => PolicyIndex.compile(parseConfig(yaml, 'p.yaml').policies);
const A = index(`policies:
  - name: web
    sources: ["10.244.1.0/24", "fd00::/64"]
    allow: [api.example.com]
  - name: host
    sources: ["cgroup:/system.slice/backup.service"]
    allow: ["*.backup.example.com"]
`);
const B = index(`policies:
  - name: web
    sources: ["10.244.1.0/24"]
    allow: [other.example.com]
`);

function request(address: string, name = 'api.example.com'): Request {
  const { wire, q } = query(name, { edns: true });
  return {
    wire,
    query: q,
    peer: { address, family: address.includes(':') ? 6 : 4, port: 40000 },
    local: { address: '169.254.20.10', port: 53 },
    transport: 'udp',
    maxReplySize: 512,
    received: process.hrtime.bigint(),
    timings: {},
  };
}

/** The plugin in a chain over `below`. */
function stack(p: IdentityPlugin, below: Handler): Handler {
  return buildChain([p, { name: 'below', setup: () => ({ down: below }) }], log, undefined, false).handle;
}

/** The bottom of the chain: records what it saw. */
function bottom(seen: Request[]): Handler {
  return async (req) => {
    seen.push(req);
    return { wire: req.wire, rcode: 0, origin: 'upstream' };
  };
}

t.test('ip: selected by CIDR, keyed by its own address in its own family only', async (t) => {
  const seen: Request[] = [];
  const p = new IdentityPlugin({ index: () => A });
  const h = stack(p, bottom(seen));
  await h(request('10.244.1.7'));
  await h(request('fd00::7'));
  await h(request('192.0.2.1'));
  const [v4, v6, other] = seen.map((r) => r.source!);
  t.match(v4, { kind: 'ip', address: '10.244.1.7', family: 4, port: 40000, display: '10.244.1.7' });
  t.same(v4.selection?.names, ['web']);
  t.same(v4.keys[4], Buffer.from([10, 244, 1, 7]));
  t.equal(v4.keys[6], undefined, 'no IPv6 key for an IPv4 sender');
  t.same(v6.keys[6], Buffer.from('fd000000000000000000000000000007', 'hex'));
  t.equal(v6.keys[4], undefined);
  t.equal(other.selection, null, 'no policy selects it: unmanaged');
  t.same(p.stats, { ip: 3, pod: 0, cgroup: 0, unattributable: 0 });
});

const cgSource = (sel: Source['selection']): Source => ({
  kind: 'cgroup',
  address: '127.0.0.1',
  family: 4,
  port: 40000,
  selection: sel,
  keys: { 4: Buffer.alloc(8, 1), 6: Buffer.alloc(8, 1) },
  display: '/system.slice/backup.service',
  cgroup: { id: 7n, path: '/system.slice/backup.service', keyId: 7n, keyPath: '/system.slice/backup.service' },
});

t.test('resolvers in order: null passes on, a Source wins, sync or async', async (t) => {
  const asked: string[] = [];
  const pass: Resolver = {
    name: 'pass',
    resolve: () => {
      asked.push('pass');
      return null;
    },
  };
  const cg: Resolver = {
    name: 'cg',
    resolve: async (q, ix) => {
      asked.push('cg');
      return q.peer.address === '127.0.0.1' ? cgSource(ix.selectCgroup('/system.slice/backup.service')) : null;
    },
  };
  const seen: Request[] = [];
  const p = new IdentityPlugin({ index: () => A, resolvers: [pass, cg] });
  const h = stack(p, bottom(seen));
  await h(request('127.0.0.1'));
  await h(request('10.244.1.9'));
  t.same(asked, ['pass', 'cg', 'pass', 'cg']);
  t.equal(seen[0].source!.kind, 'cgroup');
  t.same(seen[0].source!.selection?.names, ['host']);
  t.equal(seen[1].source!.kind, 'ip', 'the IP identity has the last word');
  t.same(p.stats, { ip: 1, pod: 0, cgroup: 1, unattributable: 0 });
});

t.test('unattributable: SERVFAIL with an EDE, nothing below runs', async (t) => {
  const seen: Request[] = [];
  const r: Resolver = { name: 'cg', resolve: () => ({ unattributable: 'no socket found' }) };
  const p = new IdentityPlugin({ index: () => A, resolvers: [r] });
  const res = await stack(p, bottom(seen))(request('127.0.0.1'));
  t.equal(res.rcode, RCODE.SERVFAIL);
  t.ok(res.wire.includes(Buffer.from('not attributable')), 'EDE text says why');
  t.equal(seen.length, 0);
  t.equal(p.stats.unattributable, 1);
});

t.test('a reload while a resolver waits: resolved again with the new index, decided by it', async (t) => {
  let current = A;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let calls = 0;
  const slow: Resolver = {
    name: 'slow',
    resolve: async () => {
      if (calls++ === 0) await gate;
      return null;
    },
  };
  const chain = buildChain(
    [new IdentityPlugin({ index: () => current, resolvers: [slow] }), new PolicyPlugin({ index: () => current, mode: 'enforce', denyResponse: 'nxdomain' })],
    log,
  );
  const pending = chain.handle(request('10.244.1.7', 'other.example.com'));
  current = B;
  release();
  const res = await pending;
  t.equal(calls, 2, 'asked again after the swap');
  t.equal(res.rcode, RCODE.SERVFAIL, 'allowed by B: reaches the end of this short chain (no next plugin)');
  const denied = await chain.handle(request('10.244.1.7', 'api.example.com'));
  t.equal(denied.rcode, RCODE.NXDOMAIN, 'B no longer allows api.example.com');
});

t.test('policy without identity in front fails closed', async (t) => {
  const chain = buildChain([new PolicyPlugin({ index: () => A, mode: 'enforce', denyResponse: 'nxdomain' })], log);
  const res = await chain.handle(request('192.0.2.1'));
  t.equal(res.rcode, RCODE.NXDOMAIN, 'no source: denied, never unfiltered');
});
