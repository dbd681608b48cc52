// onExitCleanup: a process that owns a topology and gets SIGTERM leaves no namespace behind;
// removeStaleTopologies clears the namespaces of a run that was SIGKILLed.
import t from 'tap';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { requireSandbox } from './need-root';
import { removeStaleTopologies } from '../../lib/sandbox/cleanup';

const PREFIX = 'dwtc';
const lib = path.join(__dirname, '../../lib/sandbox/index.js');

function owner(cleanup: boolean): Promise<{ pid: number; names: string[]; child: ReturnType<typeof spawn> }> {
  const code = `
    const s = require(${JSON.stringify(lib)});
    s.createTopology({ prefix: '${PREFIX}' }).then((topo) => {
      ${cleanup ? 's.onExitCleanup(topo);' : ''}
      console.log(JSON.stringify(Object.values(topo.ns)));
      setInterval(() => {}, 1000);
    });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve({ pid: child.pid!, names: JSON.parse(String(d)), child }));
    child.once('exit', (c) => reject(new Error(`owner exited ${c}`)));
    setTimeout(() => reject(new Error('owner not ready in 10 s')), 10_000).unref();
  });
}

const list = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const exited = (c: ReturnType<typeof spawn>) => new Promise((r) => c.once('exit', r));

if (requireSandbox(t)) {
  t.test('SIGTERM: the owner removes its namespaces and still dies by the signal', async (t) => {
    const o = await owner(true);
    t.ok(o.names.every((n) => list().includes(n)));
    const done = exited(o.child);
    o.child.kill('SIGTERM');
    await done;
    t.equal(o.child.signalCode, 'SIGTERM');
    const l = list();
    t.ok(
      o.names.every((n) => !l.includes(n)),
      'all four removed',
    );
  });

  t.test('SIGKILL leaves them; removeStaleTopologies takes exactly those', async (t) => {
    const dead = await owner(false);
    const live = await owner(true);
    const done = exited(dead.child);
    dead.child.kill('SIGKILL');
    await done;
    t.ok(
      dead.names.every((n) => list().includes(n)),
      'left behind',
    );
    const removed = await removeStaleTopologies(PREFIX);
    t.same(removed.sort(), [...dead.names].sort());
    t.ok(
      live.names.every((n) => list().includes(n)),
      'a live run is untouched',
    );
    const d2 = exited(live.child);
    live.child.kill('SIGTERM');
    await d2;
    t.notOk(list().includes(`${PREFIX}-`));
  });
}
