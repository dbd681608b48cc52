// dnsmasq inside a sandbox namespace, for the benchmark: as the authoritative-ish upstream in
// net (names from a hosts file) or as a forwarder under test in node (plain or --nftset).
import type { ChildProcess } from 'node:child_process';
import { ChildLines, stopChild } from './child';
import type { Spawner } from './agent';

const READY_TIMEOUT_MS = 30_000; // a hosts file with 300k names takes a moment to load

export interface DnsmasqOptions {
  /** namespace to run in (one of the topology's) */
  ns: string;
  /** address to bind, e.g. "192.0.2.1" (port 53) */
  listen: string;
  port?: number;
  /** upstream "203.0.113.2" (forwarder), or none (answers only from hostsFile) */
  server?: string;
  /** --addn-hosts file (upstream role) */
  hostsFile?: string;
  /** --local-ttl, seconds, for the hosts file's answers */
  localTtl?: number;
  /** --cache-size; 0 for the forwarders under test */
  cacheSize?: number;
  /** --nftset values, e.g. "/example.bench/4#inet#bench#set4" */
  nftset?: string[];
  /** extra dnsmasq arguments */
  extraArgs?: string[];
}

export interface DnsmasqPeer {
  proc: ChildProcess;
  argv: string[];
  stop(): Promise<void>;
}

/** The dnsmasq argv for opts: no config file, no /etc/hosts, no resolv.conf, foreground. */
export function dnsmasqArgs(o: DnsmasqOptions): string[] {
  const a = [
    '-k',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--bind-interfaces',
    `--listen-address=${o.listen}`,
    `--port=${o.port ?? 53}`,
    `--cache-size=${o.cacheSize ?? 0}`,
    // default 150 forwarded queries in flight would drop under dnsperf's -q load
    '--dns-forward-max=4096',
    '--user=root',
    '--group=root',
    '--pid-file=',
    '--log-facility=-',
  ];
  if (o.hostsFile) a.push(`--addn-hosts=${o.hostsFile}`);
  if (o.localTtl !== undefined) a.push(`--local-ttl=${o.localTtl}`);
  if (o.server) a.push(`--server=${o.server}`);
  for (const s of o.nftset ?? []) a.push(`--nftset=${s}`);
  a.push(...(o.extraArgs ?? []));
  return a;
}

/** Starts dnsmasq and waits for its "started" log line (sockets are bound by then). */
export async function startDnsmasq(topo: Spawner, o: DnsmasqOptions): Promise<DnsmasqPeer> {
  const argv = dnsmasqArgs(o);
  const proc = topo.spawn(o.ns, ['dnsmasq', ...argv]);
  const lines = new ChildLines(proc, 'dnsmasq');
  // --log-facility=- logs to stderr; ChildLines keeps only its tail, so watch it here
  let err = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dnsmasq not ready after ${READY_TIMEOUT_MS} ms: ${err.slice(-2000) || 'no output'}`)), READY_TIMEOUT_MS);
    const check = () => {
      // "read FILE - N names" comes after the sockets are bound and the hosts file is loaded
      const done = o.hostsFile ? /read .* - \d+ names/.test(err) : /started, version/.test(err);
      if (done) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stderr?.on('data', (d: Buffer | string) => {
      err = (err + d.toString()).slice(-8000);
      check();
    });
    proc.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`dnsmasq exited (${code ?? sig}) before it was ready: ${err.trim().slice(-2000) || lines.stderr()}`));
    });
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`dnsmasq failed to start: ${e.message}`));
    });
  });
  try {
    await ready;
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return { proc, argv, stop: () => stopChild(proc) };
}
