// nftset: hold an allowed answer until the kernel has committed every one of its addresses for
// this source. Failure or a commit slower than the bound → SERVFAIL (fail closed, clients retry).
import type { Logger } from 'pino';
import type { Handler, Plugin, Request, Response } from '../types';
import type { SetProgrammer } from '../../nft/programmer';
import type { PolicyIndex } from '../../policy/index';
import { errorResponse } from '../../dns/synth';
import { RCODE, EDE } from '../../dns/constants';
import { buildElements, type TtlPolicy } from './elements';
import { reselect } from '../../identity/select';
import type { Metrics } from '../../metrics/registry';
import { registerNftsetMetrics } from './metrics';

export interface NftsetOptions {
  programmer: Pick<SetProgrammer, 'add'>;
  ttl: TtlPolicy;
  commitTimeoutMs: number;
  /** limits.maxAddressesPerName: an answer with more addresses could not be programmed whole. */
  maxAddressesPerName: number;
  /** The live policy index: an answer decided before a reload is decided again by the new one. */
  index: () => PolicyIndex;
}

export interface NftsetStats {
  programmedAnswers: number;
  elements: number;
  failures: number;
  timeouts: number;
}

class CommitTimeout extends Error {}

export class NftsetPlugin implements Plugin {
  readonly name = 'nftset';
  readonly stats: NftsetStats = { programmedAnswers: 0, elements: 0, failures: 0, timeouts: 0 };
  /** Commits handed to the kernel and not settled yet (close() waits for them). */
  private inFlight = 0;
  private idle: (() => void)[] = [];
  /** One settle callback for every commit: no closure, Set entry or extra promises per answer. */
  private readonly settled = (): void => {
    if (--this.inFlight === 0 && this.idle.length > 0) for (const r of this.idle.splice(0)) r();
  };

  constructor(private readonly opts: NftsetOptions) {}

  setup(next: Handler, log: Logger, metrics?: Metrics): Handler {
    const { opts, stats } = this;
    const held = metrics ? registerNftsetMetrics(metrics, stats) : undefined;
    return async (req: Request): Promise<Response> => {
      const decidedBy = opts.index(); // the index policy used a moment ago, in this same tick
      const res = await next(req);
      let d = req.decision;
      const source = req.source;
      if (d?.verdict !== 'allow' || !source || !res.answer || res.answer.addresses.length === 0) return res;
      const index = opts.index();
      if (index !== decidedBy) {
        // Reloaded while the upstream answered: only what the new policy allows may be programmed.
        d = index.decide(reselect(source, index), req.query.name);
        if (d.verdict !== 'allow') {
          stats.failures++;
          log.info({ source: source.display, name: req.query.name }, 'no longer allowed after a reload; SERVFAIL');
          return { wire: errorResponse(req.wire, req.query, RCODE.SERVFAIL, { code: EDE.OTHER, text: 'dnswall: policy changed' }), rcode: RCODE.SERVFAIL, origin: 'synthesized' };
        }
      }
      const elements = buildElements(source, req.query.name, d, res.answer.addresses, opts.ttl);
      if (elements.length === 0) return res;
      // Distinct addresses ≤ elements: only an answer with more elements than the cap needs counting
      // (no per-answer strings and Set on the common path).
      const addresses = elements.length <= opts.maxAddressesPerName ? 0 : new Set(elements.map((e) => e.destination.toString('hex'))).size;
      if (addresses > opts.maxAddressesPerName) {
        // The programmer keeps only the newest maxAddressesPerName per (source, name): releasing
        // this answer would hand out addresses that are not in the set.
        stats.failures++;
        log.warn(
          { source: source.display, name: req.query.name, addresses, limit: opts.maxAddressesPerName },
          'answer has more addresses than limits.maxAddressesPerName; SERVFAIL',
        );
        return {
          wire: errorResponse(req.wire, req.query, RCODE.SERVFAIL, {
            code: EDE.OTHER,
            text: `dnswall: ${addresses} addresses exceed limits.maxAddressesPerName ${opts.maxAddressesPerName}`,
          }),
          rcode: RCODE.SERVFAIL,
          origin: 'synthesized',
        };
      }
      const t0 = process.hrtime.bigint();
      const commit = opts.programmer.add(elements);
      this.inFlight++;
      commit.then(this.settled, this.settled);
      try {
        await withTimeout(commit, opts.commitTimeoutMs);
      } catch (err) {
        const timedOut = err instanceof CommitTimeout;
        if (timedOut) stats.timeouts++;
        else stats.failures++;
        log.error({ source: source.display, name: req.query.name, err: (err as Error).message }, timedOut ? 'kernel commit too slow; SERVFAIL' : 'programming failed; SERVFAIL');
        const text = timedOut ? 'dnswall: firewall not ready in time' : 'dnswall: firewall programming failed';
        return {
          wire: errorResponse(req.wire, req.query, RCODE.SERVFAIL, { code: timedOut ? EDE.NOT_READY : EDE.OTHER, text }),
          rcode: RCODE.SERVFAIL,
          origin: 'synthesized',
        };
      }
      held?.observe(Number(process.hrtime.bigint() - t0) / 1e9);
      stats.programmedAnswers++;
      stats.elements += elements.length;
      return res;
    };
  }

  /** Wait for commits already handed to the kernel (bounded by their own timeouts). */
  close(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((r) => this.idle.push(r));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CommitTimeout(`no commit within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the commit's own rejection through unchanged
        reject(e);
      },
    );
  });
}
