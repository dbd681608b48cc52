// guard: an allowed name must not become a key to the node itself. Above the cache and below
// nftset, every reply to an allowed query of a managed source — from the upstream or from the
// cache — loses the addresses in a guarded range (built-in + answers.denyCIDRs) that none of the
// source's policies lets through with its allowCIDRs, before nftset programs anything. An answer
// left with no address becomes SERVFAIL + EDE 15 (Blocked). Audit mode only logs and counts.
import type { Logger } from 'pino';
import type { Metrics } from '../../metrics/registry';
import { registerGuardMetrics } from './metrics';
import type { Plugin, Request, Response, Stage } from '../types';
import type { AnswerAddress } from '../../dns/types';
import { truncatedResponse } from '../../dns/synth';
import { EDE } from '../../dns/constants';
import { servfail } from '../servfail';
import { ipv4Text, ipv6Text } from '../../dns/answer';
import { LogLimiter } from '../../util/ratelimit';
import { describeHit, type AnswerGuard } from './ranges';
import { stripAddresses } from './rewrite';

export interface GuardOptions {
  /** The compiled guard of the running configuration; read per reply so a reload takes effect. */
  guard: () => AnswerGuard;
  mode: 'enforce' | 'audit';
}

/** Counters of one policy (the policy whose rule allowed the name). */
export interface GuardPolicyStats {
  /** guarded addresses removed from replies (distinct per reply) */
  stripped: number;
  /** replies turned into SERVFAIL because no address was left */
  blocked: number;
  /** guarded addresses let through by an allowCIDRs entry of the source's policies */
  excepted: number;
  /** audit mode: addresses enforce mode would have removed */
  wouldStrip: number;
}

export interface GuardStats {
  byPolicy: Map<string, GuardPolicyStats>;
  /** replies that could not be walked (SERVFAIL, fail closed) */
  unreadable: number;
}

export class GuardPlugin implements Plugin {
  readonly name = 'guard';
  readonly stats: GuardStats = { byPolicy: new Map(), unreadable: 0 };
  private readonly limiter = new LogLimiter(20);

  constructor(private readonly opts: GuardOptions) {}

  private policyStats(policy: string): GuardPolicyStats {
    let s = this.stats.byPolicy.get(policy);
    if (!s) {
      s = { stripped: 0, blocked: 0, excepted: 0, wouldStrip: 0 };
      this.stats.byPolicy.set(policy, s);
    }
    return s;
  }

  setup(log: Logger, metrics: Metrics): Stage {
    registerGuardMetrics(metrics, this.stats);
    const { opts, stats, limiter } = this;
    const audit = opts.mode === 'audit';
    const up = (req: Request, res: Response): Response => {
      const d = req.decision;
      // Only what answer has read (allowed queries of managed sources) is programmed.
      if (d?.verdict !== 'allow' || !res.answer) return res;
      const g = opts.guard();
      const policies = d.policies;
      // Addresses removed, by hex; the predicate runs on every A/AAAA/hint of the reply.
      let removed: Map<string, string> | null = null;
      let excepted: Set<string> | null = null;
      const guarded = (buf: Buffer, off: number, size: 4 | 16): boolean => {
        const hit = g.check(buf, off, size);
        if (!hit) return false;
        const hex = buf.toString('hex', off, off + size);
        if (g.exception(buf, off, size, policies)) {
          (excepted ??= new Set()).add(hex);
          return false;
        }
        if (!removed?.has(hex)) (removed ??= new Map()).set(hex, `${addressText(buf, off, size)} (${describeHit(hit)})`);
        return true;
      };
      let stripped;
      try {
        stripped = stripAddresses(res.wire, guarded);
      } catch (err) {
        stats.unreadable++;
        log.warn({ source: req.source?.display ?? req.peer.address, name: req.query.name, err: (err as Error).message }, 'answer guard cannot read the reply; SERVFAIL');
        return servfail(req);
      }
      const policy = d.policy ?? policies[0] ?? '';
      const ex = excepted as Set<string> | null;
      const gone = removed as Map<string, string> | null;
      if (!ex && (!stripped || !gone)) return res;
      const ps = this.policyStats(policy);
      // An excepted address stays in the answer but gets no element: the static sets already
      // hold (source, allowCIDR) for exactly the policy's sources, and a reload that drops the
      // allowCIDRs entry then closes it at once (an element would live on until its timeout).
      const programmed = (a: AnswerAddress) => !ex?.has(a.bytes.toString('hex')) && !gone?.has(a.bytes.toString('hex'));
      if (ex) ps.excepted += ex.size;
      if (!stripped || !gone) {
        return audit ? res : { ...res, answer: { ...res.answer, addresses: res.answer.addresses.filter(programmed) } };
      }

      const left = res.answer.addresses.filter((a) => !gone.has(a.bytes.toString('hex')));
      const blocked = left.length === 0 && res.answer.addresses.length > 0;
      if (limiter.take()) {
        log.warn(
          { source: req.source?.display ?? req.peer.address, name: req.query.name, policy, addresses: [...gone.values()], audit, blocked, suppressed: limiter.suppressed() },
          audit
            ? 'answer guard would remove guarded addresses (audit mode)'
            : blocked
              ? 'answer guard blocked an answer with only guarded addresses; SERVFAIL'
              : 'answer guard removed guarded addresses',
        );
      }
      if (audit) {
        ps.wouldStrip += gone.size;
        return res;
      }
      ps.stripped += gone.size;
      if (blocked) {
        ps.blocked++;
        const [first] = gone.values();
        const more = gone.size > 1 ? ` and ${gone.size - 1} more` : '';
        const text = `dnswall answer guard: ${req.query.name || '.'} answered ${first}${more}`;
        return servfail(req, { code: EDE.BLOCKED, text });
      }
      // Removing records never grows a reply; this bound only keeps the transport's promise.
      if (stripped.wire.length > req.maxReplySize) {
        return { wire: truncatedResponse(req.wire, req.query), rcode: res.rcode, origin: 'synthesized' };
      }
      return { wire: stripped.wire, rcode: res.rcode, origin: res.origin, answer: { ...res.answer, addresses: res.answer.addresses.filter(programmed) } };
    };
    return { up };
  }
}

function addressText(buf: Buffer, off: number, size: 4 | 16): string {
  const b = buf.subarray(off, off + size);
  return size === 4 ? ipv4Text(b) : ipv6Text(b);
}
