// Helpers for the sandbox's child processes: line-wise stdout, waiting for READY, stopping.

import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';

/** stdout split into lines ('line' events), plus the tail of stderr for error messages. */
export class ChildLines extends EventEmitter {
  private stderrBuf = '';

  constructor(
    readonly child: ChildProcess,
    readonly what: string,
  ) {
    super();
    let buf = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.emit('line', line);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.stderrBuf = (this.stderrBuf + d).slice(-4000);
    });
    child.on('error', () => {
      /* reported through waitFor / exit */
    });
  }

  stderr(): string {
    return this.stderrBuf.trim();
  }

  /** The first line pred accepts; rejects if the child exits or cannot start first, or on timeout. */
  waitFor(pred: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const child = this.child;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | null, line?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        child.removeListener('error', onError);
        this.removeListener('line', onLine);
        if (err) reject(err);
        else resolve(line!);
      };
      const onLine = (l: string) => {
        if (pred(l)) settle(null, l);
      };
      // give stderr a moment to arrive, so the message says why
      const onExit = (code: number | null, sig: string | null) =>
        setTimeout(() => settle(new Error(`${this.what} exited (${code ?? sig}) before it was ready: ${this.stderr() || 'no stderr'}`)), 50);
      const onError = (e: Error) => settle(new Error(`${this.what} failed to start: ${e.message}`));
      const timer = setTimeout(() => settle(new Error(`${this.what} not ready after ${timeoutMs} ms: ${this.stderr() || 'no stderr'}`)), timeoutMs);
      if (child.exitCode !== null || child.signalCode !== null) return onExit(child.exitCode, child.signalCode);
      this.on('line', onLine);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
