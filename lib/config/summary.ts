// The summary `dnswall check` prints for a valid configuration.
import type { Config } from './types';
import { formatEndpoint as endpoint } from './addresses';
import { resolveNodeName } from './kubernetes';
import type { KubernetesConfig } from './types';

function kubernetesLine(k: KubernetesConfig): string {
  const where = k.kubeconfig ? `kubeconfig ${k.kubeconfig}` : 'in-cluster';
  const cidrs = k.podCIDRs ? k.podCIDRs.map((c) => c.cidr).join(', ') : "the Node's spec.podCIDRs";
  return `kubernetes ${where}, node ${resolveNodeName(k)}${k.nodeName ? '' : ' ($NODE_NAME or host name)'}, pod CIDRs ${cidrs}, unknown pods held ${k.unknownPodHoldMs} ms, kubelet cgroup root ${k.cgroupRoot}, silent watch reconnected after ${k.watchIdleMs} ms`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function summarize(cfg: Config): string {
  const sources = cfg.policies.reduce((a, p) => a + p.sources.length, 0);
  const cgroups = cfg.policies.reduce((a, p) => a + p.sources.filter((s) => s.kind === 'cgroup').length, 0);
  const patterns = cfg.policies.reduce((a, p) => a + p.allow.length, 0);
  const cidrs = cfg.policies.reduce((a, p) => a + p.allowCIDRs.length, 0);
  const lines = [
    `${cfg.file}: ok`,
    `listen     ${cfg.listen.map(endpoint).join(', ')}`,
    `upstreams  ${cfg.upstreams.map(endpoint).join(', ')}`,
    `enforce    mode=${cfg.enforce.mode} action=${cfg.enforce.action} deny=${cfg.denyResponse}`,
    `ttl        min=${cfg.ttl.min}s max=${cfg.ttl.max}s grace=${cfg.ttl.grace}s`,
    `nftables   table inet ${cfg.nftables.table} stateFile=${cfg.nftables.stateFile ?? 'off'}`,
    `fairness   ${cfg.limits.sourceQueriesPerSecond > 0 ? `${cfg.limits.sourceQueriesPerSecond} queries/s per source (bursts of ${2 * cfg.limits.sourceQueriesPerSecond})` : 'off (limits.sourceQueriesPerSecond: 0)'}`,
    answerGuard(cfg),
    `observe    metrics=${cfg.metrics ? endpoint(cfg.metrics) : 'off'} health=${cfg.health ? endpoint(cfg.health) : 'off'} queryLog=${cfg.queryLog} control=${cfg.control ?? 'off'} drops=group ${cfg.drops.logGroup}, ${cfg.drops.perSecond}/s`,
    `policies   ${plural(cfg.policies.length, 'policy', 'policies')}, ` +
      `${plural(sources, 'source')} (${plural(sources - cgroups, 'CIDR')}, ${plural(cgroups, 'cgroup')}), ${plural(patterns, 'pattern')}, ${plural(cidrs, 'static CIDR')}`,
  ];
  if (cfg.kubernetes) lines.push(kubernetesLine(cfg.kubernetes));
  for (const p of cfg.policies) {
    const cg = p.sources.filter((s) => s.kind === 'cgroup').length;
    const pods = p.sources.filter((s) => s.kind === 'pods').length;
    const ip = p.sources.length - cg - pods;
    const src = [ip ? plural(ip, 'CIDR') : '', cg ? plural(cg, 'cgroup') : '', pods ? plural(pods, 'pod selector') : ''].filter(Boolean).join(' + ');
    const allow = p.allow.length === 0 && p.allowCIDRs.length === 0 ? 'default deny' : `${plural(p.allow.length, 'pattern')}, ${plural(p.allowCIDRs.length, 'static CIDR')}`;
    lines.push(`  - ${p.name}: ${src || 'no sources'}; ${allow}`);
  }
  return lines.join('\n');
}

/** The answer guard's ranges: built-in, then answers.denyCIDRs (lib/plugins/guard). */
function answerGuard(cfg: Config): string {
  const deny = cfg.answers.denyCIDRs.map((c) => c.cidr);
  const extra = deny.length === 0 ? 'no denyCIDRs' : `denyCIDRs ${deny.join(', ')}`;
  return `guard      built-in (loopback, unspecified, link-local, multicast, broadcast; IPv4-mapped too) + ${extra}`;
}
