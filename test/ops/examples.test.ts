// The shipped examples work on a real cluster: every example config passes `dnswall check`;
// `explain` gives the verdicts a cluster needs (Services and the API server allowed by name, an
// external name denied); the DaemonSet has what a node-critical resolver needs; the systemd
// unit is hardened (systemd-analyze, when present).
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import YAML from 'yaml';
import { requireOrSkip } from '../sandbox/need-root';
import { loadConfigFile } from '../../lib/config/load';
import { PolicyIndex } from '../../lib/policy/index';
import { explain } from '../../lib/policy/explain';
import { parseSource } from '../../lib/cli/commands';

const ROOT = path.join(__dirname, '..', '..', '..');
const EX = path.join(ROOT, 'examples');
const BIN = path.join(__dirname, '..', '..', 'bin', 'dnswall.js');
const dnswall = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-examples-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The DaemonSet manifest's documents by kind. */
const manifest = YAML.parseAllDocuments(fs.readFileSync(path.join(EX, 'daemonset.yaml'), 'utf8')).map((d) => d.toJS());
const configMap = manifest.find((d) => d.kind === 'ConfigMap');
const daemonSet = manifest.find((d) => d.kind === 'DaemonSet');
const cmFile = path.join(dir, 'configmap-config.yaml');
fs.writeFileSync(cmFile, configMap.data['config.yaml']);

const CONFIGS: [string, string, string][] = [
  // [label, file, a source the file manages]
  ['examples/config.yaml', path.join(EX, 'config.yaml'), '10.244.1.23'],
  ['examples/daemonset.yaml ConfigMap', cmFile, '10.244.3.7'],
];

for (const [label, file, source] of CONFIGS) {
  t.test(`${label} passes check`, async (t) => {
    const r = dnswall('check', '-c', file);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /: ok\n/);
    if (/^health:/m.test(fs.readFileSync(file, 'utf8'))) t.match(r.stdout, /health=\S+:\d+/, 'the summary shows the health endpoint');
  });

  t.test(`${label}: explain verdicts a cluster needs`, async (t) => {
    const f = file;
    // The command once; the rest in process (same functions, without a Node start per name).
    const r = dnswall('explain', '-c', f, '--source', source, 'kubernetes.default.svc.cluster.local');
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /^allow\s/);
    const index = PolicyIndex.compile(loadConfigFile(f).policies);
    const verdict = (name: string, src = source) => explain(index, parseSource(src), name);
    // The API server by its Service name; pods' search path tries NAME.NAMESPACE.svc... first.
    t.match(verdict('kubernetes.default.svc.cluster.local'), /^allow\s+policy=\S+ pattern=\*\*\.svc\.cluster\.local ports=all/);
    t.match(verdict('kubernetes.default.svc.cluster.local.'), /^allow/, 'trailing dot');
    t.match(verdict('kubernetes.default.default.svc.cluster.local'), /^allow/, 'search-path expansion is answered (NXDOMAIN), not denied');
    t.match(verdict('checkout.shop.svc.cluster.local'), /^allow/);
    t.match(verdict('api.stripe.com'), /^allow/);
    t.match(verdict('exfil.attacker.example.org'), /^deny\s/);
    t.match(verdict('svc.cluster.local.attacker.example.org'), /^deny\s/, 'a suffix trick is denied');
    t.match(verdict('exfil.attacker.example.org', '192.0.2.50'), /^unmanaged/);
  });

  t.test(`${label}: the Service CIDR and the API server are static destinations`, async (t) => {
    const r = dnswall('ruleset', '-c', file);
    t.equal(r.status, 0, r.stderr);
    // static4 holds source . destination pairs (nft syntax): the source's range to 10.96.0.0/12.
    t.match(r.stdout, /add element inet dnswall static4 \{[^}]*\. 10\.96\.0\.0\/12/, 'Service CIDR (kubernetes.default = 10.96.0.1) reachable');
    t.match(r.stdout, /add element inet dnswall static4 \{[^}]*\. 192\.168\.0\.10/, 'the API server endpoint reachable');
  });
}

t.test('DaemonSet: host network, node-critical, two capabilities, read-only root, probes, no surge', async (t) => {
  const spec = daemonSet.spec;
  const pod = spec.template.spec;
  t.equal(pod.hostNetwork, true);
  t.equal(pod.priorityClassName, 'system-node-critical');
  t.equal(pod.dnsPolicy, 'Default', 'dnswall does not resolve through itself');
  const c = pod.containers.find((x: { name: string }) => x.name === 'dnswall');
  t.same([...c.securityContext.capabilities.add].sort(), ['NET_ADMIN', 'NET_BIND_SERVICE']);
  t.same(c.securityContext.capabilities.drop, ['ALL']);
  t.equal(c.securityContext.readOnlyRootFilesystem, true);
  t.equal(c.securityContext.allowPrivilegeEscalation, false);
  t.ok(c.args.includes('--watch'), 'follows the ConfigMap');
  const mount = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/etc/dnswall');
  t.ok(mount, 'config mounted at /etc/dnswall');
  t.equal(pod.volumes.find((v: { name: string }) => v.name === mount.name).configMap.name, configMap.metadata.name, 'from the ConfigMap');
  t.ok(c.args.includes('/etc/dnswall/config.yaml'));
  // Probes against the health endpoint of the ConfigMap's own config.
  const health = /^health:\s*"([^"]+):(\d+)"/m.exec(configMap.data['config.yaml']);
  t.ok(health, 'the config enables health');
  for (const [probe, p] of [
    [c.livenessProbe, '/healthz'],
    [c.readinessProbe, '/readyz'],
  ] as const) {
    t.equal(probe.httpGet.path, p);
    t.equal(String(probe.httpGet.port), health![2], 'probe port = health port');
    t.equal(probe.httpGet.host, health![1], 'probe host = health host (host network)');
  }
  // `kubectl exec ds/dnswall -- dnswall drops` reaches the daemon's control socket: its directory
  // is a writable volume under the read-only root.
  const control = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/run/dnswall');
  t.ok(control && !control.readOnly, 'the control socket directory (/run/dnswall) is a writable mount');
  // A hostPath on the host's /run (tmpfs): the state file (nftables.stateFile) outlives the pod
  // on a rolling update and is cleared at reboot, like the kernel sets.
  const run = pod.volumes.find((v: { name: string }) => v.name === control?.name);
  t.same(run?.hostPath, { path: '/run/dnswall', type: 'DirectoryOrCreate' }, 'the host /run/dnswall (hostPath, created if absent)');
  // One node at a time; surge would collide on the host's port.
  t.equal(spec.updateStrategy.type, 'RollingUpdate');
  t.equal(spec.updateStrategy.rollingUpdate.maxSurge, 0);
  t.equal(spec.updateStrategy.rollingUpdate.maxUnavailable, 1);
  t.ok(spec.minReadySeconds > 0);
  // The listen address is given to the node before dnswall starts.
  const init = pod.initContainers.find((x: { name: string }) => x.name === 'listen-address');
  t.same(init.command, ['/usr/local/sbin/dnswall-address', 'up', '169.254.20.10'], 'examples/dnswall-address (run for real in hardened-run.test)');
  t.same(init.securityContext.capabilities.add, ['NET_ADMIN']);
});

t.test('kubelet clusterDNS points at a listen address of the examples', async (t) => {
  const kubelet = YAML.parse(fs.readFileSync(path.join(EX, 'kubelet-config.yaml'), 'utf8'));
  t.equal(kubelet.kind, 'KubeletConfiguration');
  for (const f of [path.join(EX, 'config.yaml'), cmFile]) {
    const listen: string[] = YAML.parse(fs.readFileSync(f, 'utf8')).listen;
    t.ok(
      kubelet.clusterDNS.every((ip: string) => listen.some((l) => l.startsWith(`${ip}:`))),
      `${kubelet.clusterDNS} in ${listen}`,
    );
  }
});

t.test('systemd unit: hardened (systemd-analyze security --offline)', async (t) => {
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', path.join(EX, 'dnswall.service')], { encoding: 'utf8', timeout: 60_000 });
  if (!requireOrSkip(t, r.error ? `needs systemd-analyze (${r.error.message})` : null)) return;
  const m = /Overall exposure level for dnswall\.service: ([\d.]+) (\w+)/.exec(r.stdout + r.stderr);
  t.ok(m, r.stdout.slice(-300));
  t.comment(`exposure ${m![1]} ${m![2]}`);
  t.ok(Number(m![1]) <= 2.0, `exposure ${m![1]} ≤ 2.0`);
  const unit = fs.readFileSync(path.join(EX, 'dnswall.service'), 'utf8');
  t.match(unit, /^RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX$/m);
  t.match(unit, /^SystemCallFilter=@system-service\b/m);
  t.match(unit, /^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE$/m);
  t.notMatch(unit, /^MemoryDenyWriteExecute=yes/m, 'V8 needs W+X pages');
});
