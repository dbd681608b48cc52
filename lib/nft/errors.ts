// Errors of the kernel layer. `code` is the errno name (ENOENT, EPERM, ...) or one of ours
// (ETIMEDOUT for a batch the kernel never answered, ENOBUFS for replies lost to overflow).
import { constants } from 'os';

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

export class NftError extends Error {
  readonly code: string;
  readonly errno?: number;
  constructor(code: string, message: string, errno?: number) {
    super(message);
    this.name = 'NftError';
    this.code = code;
    if (errno !== undefined) this.errno = errno;
  }
}

export const CAP_HINT = 'dnswall needs CAP_NET_ADMIN to program nftables (run as root or grant the capability)';

/** Error for a negative-errno reply; EPERM gets the capability hint. */
export function kernelError(errno: number, what: string): NftError {
  const name = errnoName(errno);
  if (name === 'EPERM') return new NftError('EPERM', `${what}: Operation not permitted — ${CAP_HINT}`, errno);
  return new NftError(name, `${what}: ${name}`, errno);
}
