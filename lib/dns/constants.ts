// DNS protocol numbers, by their RFC / IANA names.

/** Resource record types (RFC 1035 §3.2.2, IANA "Resource Record (RR) TYPEs"). */
export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  NAPTR: 35,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  TLSA: 52,
  SVCB: 64,
  HTTPS: 65,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;

/** Classes (RFC 1035 §3.2.4). */
export const CLASS = {
  IN: 1,
  CH: 3,
  HS: 4,
  NONE: 254,
  ANY: 255,
} as const;

/** Response codes; values above 15 need the OPT record's EXTENDED-RCODE (RFC 6891 §6.1.3). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
} as const;

/** Header OPCODE field values (RFC 1035, RFC 1996, RFC 2136). */
export const OPCODE = {
  QUERY: 0,
  IQUERY: 1,
  STATUS: 2,
  NOTIFY: 4,
  UPDATE: 5,
} as const;

/** Bit masks in the 16-bit header flags word (RFC 1035 §4.1.1, RFC 4035 §3.2). */
export const FLAG = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;
export const OPCODE_SHIFT = 11;
export const OPCODE_MASK = 0x7800;
export const RCODE_MASK = 0x000f;

/** DO bit in the flags half of the OPT TTL field (RFC 3225). */
export const EDNS_DO = 0x8000;

/** EDNS(0) option codes (IANA "DNS EDNS0 Option Codes"). */
export const EDNS_OPTION = {
  NSID: 3,
  CLIENT_SUBNET: 8,
  COOKIE: 10,
  TCP_KEEPALIVE: 11,
  PADDING: 12,
  EDE: 15,
} as const;

/** Extended DNS Error INFO-CODEs (RFC 8914 §4). */
export const EDE = {
  OTHER: 0,
  UNSUPPORTED_DNSKEY_ALGORITHM: 1,
  UNSUPPORTED_DS_DIGEST_TYPE: 2,
  STALE_ANSWER: 3,
  FORGED_ANSWER: 4,
  DNSSEC_INDETERMINATE: 5,
  DNSSEC_BOGUS: 6,
  SIGNATURE_EXPIRED: 7,
  SIGNATURE_NOT_YET_VALID: 8,
  DNSKEY_MISSING: 9,
  RRSIGS_MISSING: 10,
  NO_ZONE_KEY_BIT_SET: 11,
  NSEC_MISSING: 12,
  CACHED_ERROR: 13,
  NOT_READY: 14,
  BLOCKED: 15,
  CENSORED: 16,
  FILTERED: 17,
  PROHIBITED: 18,
  STALE_NXDOMAIN_ANSWER: 19,
  NOT_AUTHORITATIVE: 20,
  NOT_SUPPORTED: 21,
  NO_REACHABLE_AUTHORITY: 22,
  NETWORK_ERROR: 23,
  INVALID_DATA: 24,
} as const;

/** SvcParamKeys of SVCB/HTTPS records (RFC 9460 §14.3.2). */
export const SVCPARAM = {
  MANDATORY: 0,
  ALPN: 1,
  NO_DEFAULT_ALPN: 2,
  PORT: 3,
  IPV4HINT: 4,
  ECH: 5,
  IPV6HINT: 6,
} as const;

/** Sizes and limits with their reasons. */
export const HEADER_SIZE = 12; // RFC 1035 §4.1.1
export const MAX_NAME_WIRE = 255; // RFC 1035 §2.3.4, length octets included
export const MIN_UDP_SIZE = 512; // RFC 6891 §6.2.5: smaller advertised sizes mean 512
export const EDNS_UDP_SIZE = 1232; // DNS flag day 2020: avoids IP fragmentation
export const MAX_EDE_TEXT = 200; // our bound: keeps synthesized answers far below 512 bytes

const typeNames = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));
const rcodeNames = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));

/** "A", "AAAA", ... or "TYPE<n>" (RFC 3597 §5) for numbers without a name here. */
export function typeName(n: number): string {
  return typeNames.get(n) ?? `TYPE${n}`;
}

/** "NOERROR", "NXDOMAIN", ... or "RCODE<n>". */
export function rcodeName(n: number): string {
  return rcodeNames.get(n) ?? `RCODE${n}`;
}
