// The daemon's cgroup identity setup: refused (exit 1, saying why) when cgroup sources are
// configured and this process sees no cgroup v2 mount, or when dnswall itself sits in a
// configured cgroup (its own upstream queries would be rejected by the output chain).
import type { Logger } from 'pino';
import type { Config } from '../config/types';
import type { PolicyIndex } from '../policy/index';
import type { Resolver } from '../identity/resolver';
import { CgroupIdentity } from '../identity/cgroup/identity';
import { findCgroup2Mount, ownCgroupPath } from '../identity/cgroup/mount';
import { CliError, EXIT_BAD_INPUT } from '../cli/exit';
import { PodSelectors } from '../policy/pods';

/** The "path" revocation decides a removed cgroup's elements by: not a path, so no policy selects it. */
export const GONE = '(removed cgroup)';

/** Pod selectors with the `kubernetes:` key: a selected hostNetwork pod is known by its pod cgroup. */
function hostNetworkPods(cfg: Config): boolean {
  return !!cfg.kubernetes && new PodSelectors(cfg.policies).any;
}

export function setupCgroups(cfg: Config, index: PolicyIndex, log: Logger): CgroupIdentity | undefined {
  if (index.cgroups.length === 0 && !hostNetworkPods(cfg)) return undefined;
  const paths = index.cgroups.map((c) => c.path);
  const mount = findCgroup2Mount();
  if (!mount && paths.length === 0) {
    log.warn('kubernetes: no cgroup v2 mount is visible in /proc/self/mountinfo: hostNetwork pods are not identified (their queries are judged by address)');
    return undefined;
  }
  if (!mount) {
    throw new CliError(
      `cgroup sources are configured (${paths.join(', ')}) but no cgroup v2 mount is visible in /proc/self/mountinfo: ` +
        'mount cgroup2 (pure v2: /sys/fs/cgroup; hybrid: /sys/fs/cgroup/unified), and do not start dnswall with "ip netns exec", which remounts /sys (use nsenter --net=)',
      EXIT_BAD_INPUT,
    );
  }
  const own = ownCgroupPath();
  if (own && index.selectCgroup(own) !== null) {
    throw new CliError(
      `dnswall runs in cgroup ${own}, which a cgroup source selects (${index.selectCgroup(own)!.names.join(', ')}): its own queries to the upstreams would be rejected; run it outside the configured cgroups`,
      EXIT_BAD_INPUT,
    );
  }
  log.info({ mount: mount.path, cgroups: paths, hostNetworkPods: hostNetworkPods(cfg) }, 'cgroup sources: local senders are identified by their socket cgroup');
  return new CgroupIdentity({ mount: mount.path, cfg, index, enforce: cfg.enforce.mode === 'enforce', log });
}

/** The identity plugin's cgroup resolver, following the daemon's current CgroupIdentity. */
export function cgroupResolver(current: () => CgroupIdentity | undefined): Resolver {
  return {
    name: 'cgroup',
    resolve: (q, index) => current()?.resolver.resolve(q, index) ?? null,
    settled: (source, done) => current()?.resolver.settled(source, done),
  };
}
