// dnswall serve: run the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads.
import type { Logger } from 'pino';
import { parseConfig, readConfigText } from '../config/load';
import { followFile, contentHash, type Follower } from './follow';
import { ConfigError, formatIssue } from '../config/errors';
import { Daemon } from '../server/daemon';
import { inheritedSockets, type Inherited } from '../server/listen-fds';
import { CliError, EXIT_BAD_INPUT } from './exit';
import { SystemdNotifier } from '../health/notify';
import { keepHelperThreadsLow, HELPER_NICE } from '../server/helper-threads';

export interface ServeOptions {
  config: string;
  /** also reload when the file changes */
  watch?: boolean;
  /** dnswall's version, for dnswall_build_info */
  version?: string;
}

export async function serve(opts: ServeOptions, log: Logger): Promise<void> {
  const firstText = readConfigText(opts.config);
  const cfg = parseConfig(firstText, opts.config);
  const firstHash = contentHash(firstText);
  // systemd socket activation or `dnswall hold-sockets`: sockets that outlive this process.
  let inherited: Inherited;
  try {
    inherited = inheritedSockets(cfg.listen);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_BAD_INPUT);
  }
  const daemon = new Daemon(cfg, log, { version: opts.version });
  await daemon.start(inherited);
  // The thread that answers first: V8's and libuv's helper threads yield to it (helper-threads.ts).
  const helpers = keepHelperThreadsLow();
  log.debug({ threads: helpers.changed, nice: HELPER_NICE }, 'helper threads lowered');
  // Under `dnswall hold-sockets` (an IPC channel from the keeper): say we are answering, so the
  // keeper stops the previous daemon only now — no moment without a reader on the sockets.
  process.send?.({ dnswall: 'ready' });
  // node's version and flags: the shipped ones (bin/dnswall.ts's first line) or an operator's
  log.info({ file: opts.config, configHash: firstHash, node: process.version, nodeFlags: process.execArgv }, 'configuration loaded');
  // Under systemd Type=notify: READY=1 now, WATCHDOG=1 pings from the event loop from now on.
  const notifier = new SystemdNotifier(process.env, log);
  notifier.ready('serving');

  // One reload at a time, in order. Every reload logs the hash of the content it read.
  let reloading: Promise<void> = Promise.resolve();
  let follower: Follower | undefined;
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      let configHash: string | undefined;
      try {
        const text = readConfigText(opts.config);
        configHash = contentHash(text);
        follower?.setHash(configHash); // this content is handled: its file events reload nothing more
        await daemon.reload(parseConfig(text, opts.config), { why, configHash });
      } catch (err) {
        const rejected = err instanceof ConfigError;
        daemon.countReload(rejected ? 'rejected' : 'failed');
        const issues = rejected ? err.issues.map(formatIssue) : undefined;
        log.error({ why, configHash, err: (err as Error).message, errors: issues }, rejected ? 'reload rejected; keeping the running configuration' : 'reload failed');
      }
    });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (opts.watch) {
    follower = followFile(opts.config, () => reload('file changed'), { initialHash: firstHash, log });
  }

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'stopping: draining held answers, leaving the kernel sets in place');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  follower?.close();
  notifier.stopping();
  await reloading;
  helpers.stop();
  await daemon.stop();
  log.info('stopped');
}
