// Exit codes of the CLI (README.md, "Commands"): 0 ok, 1 bad input or configuration, 2 runtime failure.
import { ConfigError } from '../config/errors';

export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 1;
export const EXIT_RUNTIME = 2;

/** A user-facing error: message printed as is, with the exit code it deserves. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError) return EXIT_BAD_INPUT;
  if (err instanceof CliError) return err.exitCode;
  return EXIT_RUNTIME;
}
