// Shapes shared by the DNS codec (lib/dns) and its users.

/** The parts of a client query that the request path needs; produced by parseQuery(). */
export interface Query {
  id: number;
  /** The 16-bit flags word as received (QR, OPCODE, AA, TC, RD, RA, Z, AD, CD, RCODE). */
  flags: number;
  opcode: number;
  /** Question name lowercased, without the trailing dot; "" for the root. */
  name: string;
  qtype: number;
  qclass: number;
  /** Byte offset just past the (single) question: wire.subarray(12, questionEnd) is the question. */
  questionEnd: number;
  /** null when the query carries no OPT record. */
  edns: null | { udpSize: number; version: number; do: boolean };
}

/** One address the answer gives for the query name (through its CNAME chain, or SVCB/HTTPS hints). */
export interface AnswerAddress {
  family: 4 | 6;
  /** canonical textual form, e.g. "198.18.0.1", "2001:db8::1" */
  address: string;
  /** raw 4 or 16 bytes, network order */
  bytes: Buffer;
  /** TTL in seconds as the client receives it (after capping at ttl.max). */
  ttl: number;
}

/** What readAnswer() finds in an upstream reply. */
export interface AnswerInfo {
  rcode: number;
  truncated: boolean;
  addresses: AnswerAddress[];
  /** Names of the CNAME chain from the query name, query name first (lowercased, no trailing dot). */
  chain: string[];
}
