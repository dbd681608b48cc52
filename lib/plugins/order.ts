// The order of the request path, in one place (like CoreDNS's plugin.cfg). Every plugin feels
// the effects of all plugins below it:
//
//   querylog → metrics → identity → policy → nftset → guard → cache → answer → forward
//
// metrics times each request and counts responses by rcode (above identity: the whole answer);
// identity resolves who asked (lib/identity: a local socket's cgroup, a pod, else the address);
// policy answers denials; nftset holds an allowed reply until the kernel has its addresses;
// guard removes answer addresses that must never be programmed (per source: above the shared
// cache, because a policy's allowCIDRs lets a guarded range through for its own sources only);
// cache serves repeated allowed questions (below nftset: a hit still programs the asking source;
// above answer: it stores replies already read and TTL-capped); answer reads (and TTL-caps) the
// reply that forward relays from the upstreams.
import type { Config } from '../config/types';
import type { Plugin } from './types';
import type { PolicyIndex } from '../policy/index';
import type { SetProgrammer } from '../nft/programmer';
import type { Element } from '../nft/keys';
import type { Upstreams } from '../upstream/upstreams';
import type { Resolver } from '../identity/resolver';
import { QueryLogPlugin } from './querylog/querylog';
import { IdentityPlugin } from './identity/identity';
import { MetricsPlugin } from './metrics/metrics';
import { PolicyPlugin } from './policy/policy';
import { NftsetPlugin } from './nftset/nftset';
import { GuardPlugin } from './guard/guard';
import { AnswerGuard } from './guard/ranges';
import { CachePlugin } from './cache/cache';
import { AnswerPlugin } from './answer/answer';
import { ForwardPlugin } from './forward/forward';

export interface ChainDeps {
  index: () => PolicyIndex;
  upstreams: Pick<Upstreams, 'exchange'>;
  /** absent in audit mode: nothing is programmed */
  programmer?: Pick<SetProgrammer, 'add'> & Partial<Pick<SetProgrammer, 'hold'>>;
  /** told of each answer's elements once the kernel has committed them (lib/drops remembers them) */
  committed?: (elements: Element[]) => void;
  /** identity resolvers asked before the IP identity (cgroup for local senders, pods) */
  resolvers?: Resolver[];
  /** reload: the running cache, kept (with its entries) when nothing it depends on changed */
  cache?: CachePlugin;
  /** the running configuration's answer guard (reload swaps it); absent: compiled from cfg once */
  guard?: () => AnswerGuard;
}

export function standardPlugins(cfg: Config, deps: ChainDeps): Plugin[] {
  const plugins: Plugin[] = [
    new QueryLogPlugin({ mode: cfg.queryLog, audit: cfg.enforce.mode === 'audit' }),
    new MetricsPlugin(),
    new IdentityPlugin({ index: deps.index, resolvers: deps.resolvers }),
    new PolicyPlugin({ index: deps.index, mode: cfg.enforce.mode, denyResponse: cfg.denyResponse }),
  ];
  if (cfg.enforce.mode === 'enforce' && deps.programmer) {
    plugins.push(
      new NftsetPlugin({
        programmer: deps.programmer,
        ttl: cfg.ttl,
        commitTimeoutMs: cfg.limits.commitTimeoutMs,
        maxAddressesPerName: cfg.limits.maxAddressesPerName,
        index: deps.index,
        committed: deps.committed,
      }),
    );
  }
  plugins.push(new GuardPlugin({ guard: deps.guard ?? constant(AnswerGuard.fromConfig(cfg)), mode: cfg.enforce.mode }));
  if (cfg.cache.enabled) plugins.push(deps.cache ?? new CachePlugin({ maxEntries: cfg.cache.maxEntries, maxBytes: cfg.cache.maxBytes, admission: cfg.cache.admission }));
  plugins.push(new AnswerPlugin(cfg.ttl.max), new ForwardPlugin(deps.upstreams));
  return plugins;
}

function constant<T>(v: T): () => T {
  return () => v;
}
