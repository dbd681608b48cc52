// Reads the netlink log group the ruleset logs rejected connections to (NFLOG): binds the group
// on a NETLINK_NETFILTER socket (NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG), asks for the first bytes
// of each packet, and parses NFULNL_MSG_PACKET messages into (family, source, destination,
// protocol, port). Constants from the kernel's include/uapi/linux/netfilter/nfnetlink_log.h.
import { RawNetlinkSocket } from '../util/raw-netlink';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { NETLINK_NETFILTER, NLM_F_REQUEST, NLM_F_ACK, NFGENMSG_LEN } from '../nft/netlink/constants';
import { attr, nlmsg } from '../nft/netlink/encode';
import { parseMessages, parseError, attrMap } from '../nft/netlink/decode';

export const NFNL_SUBSYS_ULOG = 4;
export const NFULNL_MSG_PACKET = 0;
export const NFULNL_MSG_CONFIG = 1;
// enum nfulnl_attr_config
export const NFULA_CFG_CMD = 1;
export const NFULA_CFG_MODE = 2;
export const NFULA_CFG_TIMEOUT = 4; // __u32, 1/100 s, network order
export const NFULA_CFG_QTHRESH = 5; // __u32, network order
// enum nfulnl_msg_config_cmds
export const NFULNL_CFG_CMD_BIND = 1;
export const NFULNL_CFG_CMD_UNBIND = 2;
export const NFULNL_COPY_PACKET = 0x02;
// enum nfulnl_attr_type
export const NFULA_PACKET_HDR = 1;
export const NFULA_TIMESTAMP = 3;
export const NFULA_PAYLOAD = 9;
export const NFULA_PREFIX = 10;
const NFPROTO_IPV4 = 2;
const NFPROTO_IPV6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;

/** Bytes of each packet copied to us: an IPv6 header (40) and a TCP header's ports, with room. */
export const COPY_RANGE = 96;
/** Hand over after 64 packets or 100 ms, whichever first (the kernel's default is 1 s). */
const QTHRESH = 64;
const TIMEOUT_CS = 10;

export interface LoggedPacket {
  family: 4 | 6;
  source: string;
  destination: string;
  /** tcp, udp, icmp, icmpv6, or the protocol number */
  proto: string;
  /** destination port for TCP/UDP */
  port?: number;
  /** source port for TCP/UDP (finds a local sender's socket: cgroup drops) */
  sport?: number;
  /** NFULA_PREFIX: "dnswall drop" / "dnswall audit" (forward: addresses and pods), "dnswall cgdrop" / "dnswall cgaudit" (output: cgroup sources) */
  prefix: string;
  /** ms since the epoch: the kernel's timestamp when it sent one, else arrival here */
  at: number;
}

const U8 = (v: number) => Buffer.from([v]);
function be32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** NFULNL_MSG_CONFIG for `group` with the given attributes (res_id = group, big-endian). */
export function configMsg(seq: number, group: number, attrs: Buffer[]): Buffer {
  return nlmsg((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, seq, 0, attrs, group);
}

export function bindMessages(group: number, firstSeq: number): Buffer[] {
  const mode = Buffer.alloc(6);
  mode.writeUInt32BE(COPY_RANGE, 0); // struct nfulnl_msg_config_mode { __be32 copy_range; __u8 copy_mode; __u8 _pad; }
  mode[4] = NFULNL_COPY_PACKET;
  return [
    configMsg(firstSeq, group, [attr(NFULA_CFG_CMD, U8(NFULNL_CFG_CMD_BIND))]),
    configMsg(firstSeq + 1, group, [attr(NFULA_CFG_MODE, mode), attr(NFULA_CFG_QTHRESH, be32(QTHRESH)), attr(NFULA_CFG_TIMEOUT, be32(TIMEOUT_CS))]),
  ];
}

/** One NFULNL_MSG_PACKET payload (after nlmsghdr) → the packet's addresses; null if unreadable. */
export function parsePacket(payload: Buffer, now = Date.now()): LoggedPacket | null {
  if (payload.length < NFGENMSG_LEN) return null;
  const family = payload[0];
  const attrs = attrMap(payload.subarray(NFGENMSG_LEN));
  const data = attrs.get(NFULA_PAYLOAD);
  if (!data) return null;
  const prefixBuf = attrs.get(NFULA_PREFIX);
  const prefix = prefixBuf ? prefixBuf.toString('utf8', 0, prefixBuf.indexOf(0) < 0 ? prefixBuf.length : prefixBuf.indexOf(0)) : '';
  const ts = attrs.get(NFULA_TIMESTAMP); // struct nfulnl_msg_packet_timestamp { __be64 sec; __be64 usec; }
  const at = ts && ts.length >= 16 ? Number(ts.readBigUInt64BE(0)) * 1000 + Math.floor(Number(ts.readBigUInt64BE(8)) / 1000) : now;
  const version = data.length > 0 ? data[0] >> 4 : 0;
  if ((family === NFPROTO_IPV4 || version === 4) && data.length >= 20 && version === 4) {
    const ihl = (data[0] & 0x0f) * 4;
    const p = data[9];
    const out: LoggedPacket = {
      family: 4,
      source: ipaddr.fromByteArray([...data.subarray(12, 16)]).toString(),
      destination: ipaddr.fromByteArray([...data.subarray(16, 20)]).toString(),
      proto: protoName(p),
      prefix,
      at,
    };
    const fragOffset = data.readUInt16BE(6) & 0x1fff;
    if ((p === IPPROTO_TCP || p === IPPROTO_UDP) && fragOffset === 0 && data.length >= ihl + 4) {
      out.sport = data.readUInt16BE(ihl);
      out.port = data.readUInt16BE(ihl + 2);
    }
    return out;
  }
  if ((family === NFPROTO_IPV6 || version === 6) && data.length >= 40 && version === 6) {
    const nh = data[6];
    const out: LoggedPacket = {
      family: 6,
      source: ipaddr.fromByteArray([...data.subarray(8, 24)]).toString(),
      destination: ipaddr.fromByteArray([...data.subarray(24, 40)]).toString(),
      proto: protoName(nh),
      prefix,
      at,
    };
    if ((nh === IPPROTO_TCP || nh === IPPROTO_UDP) && data.length >= 44) {
      out.sport = data.readUInt16BE(40);
      out.port = data.readUInt16BE(42);
    }
    return out;
  }
  return null;
}

function protoName(p: number): string {
  return p === IPPROTO_TCP ? 'tcp' : p === IPPROTO_UDP ? 'udp' : p === IPPROTO_ICMP ? 'icmp' : p === IPPROTO_ICMPV6 ? 'icmpv6' : String(p);
}

/** The reader: bind, then emit each logged packet. Errors are reported, never thrown at the loop. */
export class NflogReader {
  private sock: RawNetlinkSocket | null = null;
  /** datagrams the kernel could not queue for us (ENOBUFS): drops that went unread */
  lost = 0;
  received = 0;

  constructor(
    private readonly group: number,
    private readonly onPacket: (p: LoggedPacket) => void,
    private readonly log?: Logger,
  ) {}

  /** Binds the group; rejects with the kernel's reason (EBUSY: another reader holds the group). */
  async open(): Promise<void> {
    const sock = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 16 });
    this.sock = sock;
    const seq = (Date.now() & 0x7fffffff) >>> 0;
    const acks = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
    sock.on('error', (err) => {
      if (err.code === 'ENOBUFS') {
        this.lost++;
        return;
      }
      this.log?.warn({ err: err.message }, 'drops: netlink log socket error');
    });
    sock.on('message', (buf) => {
      for (const m of parseMessages(buf)) {
        const errno = parseError(m);
        if (errno !== null) {
          const a = acks.get(m.seq);
          if (!a) continue;
          acks.delete(m.seq);
          if (errno === 0) a.resolve();
          else
            a.reject(
              Object.assign(
                new Error(
                  `binding netlink log group ${this.group} failed: errno ${errno}${errno === 16 ? ' (EBUSY: another program reads this group — choose another drops.logGroup)' : errno === 1 ? ' (EPERM: needs CAP_NET_ADMIN)' : ''}`,
                ),
                { errno },
              ),
            );
          continue;
        }
        if (m.type !== ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) continue;
        this.received++;
        const p = parsePacket(m.payload);
        if (p) this.onPacket(p);
      }
    });
    const msgs = bindMessages(this.group, seq);
    const waits = msgs.map((_, i) => new Promise<void>((resolve, reject) => acks.set(seq + i, { resolve, reject })));
    const timer = setTimeout(() => {
      for (const a of acks.values()) a.reject(new Error(`no answer from the kernel binding netlink log group ${this.group}`));
    }, 3000);
    try {
      sock.send(Buffer.concat(msgs), undefined, (err) => {
        if (err) for (const a of acks.values()) a.reject(err);
      });
      await Promise.all(waits);
    } catch (err) {
      this.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    sock.unref();
  }

  close(): void {
    const s = this.sock;
    this.sock = null;
    if (!s) return;
    try {
      s.close();
    } catch {
      /* closed */
    }
  }
}
