// kubelet's pod cgroup names (pkg/kubelet/cm): both drivers, the three QoS classes, the UID's
// "-" kept by cgroupfs and turned into "_" by systemd, a static pod's config hash, a cgroup root.
import t from 'tap';
import { podCgroupPaths, podCgroupLevels, cgroupUid } from '../../lib/kube/pod-cgroups';
import type { Pod } from '../../lib/kube/types';

const UID = '1234-abcd-5678-efgh';
const P = (qos?: 'Guaranteed' | 'Burstable' | 'BestEffort', annotations?: Record<string, string>): Pod => ({
  metadata: { name: 'p', namespace: 'kube-system', uid: UID, ...(annotations ? { annotations } : {}) },
  spec: { hostNetwork: true },
  status: { phase: 'Running', ...(qos ? { qosClass: qos } : {}) },
});

t.test("the example in kubelet's ToSystemd comment, and its cgroupfs twin", async (t) => {
  t.same(podCgroupPaths(P('Burstable')), [
    '/kubepods/burstable/pod1234-abcd-5678-efgh',
    '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_abcd_5678_efgh.slice',
  ]);
});

t.test('QoS classes: Guaranteed sits directly under kubepods (level 2), the others one deeper (level 3)', async (t) => {
  t.same(podCgroupPaths(P('Guaranteed')), ['/kubepods/pod1234-abcd-5678-efgh', '/kubepods.slice/kubepods-pod1234_abcd_5678_efgh.slice']);
  t.same(podCgroupPaths(P('BestEffort')), [
    '/kubepods/besteffort/pod1234-abcd-5678-efgh',
    '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234_abcd_5678_efgh.slice',
  ]);
  t.equal(podCgroupPaths(P()).length, 6, 'qosClass not known yet: every class is a candidate');
  t.same(podCgroupLevels('/'), [2, 3]);
});

t.test('a mirror pod is named by its config hash, not its API UID', async (t) => {
  const hash = '6e2b7a3c0f5d4e1a9b8c7d6e5f4a3b2c';
  const p = P('Burstable', { 'kubernetes.io/config.mirror': hash, 'kubernetes.io/config.hash': hash });
  t.equal(cgroupUid(p), hash);
  t.same(podCgroupPaths(p), [`/kubepods/burstable/pod${hash}`, `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${hash}.slice`]);
});

t.test("a cgroup root (kubelet --cgroup-root): a prefix for cgroupfs, the slice's name parts for systemd", async (t) => {
  t.same(podCgroupPaths(P('Burstable'), '/kubelet'), [
    '/kubelet/kubepods/burstable/pod1234-abcd-5678-efgh',
    '/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod1234_abcd_5678_efgh.slice',
  ]);
  t.same(podCgroupPaths(P('Guaranteed'), '/kubelet.slice'), [
    '/kubelet.slice/kubepods/pod1234-abcd-5678-efgh',
    '/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod1234_abcd_5678_efgh.slice',
  ]);
  t.same(podCgroupLevels('/kubelet'), [3, 4]);
  t.same(podCgroupLevels('/a/b'), [3, 4, 5], "cgroupfs counts the path, systemd the last slice's parts");
});
