// The keeper half of `dnswall hold-sockets`: it owns the listening sockets as plain inherited
// descriptors 3.. (Node never polls a descriptor it has not wrapped, so the keeper reads
// nothing) and runs the command with copies of them, the sd_listen_fds(3) way. A restart
// (SIGUSR2) starts the new command and stops the old one once the new one reports ready over
// the IPC channel (`serve` sends {dnswall:'ready'} after it listens): both read the shared
// sockets for a moment, so there is no moment without a reader. A new command that is not ready
// within READY_TIMEOUT_MS, or exits first, is stopped and the old one keeps serving.
//
//   node socket-keeper.js N -- COMMAND ARGS...   (N descriptors at 3..3+N-1)
//
// SIGUSR2 restart · SIGHUP forwarded (reload) · SIGTERM/SIGINT forwarded, then exit with the
// command's code · the command exiting on its own is started again after RESPAWN_DELAY_MS.
import { spawn, type ChildProcess } from 'node:child_process';
import { SD_LISTEN_FDS_START } from './listen-fds';

const RESPAWN_DELAY_MS = 1000;
const READY_TIMEOUT_MS = 30_000;
/** LISTEN_PID must be the command's own pid, known only after fork: a shell sets it, then execs. */
const SET_LISTEN_PID = 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"';

function main(argv: string[]): void {
  const n = Number(argv[0]);
  const command = argv[1] === '--' ? argv.slice(2) : [];
  if (!Number.isInteger(n) || n < 1 || command.length === 0) {
    process.stderr.write('usage: socket-keeper.js N -- COMMAND [ARGS...]\n');
    process.exit(1);
  }
  const fds = Array.from({ length: n }, (_, i) => SD_LISTEN_FDS_START + i);
  let child: ChildProcess | undefined;
  let stopping = false;

  const start = () => {
    // 'ipc' after the sockets, so they keep descriptors 3.. (sh execs node, which finds the channel)
    const c = spawn('/bin/sh', ['-c', SET_LISTEN_PID, 'sh', ...command], {
      stdio: ['inherit', 'inherit', 'inherit', ...fds, 'ipc'],
      env: { ...process.env, LISTEN_FDS: String(n), LISTEN_FDNAMES: undefined },
    });
    child = c;
    c.on('message', () => undefined); // keeps 'message' listened; readiness is awaited per restart
    c.once('exit', (code, sig) => {
      if (child !== c) return; // an old one, replaced by a restart
      if (stopping) process.exit(code ?? (sig ? 128 : 0));
      process.stderr.write(`socket-keeper: command exited (${code ?? sig}); starting it again in ${RESPAWN_DELAY_MS} ms\n`);
      setTimeout(() => {
        if (!stopping) start();
      }, RESPAWN_DELAY_MS);
    });
  };

  let restarting = false;
  process.on('SIGUSR2', () => {
    if (stopping || restarting) return;
    restarting = true;
    const old = child;
    start();
    const next = child!;
    const done = (ok: boolean, why: string) => {
      clearTimeout(timer);
      next.off('message', onMessage);
      next.off('exit', onExit);
      restarting = false;
      if (ok) {
        old?.kill('SIGTERM');
        return;
      }
      process.stderr.write(`socket-keeper: new command ${why}; the old one keeps serving\n`);
      child = old;
      next.kill('SIGTERM');
    };
    const onMessage = (m: unknown) => {
      if ((m as { dnswall?: string })?.dnswall === 'ready') done(true, 'ready');
    };
    const onExit = () => done(false, 'exited before it was ready');
    const timer = setTimeout(() => done(false, `not ready after ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    next.on('message', onMessage);
    next.once('exit', onExit);
  });
  process.on('SIGHUP', () => child?.kill('SIGHUP'));
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      stopping = true;
      if (!child || child.exitCode !== null || child.signalCode !== null) process.exit(0);
      child.kill(sig);
    });
  }
  start();
}

if (require.main === module) main(process.argv.slice(2));
