// The kernel layer: the ruleset (nft -f) and the allow-set programmer (raw netlink).
export { renderRuleset, installRuleset, SET_DEFINITIONS, type ManagedIndex } from './ruleset';
export { SetProgrammer, MAX_TIMEOUT_MS, type Element, type SetProgrammerOptions, type BatchInfo } from './programmer';
export { listElements, formatList, formatPort, formatDuration, type ListedElement, type ListOptions } from './list';
export { ALLOW_SETS, type AllowSet, type KeyFields } from './keys';
export { NftError, CAP_HINT } from './errors';
