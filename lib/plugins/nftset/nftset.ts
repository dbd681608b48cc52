// nftset: hold an allowed answer until the kernel has committed every one of its addresses for
// this source. Failure or a commit slower than the bound → SERVFAIL (fail closed, clients retry).
import type { Logger } from 'pino';
import type { Plugin, Request, Response, Stage } from '../types';
import type { SetProgrammer } from '../../nft/programmer';
import type { Element } from '../../nft/keys';
import type { PolicyIndex } from '../../policy/index';
import { EDE } from '../../dns/constants';
import { servfail } from '../servfail';
import { buildElements, type TtlPolicy } from './elements';
import { reselect } from '../../identity/select';
import type { Metrics } from '../../metrics/registry';
import { registerNftsetMetrics } from './metrics';

export interface NftsetOptions {
  /** hold is optional: without it every answer waits for add(). */
  programmer: Pick<SetProgrammer, 'add'> & Partial<Pick<SetProgrammer, 'hold'>>;
  ttl: TtlPolicy;
  commitTimeoutMs: number;
  /** limits.maxAddressesPerName: an answer with more addresses could not be programmed whole. */
  maxAddressesPerName: number;
  /** The live policy index: an answer decided before a reload is decided again by the new one. */
  index: () => PolicyIndex;
  /** Told of an answer's elements once they are committed (before the reply is released). */
  committed?: (elements: Element[]) => void;
}

export interface NftsetStats {
  programmedAnswers: number;
  elements: number;
  failures: number;
  timeouts: number;
}

export class NftsetPlugin implements Plugin {
  readonly name = 'nftset';
  readonly stats: NftsetStats = { programmedAnswers: 0, elements: 0, failures: 0, timeouts: 0 };
  /** Commits handed to the kernel and not settled yet (close() waits for them). */
  private inFlight = 0;
  private idle: (() => void)[] = [];
  /** A commit settled (either way). */
  private readonly settled = (): void => {
    if (--this.inFlight === 0 && this.idle.length > 0) for (const r of this.idle.splice(0)) r();
  };

  constructor(private readonly opts: NftsetOptions) {}

  setup(log: Logger, metrics?: Metrics): Stage {
    const { opts, stats } = this;
    const held = metrics ? registerNftsetMetrics(metrics, stats) : undefined;
    const up = (req: Request, res: Response): Response | Promise<Response> => {
      let d = req.decision;
      const source = req.source;
      if (d?.verdict !== 'allow' || !source || !res.answer || res.answer.addresses.length === 0) return res;
      const index = opts.index();
      if (req.decidedBy !== undefined && index !== req.decidedBy) {
        // Reloaded while the upstream answered: only what the new policy allows may be programmed.
        d = index.decide(reselect(source, index), req.query.name);
        if (d.verdict !== 'allow') {
          stats.failures++;
          log.info({ source: source.display, name: req.query.name }, 'no longer allowed after a reload; SERVFAIL');
          return servfail(req, { code: EDE.OTHER, text: 'dnswall: policy changed' });
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
        return servfail(req, { code: EDE.OTHER, text: `dnswall: ${addresses} addresses exceed limits.maxAddressesPerName ${opts.maxAddressesPerName}` });
      }
      // An upstream reply comes a poll phase after its query: if the book vouches for every
      // element now, the kernel holds them and the answer goes at once (SetProgrammer.hold,
      // holdsAll). A cache hit waits for the check phase (add()).
      const commit = opts.programmer.hold ? opts.programmer.hold(elements, res.origin === 'upstream') : opts.programmer.add(elements);
      if (commit === null) {
        this.record(elements, log);
        held?.observe(0);
        stats.programmedAnswers++;
        stats.elements += elements.length;
        return res;
      }
      const t0 = performance.now();
      this.inFlight++;
      // One promise per held answer: settled by the commit or by the bound, whichever comes first.
      return new Promise<Response>((resolve) => {
        let late = false;
        const timer = setTimeout(() => {
          late = true;
          stats.timeouts++;
          log.error({ source: source.display, name: req.query.name, err: `no commit within ${opts.commitTimeoutMs} ms` }, 'kernel commit too slow; SERVFAIL');
          resolve(servfail(req, { code: EDE.NOT_READY, text: 'dnswall: firewall not ready in time' }));
        }, opts.commitTimeoutMs);
        commit.then(
          () => {
            this.settled();
            clearTimeout(timer);
            this.record(elements, log); // the kernel took them, even past the bound
            if (late) return; // answered SERVFAIL at the bound
            held?.observe((performance.now() - t0) / 1e3);
            stats.programmedAnswers++;
            stats.elements += elements.length;
            resolve(res);
          },
          (err: unknown) => {
            this.settled();
            clearTimeout(timer);
            if (late) return;
            stats.failures++;
            log.error({ source: source.display, name: req.query.name, err: (err as Error).message }, 'programming failed; SERVFAIL');
            resolve(servfail(req, { code: EDE.OTHER, text: 'dnswall: firewall programming failed' }));
          },
        );
      });
    };
    return { up };
  }

  /** Tells ChainDeps.committed of elements the kernel holds; a failure there is logged, the answer still goes. */
  private record(elements: Element[], log: Logger): void {
    try {
      this.opts.committed?.(elements);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'recording committed elements failed');
    }
  }

  /** Wait for commits already handed to the kernel (bounded by their own timeouts). */
  close(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((r) => this.idle.push(r));
  }
}
