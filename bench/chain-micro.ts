// The request chain's own CPU per query, without the network (issue 13; not part of `npm run bench`).
// The real daemon (ruleset, SetProgrammer with its change watch, every plugin) runs in a network
// namespace of its own; queries go straight into its chain, and the upstream is replaced by
// canned replies, so what is measured is dnswall's per-query work: identity, policy, nftset and
// the programmer (a kernel commit per new element, none for a trusted refresh), guard, cache,
// answer, metrics, and the promises between them. No packet leaves the process.
//   node dist/bench/chain-micro.js [--mode enforce|audit] [--names hot|unique] [--cache]
//                                  [--queries 200000] [--concurrency 100] [--rounds 3]
// Under `node --cpu-prof` (a node flag before the script) the profile holds only this work.
import pino from 'pino';
import { inOwnNetns } from './own-netns';
import { daemonConfig } from './targets';
import { DOMAIN } from './names';
import { parseConfig } from '../lib/config/load';
import { Daemon } from '../lib/server/daemon';
import { intake } from '../lib/server/request';
import type { Handler } from '../lib/plugins/types';
import { allocationProfile } from './alloc';
import { arg, has } from './args';

const PEER = '192.0.2.10';

function query(name: string, id: number): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const q = Buffer.concat([Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  return q;
}

/** The upstream's reply to `wire`: one A record (198.18.0.0/15 by name index), TTL 300. */
function reply(wire: Buffer, addr: number): Buffer {
  const r = Buffer.alloc(wire.length + 16);
  wire.copy(r);
  r[2] = 0x81;
  r[3] = 0x80;
  r.writeUInt16BE(1, 6);
  let o = wire.length;
  r.writeUInt16BE(0xc00c, o);
  r.writeUInt16BE(1, o + 2);
  r.writeUInt16BE(1, o + 4);
  r.writeUInt32BE(300, o + 6);
  r.writeUInt16BE(4, o + 10);
  o += 12;
  r[o] = 198;
  r[o + 1] = 18 + ((addr >> 16) & 1);
  r[o + 2] = (addr >> 8) & 0xff;
  r[o + 3] = addr & 0xff;
  return r;
}

async function inner(): Promise<void> {
  const mode = arg('--mode', 'enforce');
  const names = arg('--names', 'hot');
  const n = Number(arg('--queries', '200000'));
  const conc = Number(arg('--concurrency', '100'));
  const rounds = Number(arg('--rounds', '3'));
  const cfg = parseConfig(
    daemonConfig({ listen: '127.0.0.1:5353', upstream: '127.0.0.1:5399', table: 'dwmicro', sources: ['192.0.2.0/24'], mode: mode as 'enforce' | 'audit', cache: has('--cache') }),
    'chain-micro',
  );
  const daemon = new Daemon(cfg, pino({ level: 'warn' }));
  await daemon.start();
  try {
    // The forward plugin holds this object: its exchange answers from the name's canned reply.
    const up = (daemon as unknown as { upstreams: { exchange: (w: Buffer) => Promise<{ wire: Buffer }> } }).upstreams;
    up.exchange = (w: Buffer) => {
      const i = Number(/[hu](\d+)\./.exec(w.toString('latin1', 13))?.[1] ?? 0);
      return Promise.resolve({ wire: reply(w, i) });
    };
    const handle = (): Handler => daemon.requestChain!.handle;
    const local = { address: '127.0.0.1', port: 53 };
    let next = 0;
    const nameOf = (i: number) => (names === 'hot' ? `h${i % 100}.${DOMAIN}` : `u${i}.${DOMAIN}`);
    const run = (count: number): Promise<{ rcodes: number[] }> =>
      new Promise((resolve) => {
        const rcodes = new Array<number>(16).fill(0);
        let started = 0;
        let done = 0;
        const one = (): void => {
          const i = next++;
          started++;
          const it = intake(query(nameOf(i), i & 0xffff), PEER, 40000 + (i % 1000), 'udp', local);
          if (it.kind !== 'query') throw new Error(`intake: ${it.kind}`);
          void handle()(it.req).then((res) => {
            rcodes[res.rcode]++;
            if (++done === count) resolve({ rcodes });
            else if (started < count) one();
          });
        };
        for (let k = 0; k < Math.min(conc, count); k++) one();
      });
    await run(Math.min(n, 20000)); // warm-up
    if (has('--alloc')) {
      await allocationProfile(() => run(n), n);
      return;
    }
    for (let r = 1; r <= rounds; r++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const { rcodes } = await run(n);
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const c = process.cpuUsage(c0);
      const ok = rcodes[0];
      console.log(
        `round ${r} ${mode} ${names}${has('--cache') ? ' cache' : ''}: ${n} queries, ${((c.user + c.system) / n).toFixed(2)} us CPU/query (sys ${(c.system / n).toFixed(2)}), ${Math.round(n / (wallMs / 1000))} q/s, NOERROR ${ok}/${n}`,
      );
      if (ok !== n) throw new Error(`rcodes ${JSON.stringify(rcodes)}`);
    }
  } finally {
    await daemon.stop();
  }
}

inOwnNetns('dwmicro', __filename, inner);
