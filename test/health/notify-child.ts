// Child for notify.test.ts: the real SystemdNotifier driven by its env; on the parent's
// 'block' message it blocks its own event loop for the given ms (a wedged daemon).
import { SystemdNotifier } from '../../lib/health/notify';

const n = new SystemdNotifier(process.env);
n.ready('test');
const keep = setInterval(() => undefined, 1000);
process.on('message', (m: { block?: number; exit?: boolean }) => {
  if (m.block) {
    const end = Date.now() + m.block;
    while (Date.now() < end) {
      /* wedged */
    }
    process.send?.({ unblocked: Date.now() });
  }
  if (m.exit) {
    n.stopping();
    clearInterval(keep);
    setTimeout(() => process.exit(0), 50);
  }
});
process.send?.({ started: true });
