// The daemon's readiness checks (health.ts serves them on /readyz).
import { NfnlSocket } from '../nft/netlink/socket';
import { NFPROTO_INET } from '../nft/netlink/constants';
import { getTableMsg, getSetMsg } from '../nft/netlink/objects';
import type { ReadyCheck } from './health';
import type { ServerStats } from '../upstream/metrics';

/** The table and every set the ruleset defines exist (one GETTABLE/GETSET each, ~µs). */
export function rulesetCheck(table: string, sets: readonly string[]): ReadyCheck {
  return {
    name: 'ruleset',
    async check() {
      const sock = new NfnlSocket({ replyTimeoutMs: 2000 });
      try {
        try {
          await sock.get(`table inet ${table}`, (s) => getTableMsg(s, NFPROTO_INET, table));
        } catch (e) {
          return `table inet ${table}: ${(e as Error).message}`;
        }
        for (const set of sets) {
          try {
            await sock.get(`set inet ${table} ${set}`, (s) => getSetMsg(s, NFPROTO_INET, table, set));
          } catch (e) {
            return `set inet ${table} ${set}: ${(e as Error).message}`;
          }
        }
        return null;
      } finally {
        sock.close();
      }
    },
  };
}

/** The kernel took the last batch dnswall sent (or none was needed yet). */
export function kernelCheck(last: () => { ok: boolean; at: number; error?: string } | null): ReadyCheck {
  return {
    name: 'kernel',
    check() {
      const l = last();
      if (!l || l.ok) return Promise.resolve(null);
      return Promise.resolve(`the last nftables batch (${Math.round((Date.now() - l.at) / 1000)} s ago) failed: ${l.error}`);
    },
  };
}

/** Some upstream replied within `freshMs`; if none did, one probe (". NS") is sent now. */
export function upstreamCheck(servers: () => readonly ServerStats[], probe: () => Promise<void>, freshMs = 30_000): ReadyCheck {
  return {
    name: 'upstream',
    async check() {
      const latest = Math.max(0, ...servers().map((s) => s.lastReplyAt));
      if (latest > 0 && Date.now() - latest < freshMs) return null;
      try {
        await probe();
        return null;
      } catch (err) {
        return `no upstream answered in the last ${freshMs / 1000} s, and a probe failed: ${(err as Error).message}`;
      }
    },
  };
}
