// nftset's elements come from the source's keys, in the sets of its kind.
import t from 'tap';
import { buildElements } from '../../lib/plugins/nftset/elements';
import type { Decision } from '../../lib/policy/types';
import type { AnswerAddress } from '../../lib/dns/types';

const ttl = { min: 10, max: 3600, grace: 5 };
const all: Decision = { verdict: 'allow', policies: ['p'], policy: 'p', pattern: 'x', allPorts: true, ports: [] };
const ports: Decision = {
  ...all,
  allPorts: false,
  ports: [
    { proto: 'tcp', port: 443 },
    { proto: 'udp', port: 53 },
  ],
};
const addrs: AnswerAddress[] = [
  { family: 4, address: '198.18.0.1', bytes: Buffer.from([198, 18, 0, 1]), ttl: 30 },
  { family: 6, address: '2001:db8::1', bytes: Buffer.from('20010db8000000000000000000000001', 'hex'), ttl: 60 },
] as AnswerAddress[];
const id = Buffer.from('2c00000000000000', 'hex');

t.test('ip: only its own family, allow sets', async (t) => {
  const els = buildElements({ kind: 'ip', keys: { 4: Buffer.from([10, 0, 0, 1]) } }, 'a.example.com', all, addrs, ttl);
  t.same(
    els.map((e) => [e.set, e.destination.length, e.timeoutMs]),
    [['allow4', 4, 35_000]],
  );
  const p = buildElements({ kind: 'ip', keys: { 6: Buffer.alloc(16, 1) } }, 'a.example.com', ports, addrs, ttl);
  t.same(
    p.map((e) => [e.set, e.proto, e.port]),
    [
      ['allow6p', 6, 443],
      ['allow6p', 17, 53],
    ],
  );
});

t.test('pod: both families under their own keys', async (t) => {
  const els = buildElements({ kind: 'pod', keys: { 4: Buffer.from([10, 0, 0, 1]), 6: Buffer.alloc(16, 2) } }, 'a.example.com', all, addrs, ttl);
  t.same(
    els.map((e) => [e.set, e.source.length]),
    [
      ['allow4', 4],
      ['allow6', 16],
    ],
  );
});

t.test('cgroup: both families under the cgroup id, cgroup sets', async (t) => {
  const els = buildElements({ kind: 'cgroup', keys: { 4: id, 6: id } }, 'a.example.com', ports, addrs, ttl);
  t.same(
    els.map((e) => [e.set, e.source.toString('hex'), e.port]),
    [
      ['cgroup4p', id.toString('hex'), 443],
      ['cgroup4p', id.toString('hex'), 53],
      ['cgroup6p', id.toString('hex'), 443],
      ['cgroup6p', id.toString('hex'), 53],
    ],
  );
  t.equal(els[0].comment, 'a.example.com');
});
