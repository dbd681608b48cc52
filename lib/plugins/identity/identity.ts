// identity: who asked? Resolves req.source once per query — a local socket's cgroup (sock_diag),
// a pod of this node, else the source address — so that policy decides on the sender's
// selection and nftset programs its kernel keys. See lib/identity.
import type { Logger } from 'pino';
import type { Plugin, Request, Response, Stage } from '../types';
import type { PolicyIndex } from '../../policy/index';
import type { Resolver, Resolved } from '../../identity/resolver';
import { isUnattributable } from '../../identity/resolver';
import { ipSource } from '../../identity/ip';
import { EDE } from '../../dns/constants';
import { servfail } from '../servfail';
import { LogLimiter } from '../../util/ratelimit';

export interface IdentityOptions {
  /** Read per query so a reload can swap the index atomically. */
  index: () => PolicyIndex;
  /** Asked in order before the IP identity (cgroup for local senders, then pods). */
  resolvers?: Resolver[];
}

export interface IdentityStats {
  /** queries resolved per kind */
  ip: number;
  pod: number;
  cgroup: number;
  /** senders a resolver was responsible for but could not name (answered SERVFAIL) */
  unattributable: number;
}

export class IdentityPlugin implements Plugin {
  readonly name = 'identity';
  readonly stats: IdentityStats = { ip: 0, pod: 0, cgroup: 0, unattributable: 0 };
  private readonly limiter = new LogLimiter(5);

  constructor(private readonly opts: IdentityOptions) {}

  setup(log: Logger): Stage {
    const { opts, stats, limiter } = this;
    const resolvers = opts.resolvers ?? [];
    const unattributable = (req: Request, why: string): Response => {
      stats.unattributable++;
      if (limiter.take()) {
        log.warn(
          { source: req.peer.address, port: req.peer.port, transport: req.transport, name: req.query.name, why, suppressed: limiter.suppressed() },
          'sender cannot be attributed; SERVFAIL',
        );
      }
      return servfail(req, { code: EDE.OTHER, text: `dnswall: sender not attributable (${why})` });
    };
    // The selection belongs to the index that resolved it: policy, called in the same tick as
    // this returns, reads the same index. A resolver that had to wait may have seen a reload:
    // resolve again with the new index.
    const run = (req: Request): Response | undefined | Promise<Response | undefined> => settle(req, opts.index(), null, -1);
    const settle = (req: Request, index: PolicyIndex, r: Resolved, i: number): Response | undefined | Promise<Response | undefined> => {
      for (;;) {
        if (r !== null) {
          if (isUnattributable(r)) return unattributable(req, r.unattributable);
          req.source = r;
          stats[r.kind]++;
          const resolver = resolvers[i];
          if (resolver.settled) {
            // the resolver waits for this query's answer (a pod's revocation): told when it passes up
            let end!: () => void;
            resolver.settled(r, new Promise<void>((resolve) => (end = resolve)));
            req.untrack = end;
          }
          return undefined;
        }
        if (++i >= resolvers.length) break;
        const got = resolvers[i].resolve(req, index);
        if (got instanceof Promise) return got.then((g) => (opts.index() === index ? settle(req, index, g, i) : run(req)));
        r = got;
      }
      req.source = ipSource(index, req.peer);
      stats.ip++;
      return undefined;
    };
    return {
      down: run,
      up: (req, res) => {
        if (req.untrack !== undefined) req.untrack();
        return res;
      },
    };
  }
}
