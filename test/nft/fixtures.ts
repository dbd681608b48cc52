// Shared configuration for the kernel tests.
import type { Config } from '../../lib/config/types';

export function testConfig(over: Partial<Config> = {}): Config {
  return {
    file: '<inline>',
    listen: [{ host: '127.0.0.1', port: 53, family: 4 }],
    upstreams: [{ host: '127.0.0.1', port: 5353, family: 4 }],
    denyResponse: 'nxdomain',
    ttl: { min: 10, max: 86400, grace: 10 },
    enforce: { mode: 'enforce', action: 'reject' },
    nftables: { table: 'dnswall' },
    limits: {
      upstreamTimeoutMs: 1500,
      commitTimeoutMs: 1000,
      tcpIdleTimeoutMs: 10000,
      tcpMaxConnections: 1000,
      maxPendingQueries: 20000,
      maxElementsPerSource: 10000,
      maxAddressesPerName: 256,
      maxElements: 1000000,
      sourceQueriesPerSecond: 2000,
    },
    cache: { enabled: true, maxEntries: 20000, maxBytes: 33554432, admission: 'second-miss' },
    metrics: null,
    answers: { denyCIDRs: [] },
    health: null,
    queryLog: 'denied',
    control: null,
    drops: { logGroup: 7, perSecond: 100 },
    policies: [
      {
        name: 'frontend',
        sources: [
          { kind: 'cidr', cidr: '10.244.1.0/24', family: 4, address: '10.244.1.0', prefix: 24 },
          { kind: 'cidr', cidr: 'fd00:10:244:1::/64', family: 6, address: 'fd00:10:244:1::', prefix: 64 },
        ],
        allow: [{ pattern: 'api.example.com', ports: [] }],
        allowCIDRs: [
          { cidr: '10.96.0.0/12', family: 4, address: '10.96.0.0', prefix: 12 },
          { cidr: '2001:db8:96::/48', family: 6, address: '2001:db8:96::', prefix: 48 },
        ],
      },
      {
        name: 'backup-agent',
        sources: [
          { kind: 'cgroup', path: '/system.slice/backup.service' },
          { kind: 'cidr', cidr: '10.244.1.7/32', family: 4, address: '10.244.1.7', prefix: 32 },
        ],
        allow: [{ pattern: '*.backup.example.com', ports: [{ proto: 'tcp', port: 443 }] }],
        allowCIDRs: [{ cidr: '198.51.100.0/24', family: 4, address: '198.51.100.0', prefix: 24 }],
      },
    ],
    ...over,
  };
}

export const TEST_INDEX = { managed: { v4: ['10.244.1.0/24', '10.244.1.7/32'], v6: ['fd00:10:244:1::/64'] }, cgroups: [{ path: '/system.slice/backup.service' }] };

export const ip4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));

import { renderRuleset, installRuleset } from '../../lib/nft/ruleset';
import { SetProgrammer, type SetProgrammerOptions } from '../../lib/nft/programmer';

/** Installs the test ruleset in the current namespace and opens a programmer on it. */
export async function openProgrammer(opts: Partial<SetProgrammerOptions> = {}): Promise<SetProgrammer> {
  await installRuleset(renderRuleset(testConfig(), TEST_INDEX));
  const p = new SetProgrammer({ table: 'dnswall', ...opts });
  await p.open();
  return p;
}

/** Seconds left of one element in `nft list set` output, or null. */
export function expiresSeconds(listing: string, element: string): number | null {
  const i = listing.indexOf(element);
  if (i < 0) return null;
  const m = /expires ((?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?)/.exec(listing.slice(i));
  if (!m) return null;
  let s = 0;
  for (const [, n, u] of m[1].matchAll(/(\d+)(ms|d|h|m|s)/g)) s += Number(n) * { d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 }[u as 'd'];
  return s;
}
