// Who owns an address: finished and hostNetwork pods hold nothing, the live newest pod wins a
// shared address, a late delete of an old UID does not disturb the new owner.
import t from 'tap';
import { PodAddressTable, podAddresses } from '../../lib/kube/pod-addresses';
import type { Pod } from '../../lib/kube/types';

const P = (uid: string, ips: string[], extra: { phase?: string; deletion?: boolean; created?: string; hostNetwork?: boolean; name?: string } = {}): Pod => ({
  metadata: {
    name: extra.name ?? uid,
    namespace: 'ns',
    uid,
    creationTimestamp: extra.created ?? '2026-12-03T10:00:00Z',
    ...(extra.deletion ? { deletionTimestamp: '2026-12-03T11:00:00Z' } : {}),
  },
  spec: { nodeName: 'n1', hostNetwork: extra.hostNetwork },
  status: { phase: (extra.phase ?? 'Running') as 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
});

t.test('addresses of a pod', async (t) => {
  t.same(podAddresses(P('a', ['10.244.1.7', 'fd00:10:244:1::7'])), { 4: '10.244.1.7', 6: 'fd00:10:244:1::7' }, 'dual-stack');
  t.same(podAddresses(P('a', ['fd00:10:244:1:0:0:0:7'])), { 6: 'fd00:10:244:1::7' }, 'canonical IPv6');
  t.same(podAddresses(P('a', ['10.244.1.7'], { phase: 'Succeeded' })), {}, 'Succeeded keeps its podIP in the API but holds nothing');
  t.same(podAddresses(P('a', ['10.244.1.7'], { phase: 'Failed' })), {}, 'Failed likewise');
  t.same(podAddresses(P('a', ['10.244.1.7'], { hostNetwork: true })), {}, 'hostNetwork pods report node addresses');
  t.same(podAddresses(P('a', [])), {}, 'Pending without an address');
  t.same(podAddresses(P('a', ['garbage', '10.0.0.1', '10.0.0.2'])), { 4: '10.0.0.1' }, 'junk skipped, one per family');
  t.same(podAddresses({ metadata: { name: 'x', uid: 'u' }, status: { podIP: '10.1.1.1' } }), { 4: '10.1.1.1' }, 'podIP without podIPs');
});

t.test('ownership', async (t) => {
  const tab = new PodAddressTable();
  t.same(tab.set(P('old', ['10.244.1.7'], { created: '2026-12-03T10:00:00Z' })).sort(), ['10.244.1.7']);
  t.equal(tab.owner('10.244.1.7')?.uid, 'old');
  // the old pod starts terminating, a new pod gets the same address (the CNI released and reused it)
  tab.set(P('old', ['10.244.1.7'], { deletion: true }));
  tab.set(P('new', ['10.244.1.7'], { created: '2026-12-03T10:05:00Z' }));
  t.equal(tab.owner('10.244.1.7')?.uid, 'new', 'the live one wins');
  // even when the terminating one is newer
  tab.set(P('newer-terminating', ['10.244.1.7'], { created: '2026-12-03T10:09:00Z', deletion: true }));
  t.equal(tab.owner('10.244.1.7')?.uid, 'new', 'non-terminating beats newer-but-terminating');
  tab.remove('newer-terminating');
  // the late delete of the old pod
  t.same(tab.remove('old'), ['10.244.1.7']);
  t.equal(tab.owner('10.244.1.7')?.uid, 'new', 'a stale delete leaves the new owner');
  t.same(tab.remove('never-seen'), [], 'unknown UID: no change');
  // two live pods: the newest
  tab.set(P('other', ['10.244.1.7'], { created: '2026-12-03T10:06:00Z' }));
  t.equal(tab.owner('10.244.1.7')?.uid, 'other');
  // a finished pod releases its address
  t.same(tab.set(P('other', ['10.244.1.7'], { phase: 'Succeeded' })), ['10.244.1.7']);
  t.equal(tab.owner('10.244.1.7')?.uid, 'new');
  t.equal(tab.get('other'), undefined);
  // address change: both addresses touched
  t.same(tab.set(P('new', ['10.244.1.8'])).sort(), ['10.244.1.7', '10.244.1.8']);
  t.equal(tab.owner('10.244.1.7'), undefined);
  t.equal(tab.owner('10.244.1.8')?.uid, 'new');
  t.equal(tab.size, 1);
});
