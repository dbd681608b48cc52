import type { Family, PortRule } from '../config/types';

/** What the policy says about one (source, name). */
export interface Decision {
  /** unmanaged: no policy selects the source, the query passes unfiltered and nothing is programmed. */
  verdict: 'allow' | 'deny' | 'unmanaged';
  /** Names of the policies that select the source (empty when unmanaged). */
  policies: readonly string[];
  /** For allow: the policy and pattern of the first matching rule (config order); for deny: undefined. */
  policy?: string;
  pattern?: string;
  /** For allow: true when some matching rule allows every port. */
  allPorts: boolean;
  /** For allow with allPorts=false: the union of the matching rules' ports, deduplicated. */
  ports: PortRule[];
}

/** An IP source by address (the CLI's --source; reload revocation). */
export interface AddressSource {
  address: string; // canonical textual IP (IPv4-mapped IPv6 converted to IPv4)
  family: Family;
}
