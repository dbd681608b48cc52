// A source's selection under another policy index: an answer that was upstream while a reload
// swapped the index is decided again by nftset with the new one.
import type { PolicyIndex } from '../policy/index';
import type { Selection, Source } from './types';
import { deepestConfigured } from './cgroup/ancestors';

/**
 * The policies of `index` selecting `source`; null = unmanaged there; undefined = its kernel keys
 * would differ under `index` (a cgroup whose deepest configured ancestor changed), so nothing
 * may be programmed with the keys it carries — the caller answers SERVFAIL and the client asks again.
 */
export function reselect(source: Source, index: PolicyIndex): Selection | null | undefined {
  switch (source.kind) {
    case 'ip':
      return index.selectAddress(source.address) ?? undefined;
    case 'cgroup': {
      const cg = source.cgroup;
      if (!cg || source.pod) return undefined; // a hostNetwork pod: decided again by its next query
      const sel = index.selectCgroup(cg.path);
      if (sel === null) return null;
      return deepestConfigured(
        index.cgroups.map((c) => c.path),
        cg.path,
      ) === cg.keyPath
        ? sel
        : undefined;
    }
    default:
      return undefined;
  }
}
