// Counters of the upstream layer, a plain object so metrics can read it without a registry.

export interface UpstreamStats {
  /** exchanges started (calls of exchange() that passed the in-flight cap) */
  exchanges: number;
  /** queries written to an upstream, UDP and TCP */
  sent: number;
  /** UDP datagrams that arrived on the pool's sockets, accepted or not */
  received: number;
  /** replies accepted (UDP and TCP) */
  accepted: number;
  /** UDP datagrams dropped: from an address or port other than the server asked */
  droppedSource: number;
  /** UDP datagrams dropped: right source and ID but QR=0 or another question */
  droppedMismatch: number;
  /** UDP datagrams dropped: no query in flight with that ID on that socket (late or forged) */
  droppedUnexpected: number;
  /** UDP datagrams dropped: shorter than a DNS header */
  droppedMalformed: number;
  /** tries that timed out (UDP or TCP) */
  timeouts: number;
  /** moves to the next server after a failed try or a SERVFAIL/REFUSED reply */
  failovers: number;
  /** UDP replies with TC=1 retried over TCP */
  tcpRetries: number;
  /** TCP tries that failed otherwise than by timeout (refused, reset, bad framing) */
  tcpErrors: number;
  /** sends the kernel refused */
  sendErrors: number;
  /** 'error' events on pool sockets (logged, never fatal) */
  socketErrors: number;
  /** exchanges refused because maxInFlight were waiting */
  overloaded: number;
}

export function newStats(): UpstreamStats {
  return {
    exchanges: 0,
    sent: 0,
    received: 0,
    accepted: 0,
    droppedSource: 0,
    droppedMismatch: 0,
    droppedUnexpected: 0,
    droppedMalformed: 0,
    timeouts: 0,
    failovers: 0,
    tcpRetries: 0,
    tcpErrors: 0,
    sendErrors: 0,
    socketErrors: 0,
    overloaded: 0,
  };
}
