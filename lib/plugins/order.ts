// The order of the request path, in one place (like CoreDNS's plugin.cfg). Every plugin feels
// the effects of all plugins below it:
//
//   querylog → policy → nftset → cache → answer → forward
//
// policy answers denials; nftset holds an allowed reply until the kernel has its addresses;
// cache serves repeated allowed questions (below nftset: a hit still programs the asking source;
// above answer: it stores replies already read and TTL-capped); answer reads (and TTL-caps) the
// reply that forward relays from the upstreams.
import type { Config } from '../config/types';
import type { Plugin } from './types';
import type { PolicyIndex } from '../policy/index';
import type { SetProgrammer } from '../nft/programmer';
import type { Upstreams } from '../upstream/upstreams';
import { QueryLogPlugin } from './querylog/querylog';
import { PolicyPlugin } from './policy/policy';
import { NftsetPlugin } from './nftset/nftset';
import { CachePlugin } from './cache/cache';
import { AnswerPlugin } from './answer/answer';
import { ForwardPlugin } from './forward/forward';

export interface ChainDeps {
  index: () => PolicyIndex;
  upstreams: Pick<Upstreams, 'exchange'>;
  /** absent in audit mode: nothing is programmed */
  programmer?: Pick<SetProgrammer, 'add'>;
}

export function standardPlugins(cfg: Config, deps: ChainDeps): Plugin[] {
  const plugins: Plugin[] = [
    new QueryLogPlugin(),
    new PolicyPlugin({ index: deps.index, mode: cfg.enforce.mode, denyResponse: cfg.denyResponse }),
  ];
  if (cfg.enforce.mode === 'enforce' && deps.programmer) {
    plugins.push(new NftsetPlugin({ programmer: deps.programmer, ttl: cfg.ttl, commitTimeoutMs: cfg.limits.commitTimeoutMs, maxAddressesPerName: cfg.limits.maxAddressesPerName, index: deps.index }));
  }
  if (cfg.cache.enabled) plugins.push(new CachePlugin({ maxEntries: cfg.cache.maxEntries, maxBytes: cfg.cache.maxBytes }));
  plugins.push(new AnswerPlugin(cfg.ttl.max), new ForwardPlugin(deps.upstreams));
  return plugins;
}
