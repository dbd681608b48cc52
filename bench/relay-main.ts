// bench/tail.ts's target `node-relay`: relay.ts as a process of its own (not part of npm run bench).
//   node dist/bench/relay-main.js LISTEN_ADDRESS UPSTREAM_ADDRESS   (port 53 both; prints "ready")
import { startRelay } from './relay';

const [listen, upstream] = process.argv.slice(2);
if (!listen || !upstream) {
  process.stderr.write('usage: relay-main.js LISTEN_ADDRESS UPSTREAM_ADDRESS\n');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0)); // a normal exit: --cpu-prof writes its profile
void startRelay(listen, 53, upstream).then(() => process.stdout.write('ready\n'));
