// sd_notify(3) without libsystemd: under systemd `Type=notify`, $NOTIFY_SOCKET names an AF_UNIX
// datagram socket (a path, or an abstract name written `@name`). Node's dgram has no AF_UNIX, so
// the datagrams go through node-unix-socket's DgramSocket (a prebuilt N-API addon shipped in its
// npm package). READY=1 after the first successful start; WATCHDOG=1 every half of
// $WATCHDOG_USEC from a timer on the event loop, so a wedged loop stops the pings and systemd
// (WatchdogSec=) restarts the daemon.
import type { Logger } from 'pino';
import { DgramSocket } from 'node-unix-socket';

export interface NotifyEnv {
  NOTIFY_SOCKET?: string;
  WATCHDOG_USEC?: string;
  WATCHDOG_PID?: string;
}

/** The socket address as the kernel wants it: '@name' → '\0name' (abstract namespace). */
export function notifyAddress(env: NotifyEnv): string | null {
  const s = env.NOTIFY_SOCKET;
  if (!s) return null;
  if (s.startsWith('@')) return '\0' + s.slice(1);
  if (s.startsWith('/')) return s;
  return null; // systemd also allows vsock: addresses; not supported here
}

/** Half the watchdog interval in ms, or null when no watchdog applies to this process. */
export function watchdogIntervalMs(env: NotifyEnv, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

export class SystemdNotifier {
  private sock: DgramSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly address: string | null;
  private readonly intervalMs: number | null;

  constructor(
    env: NotifyEnv = process.env,
    private readonly log?: Logger,
  ) {
    this.address = notifyAddress(env);
    this.intervalMs = this.address ? watchdogIntervalMs(env) : null;
    if (env.NOTIFY_SOCKET && !this.address) log?.warn({ NOTIFY_SOCKET: env.NOTIFY_SOCKET }, 'NOTIFY_SOCKET is neither a path nor an abstract @name; not notifying systemd');
  }

  get enabled(): boolean {
    return this.address !== null;
  }

  /** Sends one state string ("READY=1", "STOPPING=1", "STATUS=…"). Errors are logged, never thrown. */
  send(state: string): void {
    if (!this.address) return;
    try {
      this.sock ??= new DgramSocket();
      const buf = Buffer.from(state);
      this.sock.sendTo(buf, 0, buf.length, this.address, (err) => {
        if (err) this.log?.warn({ err: err.message, state }, 'sd_notify failed');
      });
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, state }, 'sd_notify failed');
    }
  }

  /** READY=1 and, with a watchdog, WATCHDOG=1 pings from now on. */
  ready(status?: string): void {
    this.send(`READY=1${status ? `\nSTATUS=${status}` : ''}\nMAINPID=${process.pid}`);
    if (this.intervalMs !== null && !this.timer) {
      this.timer = setInterval(() => this.send('WATCHDOG=1'), this.intervalMs);
      this.timer.unref();
    }
  }

  stopping(): void {
    this.send('STOPPING=1');
    this.close();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const s = this.sock;
    this.sock = null;
    // Let queued datagrams go out first.
    if (s)
      setImmediate(() => {
        try {
          s.close();
        } catch {
          /* already closed */
        }
      });
  }
}
