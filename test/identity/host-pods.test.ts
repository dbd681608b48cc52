// hostNetwork pods by pod cgroup, against a real directory tree standing in for the cgroup v2
// mount (ids are inode numbers, as there): a socket's cgroup — the pod cgroup or a container
// below it — maps to its pod; a pod whose cgroup appears after the API showed it is found on the
// next lookup; a removed pod maps nothing; dnswall's own pod is never taken.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HostPods } from '../../lib/identity/pod/host';
import type { Pod } from '../../lib/kube/types';

const pod = (uid: string, qos: 'Guaranteed' | 'Burstable', extra: Partial<Pod['metadata']> = {}, phase: 'Running' | 'Succeeded' = 'Running'): Pod => ({
  metadata: { name: `p-${uid.slice(0, 4)}`, namespace: 'kube-system', uid, ...extra },
  spec: { hostNetwork: true },
  status: { phase, qosClass: qos },
});

t.test('socket cgroup → pod', async (t) => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), `dnswall-hostpods-${process.pid}-`));
  t.teardown(() => fs.rmSync(mount, { recursive: true, force: true }));
  const mk = (rel: string) => {
    fs.mkdirSync(path.join(mount, rel), { recursive: true });
    return fs.statSync(path.join(mount, rel), { bigint: true }).ino;
  };
  const id = (rel: string) => fs.statSync(path.join(mount, rel), { bigint: true }).ino;
  const a = 'aaaaaaaa-1111-2222-3333-444444444444';
  const b = 'bbbbbbbb-1111-2222-3333-444444444444';
  const c = 'cccccccc-1111-2222-3333-444444444444';
  // a: systemd driver, Burstable, a container scope below; b: cgroupfs, Guaranteed
  const aCtr = mk(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${a.replace(/-/g, '_')}.slice/cri-containerd-0123.scope`);
  const bPod = mk(`/kubepods/pod${b}`);
  const host = mk('/system.slice/sshd.service');
  const hp = new HostPods(mount, '/', '/system.slice/dnswall.service');
  hp.set(pod(a, 'Burstable'));
  hp.set(pod(b, 'Guaranteed'));
  t.equal(hp.locate(aCtr)?.pod.uid, a, 'a container below the pod cgroup');
  t.equal(hp.locate(aCtr)?.path, `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${a.replace(/-/g, '_')}.slice/cri-containerd-0123.scope`);
  t.equal(hp.get(a)?.id, id(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${a.replace(/-/g, '_')}.slice`), 'keyed by the pod cgroup');
  t.equal(hp.locate(bPod)?.pod.uid, b, 'the pod cgroup itself');
  t.equal(hp.locate(host), null, 'a host service is no pod');

  // c is in the API before kubelet made its cgroup
  hp.set(pod(c, 'Burstable'));
  t.equal(hp.get(c)?.id, undefined, 'no cgroup yet');
  const cCtr = mk(`/kubepods/burstable/pod${c}/ctr`);
  t.equal(hp.locate(cCtr)?.pod.uid, c, 'found once it exists');

  // a finished pod and a deleted pod map nothing
  hp.set(pod(c, 'Burstable', {}, 'Succeeded'));
  t.equal(hp.locate(cCtr), null, 'finished');
  hp.remove(b);
  t.equal(hp.locate(bPod), null, 'deleted');
  t.equal(hp.size, 1);
});

t.test("a mirror pod by its config hash; dnswall's own pod is never taken", async (t) => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), `dnswall-hostpods-${process.pid}-`));
  t.teardown(() => fs.rmSync(mount, { recursive: true, force: true }));
  const hash = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
  fs.mkdirSync(path.join(mount, `/kubepods/burstable/pod${hash}/etcd`), { recursive: true });
  const ctr = fs.statSync(path.join(mount, `/kubepods/burstable/pod${hash}/etcd`), { bigint: true }).ino;
  const own = 'dddddddd-1111-2222-3333-444444444444';
  fs.mkdirSync(path.join(mount, `/kubepods/burstable/pod${own}/dnswall`), { recursive: true });
  const ownCtr = fs.statSync(path.join(mount, `/kubepods/burstable/pod${own}/dnswall`), { bigint: true }).ino;
  const hp = new HostPods(mount, '/', `/kubepods/burstable/pod${own}/dnswall`);
  hp.set(pod('api-uid-of-the-mirror', 'Burstable', { annotations: { 'kubernetes.io/config.mirror': hash } }));
  hp.set(pod(own, 'Burstable'));
  t.equal(hp.locate(ctr)?.pod.uid, 'api-uid-of-the-mirror');
  t.equal(hp.locate(ownCtr), null, "dnswall's own pod");
  t.equal(hp.get(own)?.id, undefined);
});
