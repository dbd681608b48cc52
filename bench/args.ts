// The bench scripts' command-line options: `--key value` and bare `--flag`.

/** The value after `k` on the command line, else `d`. */
export function arg(k: string, d: string): string {
  const i = process.argv.indexOf(k);
  return i > 0 ? process.argv[i + 1] : d;
}

/** Whether `k` is on the command line. */
export function has(k: string): boolean {
  return process.argv.includes(k);
}
