// The keeper half of `dnswall hold-sockets`: it owns the listening sockets as plain inherited
// descriptors 3.. (Node never polls a descriptor it has not wrapped, so the keeper reads
// nothing) and runs the command with copies of them, the sd_listen_fds(3) way. A restart
// (SIGUSR2) stops the old command and starts the new one at once: queries arriving meanwhile
// wait in the sockets for whichever process reads next.
//
//   node socket-keeper.js N -- COMMAND ARGS...   (N descriptors at 3..3+N-1)
//
// SIGUSR2 restart · SIGHUP forwarded (reload) · SIGTERM/SIGINT forwarded, then exit with the
// command's code · the command exiting on its own is started again after RESPAWN_DELAY_MS.
import { spawn, type ChildProcess } from 'node:child_process';
import { SD_LISTEN_FDS_START } from './listen-fds';

const RESPAWN_DELAY_MS = 1000;
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
    const c = spawn('/bin/sh', ['-c', SET_LISTEN_PID, 'sh', ...command], {
      stdio: ['inherit', 'inherit', 'inherit', ...fds],
      env: { ...process.env, LISTEN_FDS: String(n), LISTEN_FDNAMES: undefined },
    });
    child = c;
    c.once('exit', (code, sig) => {
      if (child !== c) return; // an old one, replaced by a restart
      if (stopping) process.exit(code ?? (sig ? 128 : 0));
      process.stderr.write(`socket-keeper: command exited (${code ?? sig}); starting it again in ${RESPAWN_DELAY_MS} ms\n`);
      setTimeout(() => { if (!stopping) start(); }, RESPAWN_DELAY_MS);
    });
  };

  process.on('SIGUSR2', () => {
    if (stopping) return;
    const old = child;
    start();
    old?.kill('SIGTERM');
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
