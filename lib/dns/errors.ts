// The one error the codec throws for bad wire data.

/**
 * Why a packet was refused; the server maps it to what it does:
 * - 'SHORT':    fewer than 12 bytes, no complete header: drop (nothing to answer to)
 * - 'RESPONSE': a query-side packet with QR=1: drop (answering responses invites loops and reflection)
 * - 'NOTIMP':   a well-formed header with an opcode other than QUERY: answer NOTIMP
 * - 'FORMERR':  the header was readable, the rest is not: answer FORMERR
 */
export type DnsErrorCode = 'SHORT' | 'RESPONSE' | 'NOTIMP' | 'FORMERR';

export class DnsFormatError extends Error {
  override readonly name = 'DnsFormatError';
  constructor(
    message: string,
    readonly code: DnsErrorCode = 'FORMERR',
    /** byte offset where the problem was found, -1 if not about one place */
    readonly offset: number = -1,
  ) {
    super(offset >= 0 ? `${message} at offset ${offset}` : message);
  }
}
