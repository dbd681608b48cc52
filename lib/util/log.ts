import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** JSON lines on stdout (journald and kubectl logs read them as they are). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: 'dnswall' }, timestamp: pino.stdTimeFunctions.isoTime });
}
