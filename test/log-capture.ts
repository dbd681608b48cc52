// A pino logger whose JSON lines a test can read back (what the daemon logged, parsed).
import { Writable } from 'node:stream';
import pino from 'pino';

export function capture(level: pino.LevelWithSilent = 'info'): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}
