// lowerHelperThreads: every thread but the main one ends at nice 19; the main thread keeps its
// priority (read back from /proc, not from the function's own bookkeeping).
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { lowerHelperThreads, HELPER_NICE } from '../../lib/server/helper-threads';

/** nice of each thread of this process, from /proc/self/task/T/stat (field 19). */
function niceByThread(): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(t), Number(fields[16])); // state is field 3: nice (19) is 16 after it
  }
  return out;
}

t.test('helper threads go to nice 19, the main thread stays', (t) => {
  const before = niceByThread();
  const helpers = [...before.keys()].filter((tid) => tid !== process.pid);
  t.ok(helpers.length >= 1, `node runs helper threads (${helpers.length})`);
  const changed = lowerHelperThreads();
  const after = niceByThread();
  for (const tid of helpers) if (after.has(tid)) t.equal(after.get(tid), HELPER_NICE, `thread ${tid} at nice ${HELPER_NICE}`);
  t.equal(after.get(process.pid), before.get(process.pid), 'the main thread keeps its nice');
  t.ok(changed >= 1 || helpers.every((tid) => before.get(tid) === HELPER_NICE), `changed ${changed}`);
  t.equal(lowerHelperThreads(), 0, 'a second pass changes nothing');
  t.end();
});
