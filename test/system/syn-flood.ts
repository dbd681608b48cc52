// Run inside a pod namespace by drops.test.ts: `count` TCP connects to host:port, at most
// `concurrency` at once, each ending at the kernel's reset (or a 1 s timeout), the whole run
// bounded by `maxMs`. Prints {"done":N,"ms":…}.
import net from 'node:net';

const [host, portS, countS, concS, maxS] = process.argv.slice(2);
const port = Number(portS);
const count = Math.min(Number(countS), 20_000);
const concurrency = Math.min(Number(concS), 1000);
const deadline = Date.now() + Math.min(Number(maxS), 60_000);
let started = 0;
let done = 0;
const t0 = Date.now();
function one(): void {
  if (started >= count || Date.now() > deadline) {
    if (done === started) {
      process.stdout.write(JSON.stringify({ done, ms: Date.now() - t0 }) + '\n');
      process.exit(0);
    }
    return;
  }
  started++;
  const s = net.connect({ host, port });
  const end = () => {
    s.destroy();
    done++;
    one();
  };
  s.setTimeout(1000, end);
  s.once('error', end);
  s.once('connect', end);
}
for (let i = 0; i < concurrency; i++) one();
