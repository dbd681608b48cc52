// The summary `dnswall check` prints for a valid configuration.
import type { Config } from './types';
import { formatEndpoint as endpoint } from './addresses';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function summarize(cfg: Config): string {
  const sources = cfg.policies.reduce((a, p) => a + p.sources.length, 0);
  const patterns = cfg.policies.reduce((a, p) => a + p.allow.length, 0);
  const cidrs = cfg.policies.reduce((a, p) => a + p.allowCIDRs.length, 0);
  const lines = [
    `${cfg.file}: ok`,
    `listen     ${cfg.listen.map(endpoint).join(', ')}`,
    `upstreams  ${cfg.upstreams.map(endpoint).join(', ')}`,
    `enforce    mode=${cfg.enforce.mode} action=${cfg.enforce.action} deny=${cfg.denyResponse}`,
    `ttl        min=${cfg.ttl.min}s max=${cfg.ttl.max}s grace=${cfg.ttl.grace}s`,
    `nftables   table inet ${cfg.nftables.table}`,
    `policies   ${plural(cfg.policies.length, 'policy', 'policies')}, ` +
      `${plural(sources, 'source')}, ${plural(patterns, 'pattern')}, ${plural(cidrs, 'static CIDR')}`,
  ];
  for (const p of cfg.policies) {
    const cg = p.sources.filter((s) => s.kind === 'cgroup').length;
    const ip = p.sources.length - cg;
    const src = [ip ? plural(ip, 'CIDR') : '', cg ? plural(cg, 'cgroup') : ''].filter(Boolean).join(' + ');
    const allow = p.allow.length === 0 && p.allowCIDRs.length === 0 ? 'default deny' : `${plural(p.allow.length, 'pattern')}, ${plural(p.allowCIDRs.length, 'static CIDR')}`;
    lines.push(`  - ${p.name}: ${src || 'no sources'}; ${allow}`);
  }
  return lines.join('\n');
}
