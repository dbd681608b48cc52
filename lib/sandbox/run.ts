// Running commands without a shell: argv goes to execve as it is, so no name or address
// can be read as shell syntax.

import { spawn, spawnSync } from 'node:child_process';

export interface RunResult {
  /** Exit code; -1 when the process ended by a signal. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_OUTPUT = 16 * 1024 * 1024; // enough for `nft list ruleset` of a big set

/** Run file with argv; resolves with the exit status, rejects on timeout or spawn failure. */
export function runFile(file: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [],
      err: Buffer[] = [];
    let size = 0;
    const collect = (into: Buffer[]) => (b: Buffer) => {
      size += b.length;
      if (size <= MAX_OUTPUT) into.push(b);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${argv.join(' ')}: timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${file} ${argv.join(' ')}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin.on('error', () => {
      /* the command may exit before reading its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Synchronous form for process 'exit' handlers, where no promise will ever settle. */
export function runFileSync(file: string, argv: string[], input: string, timeoutMs = 5000): RunResult {
  const r = spawnSync(file, argv, { input, timeout: timeoutMs, encoding: 'utf8' });
  return {
    code: r.status ?? -1,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.error ? r.error.message : (r.stderr ?? ''),
  };
}
