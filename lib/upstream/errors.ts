// Stable error codes of the upstream layer. One exchange fails with one UpstreamError; when every
// server was tried, `attempts` says what happened at each (in the order they were tried).
import type { Endpoint } from '../config/types';

export type UpstreamErrorCode =
  /** every server was tried and every try timed out */
  | 'TIMEOUT'
  /** every server was tried; at least one failed otherwise than by timing out */
  | 'ALL_FAILED'
  /** maxInFlight exchanges are already waiting */
  | 'OVERLOADED'
  /** the pool is closed (or closing): nothing is sent any more */
  | 'CLOSED'
  /** the caller's query is not a DNS query with one readable question */
  | 'BAD_QUERY'
  /** per try: the socket refused to send (EMSGSIZE, ENETUNREACH...) */
  | 'SEND_FAILED'
  /** per try: no free query ID on the chosen socket (the pool is saturated) */
  | 'NO_ID'
  /** per try: the TCP connection failed or closed before a full reply arrived */
  | 'TCP_FAILED'
  /** per try: the TCP reply is not a reply to our query (length, ID, QR or question) */
  | 'BAD_REPLY'
  /** the constructor was given unusable options */
  | 'BAD_OPTIONS';

export interface Attempt {
  server: Endpoint;
  transport: 'udp' | 'tcp';
  code: UpstreamErrorCode;
  message: string;
}

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  readonly attempts: Attempt[];

  constructor(code: UpstreamErrorCode, message: string, attempts: Attempt[] = []) {
    super(message);
    this.name = 'UpstreamError';
    this.code = code;
    this.attempts = attempts;
  }
}

export { formatEndpoint as endpointText } from '../config/addresses';
