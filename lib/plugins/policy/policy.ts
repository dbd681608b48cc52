// policy: decide (source, name) once — the source's selection, resolved by identity — answer denials here, let the rest go down the chain.
import type { Logger } from 'pino';
import type { Plugin, Request, Response, Stage } from '../types';
import type { PolicyIndex } from '../../policy/index';
import { denyResponse } from '../../dns/synth';
import { RCODE } from '../../dns/constants';
import type { Metrics } from '../../metrics/registry';
import { registerPolicyMetrics, countDecision } from './metrics';

export interface PolicyOptions {
  /** Read per query so a reload can swap the index atomically. */
  index: () => PolicyIndex;
  mode: 'enforce' | 'audit';
  denyResponse: 'nxdomain' | 'refused';
}

export interface PolicyStats {
  allowed: number;
  denied: number;
  unmanaged: number;
  /** audit mode: queries that enforce mode would have denied */
  wouldDeny: number;
  /** decisions by `policy\0verdict` (metrics.ts) */
  readonly byPolicy: Map<string, number>;
}

export class PolicyPlugin implements Plugin {
  readonly name = 'policy';
  readonly stats: PolicyStats = { allowed: 0, denied: 0, unmanaged: 0, wouldDeny: 0, byPolicy: new Map() };

  constructor(private readonly opts: PolicyOptions) {}

  setup(log: Logger, metrics?: Metrics): Stage {
    const { opts, stats } = this;
    if (metrics) registerPolicyMetrics(metrics, stats);
    const rcode = opts.denyResponse === 'refused' ? RCODE.REFUSED : RCODE.NXDOMAIN;
    const audit = opts.mode === 'audit';
    const down = (req: Request): Response | undefined => {
      // Below identity: req.source is set. Without it (a chain built wrongly) every source is
      // judged as no policy's — deny, never an unfiltered answer.
      const index = opts.index();
      const d = index.decide(req.source ? req.source.selection : undefined, req.query.name);
      req.decision = d;
      req.decidedBy = index;
      if (d.verdict === 'allow') {
        stats.allowed++;
        countDecision(stats, d.policy ?? '', 'allow');
        return undefined;
      }
      if (d.verdict === 'unmanaged') {
        stats.unmanaged++;
        countDecision(stats, '', 'unmanaged');
        return undefined;
      }
      // The denial is logged by querylog (config queryLog), with the final rcode and latency.
      if (audit) {
        stats.wouldDeny++;
        countDecision(stats, d.policies.join(','), 'would_deny');
        return undefined;
      }
      stats.denied++;
      countDecision(stats, d.policies.join(','), 'deny');
      const text = `dnswall: ${req.query.name || '.'} not allowed by policy ${d.policies.join(',')}`;
      return { wire: denyResponse(req.wire, req.query, rcode, text), rcode, origin: 'synthesized' };
    };
    return { down };
  }
}
