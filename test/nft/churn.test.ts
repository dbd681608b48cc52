// Quick churn (~20 s, 3000 ever-new elements/s): the programmer's bookkeeping never holds more
// than the caps allow, and at the end the book and the kernel agree. Structural, not timing:
// the full memory run is bench/churn.ts.
import { runInNetns } from './netns';
import { runChurn } from '../../bench/churn';

runInNetns(__filename, (t) => {
  t.test('sizes stay within the caps under churn', async (t) => {
    const limits = { maxElements: 20_000, maxElementsPerSource: 400, maxAddressesPerName: 2 };
    const sources = 100;
    const over: string[] = [];
    const r = await runChurn({
      seconds: 20,
      rate: 3_000,
      limits,
      sampleEveryMs: 2_000,
      sources,
      onSample: (s) => {
        if (s.book > limits.maxElements || s.elements > limits.maxElements || s.sources > sources || s.names > s.elements) over.push(JSON.stringify(s));
      },
    });
    t.same(over, [], 'no sample above a cap');
    t.ok(r.samples.length >= 5, `${r.samples.length} samples`);
    t.ok(r.evictions.perName + r.evictions.perSource + r.evictions.total > 0, `the caps bit: ${JSON.stringify(r.evictions)}`);
    t.equal(r.failed, 0, 'no add() failed');
    t.equal(r.kernel, r.bookAtEnd, `kernel ${r.kernel} = book ${r.bookAtEnd}: every eviction reached the kernel`);
    t.ok(r.kernel <= limits.maxElements, `kernel holds ${r.kernel} <= ${limits.maxElements}`);
  });
});
