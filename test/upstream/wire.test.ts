// The reply-question check: equal up to ASCII case, nothing else.
import t from 'tap';
import { readQuestion } from '../../lib/dns/query';
import { sameQuestion } from '../../lib/upstream/wire';
import { query } from './helpers';
import { prng, randomBytes, testSeed } from '../prng';

t.test('sameQuestion', async (t) => {
  const q = query('Name.Example', 'A', 1, false);
  const end = readQuestion(q).end;
  const cases: [string, Buffer, boolean][] = [
    ['identical', q, true],
    ['case differs only', query('nAME.eXAMPLE', 'A', 2, false), true],
    ['with EDNS after the question', query('name.example', 'A', 3, true), true],
    ['other name, same length', query('name.exampld', 'A', 1, false), false],
    ['other label split, same length', query('nam.eexample', 'A', 1, false), false],
    ['longer name', query('name.example.a', 'A', 1, false), false],
    ['other type', query('name.example', 'AAAA', 1, false), false],
    ['other class', Buffer.concat([q.subarray(0, end - 1), Buffer.from([3])]), false],
    ['short', q.subarray(0, end - 1), false],
    ['header only', q.subarray(0, 12), false],
  ];
  for (const [label, reply, want] of cases) t.equal(sameQuestion(q, end, reply), want, label);
  const two = Buffer.from(q);
  two.writeUInt16BE(2, 4);
  t.notOk(sameQuestion(q, end, two), 'QDCOUNT 2');
});

t.test('sameQuestion on random replies never throws', async (t) => {
  const q = query('a.example', 'A', 1, false);
  const end = readQuestion(q).end;
  const seed = testSeed(0x5eed);
  const rand = prng(seed);
  let matched = 0;
  let failed = 0;
  for (let i = 0; i < 5000; i++) {
    const b = randomBytes(rand, i % 40);
    try {
      if (b.length >= 6 && sameQuestion(q, end, b)) matched++;
    } catch (e) {
      if (failed++ === 0) t.fail(`seed ${seed} message ${i} ${b.toString('hex')}: ${String(e)}`);
    }
  }
  t.equal(failed, 0, `no random message throws (seed ${seed})`);
  t.equal(matched, 0, `no random message matches (seed ${seed})`);
});
