import t from 'tap';
import { loadZone, lookup } from '../../lib/sandbox/zone';

const zone = loadZone({
  records: [
    { name: 'api.example.com', type: 'A', ttl: 30, data: '198.18.0.10' },
    { name: 'api.example.com', type: 'AAAA', ttl: 30, data: '2001:db8:ff:0::10' },
    { name: 'www.example.com', type: 'CNAME', data: 'mid.example.com' },
    { name: 'mid.example.com', type: 'CNAME', data: 'target.example.net.' },
    { name: 'target.example.net', type: 'A', ttl: 5, data: '198.18.0.20' },
    { name: 'out.example.com', type: 'CNAME', data: 'elsewhere.example.org' },
    { name: 'loop1.example.com', type: 'CNAME', data: 'loop2.example.com' },
    { name: 'loop2.example.com', type: 'CNAME', data: 'loop1.example.com' },
    { name: '*.wild.example.com', type: 'A', data: '198.18.0.40' },
    { name: 'svc.example.com', type: 'HTTPS', ipv4hint: ['198.18.0.30'] },
  ],
  behaviours: { 'Slow.Example.com.': { delayMs: 10 } },
});

t.test('answers by type, addresses canonical', async (t) => {
  const a = lookup(zone, 'API.example.com.', 1);
  t.equal(a.rcode, 'NOERROR');
  t.same(
    a.answers.map((r) => [r.type, (r as { data: string }).data]),
    [['A', '198.18.0.10']],
  );
  t.same(
    lookup(zone, 'api.example.com', 28).answers.map((r) => (r as { data: string }).data),
    ['2001:db8:ff::10'],
  );
  t.same(lookup(zone, 'api.example.com', 16), { rcode: 'NOERROR', answers: [] }, 'NODATA');
  t.equal(lookup(zone, 'nope.example.com', 1).rcode, 'NXDOMAIN');
});

t.test('CNAME chains are followed inside the zone', async (t) => {
  const r = lookup(zone, 'www.example.com', 1);
  t.same(
    r.answers.map((x) => `${x.name} ${x.type}`),
    ['www.example.com CNAME', 'mid.example.com CNAME', 'target.example.net A'],
  );
  t.same(lookup(zone, 'www.example.com', 5).answers.length, 1, 'a CNAME query gets the CNAME only');
  t.same(lookup(zone, 'out.example.com', 1), { rcode: 'NOERROR', answers: [lookup(zone, 'out.example.com', 5).answers[0]] }, 'target outside the zone: chain stops');
  t.ok(lookup(zone, 'loop1.example.com', 1).answers.length <= 9, 'a loop is bounded');
});

t.test('wildcards, HTTPS and behaviours', async (t) => {
  t.same(
    lookup(zone, 'a.b.wild.example.com', 1).answers.map((x) => x.name),
    ['a.b.wild.example.com'],
  );
  t.equal(lookup(zone, 'wild.example.com', 1).rcode, 'NXDOMAIN', 'the wildcard does not cover its parent');
  const h = lookup(zone, 'svc.example.com', 65).answers;
  t.equal(h.length, 1);
  t.equal(h[0].type, 'UNKNOWN_65');
  t.same(zone.behaviours.get('slow.example.com'), { delayMs: 10 }, 'behaviour names are normalized');
});

t.test('bad zones fail naming the entry', async (t) => {
  t.throws(() => loadZone({}), /records/);
  t.throws(() => loadZone({ records: [{ name: 'a', type: 'A', data: '2001:db8::1' }] }), /records\[0\].*ipv4/);
  t.throws(() => loadZone({ records: [{ name: 'a', type: 'MX', data: 'x' }] }), /records\[0\]: type "MX"/);
  t.throws(() => loadZone({ records: [{ name: 'a', type: 'A', ttl: -1, data: '198.18.0.1' }] }), /ttl/);
  t.throws(() => loadZone({ records: [{ name: 'a', type: 'HTTPS', ipv4hint: ['x'] }] }), /records\[0\]: svcb/);
  t.throws(() => loadZone({ records: [], behaviours: { a: { bogus: true } } }), /unknown key "bogus"/);
  t.throws(() => loadZone({ records: [null] }), /records\[0\]/);
});
