// dnswall serve: run the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads.
import fs from 'node:fs';
import type { Logger } from 'pino';
import { loadConfigFile } from '../config/load';
import { ConfigError, formatIssue } from '../config/errors';
import { Daemon } from '../server/daemon';
import { inheritedSockets, type Inherited } from '../server/listen-fds';
import { CliError, EXIT_BAD_INPUT } from './exit';

export interface ServeOptions {
  config: string;
  /** also reload when the file changes */
  watch?: boolean;
}

export async function serve(opts: ServeOptions, log: Logger): Promise<void> {
  const cfg = loadConfigFile(opts.config);
  // systemd socket activation or `dnswall hold-sockets`: sockets that outlive this process.
  let inherited: Inherited;
  try {
    inherited = inheritedSockets(cfg.listen);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_BAD_INPUT);
  }
  const daemon = new Daemon(cfg, log);
  await daemon.start(inherited);
  // Under `dnswall hold-sockets` (an IPC channel from the keeper): say we are answering, so the
  // keeper stops the previous daemon only now — no moment without a reader on the sockets.
  process.send?.({ dnswall: 'ready' });

  let reloading: Promise<void> = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      try {
        const next = loadConfigFile(opts.config);
        await daemon.reload(next);
      } catch (err) {
        const issues = err instanceof ConfigError ? err.issues.map(formatIssue) : undefined;
        log.error({ why, err: (err as Error).message, errors: issues }, 'reload rejected; keeping the running configuration');
      }
    });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (opts.watch) {
    let timer: NodeJS.Timeout | undefined;
    fs.watch(opts.config, () => {
      clearTimeout(timer);
      timer = setTimeout(() => reload('file changed'), 200);
    });
  }

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'stopping: draining held answers, leaving the kernel sets in place');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await reloading;
  await daemon.stop();
  log.info('stopped');
}
