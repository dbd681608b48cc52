// Bind failures, told as an operator needs them: which address, which transport, and the usual
// cause of that errno on a node (bad input gets a clear error naming the problem).
import type { Endpoint } from '../config/types';
import { formatEndpoint } from '../config/addresses';

export class BindError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'BindError';
    this.code = code;
  }
}

/** The likely fix for a bind errno, or '' when there is no usual one. */
export function bindHint(code: string | undefined, ep: Endpoint): string {
  switch (code) {
    case 'EADDRINUSE':
      return `another process already listens there — often another resolver (systemd-resolved, dnsmasq, a NodeLocal DNSCache or a previous dnswall); find it with \`ss -lntup 'sport = :${ep.port}'\` and stop it or choose another listen address`;
    case 'EACCES':
    case 'EPERM':
      return ep.port < 1024
        ? `port ${ep.port} is privileged: dnswall needs CAP_NET_BIND_SERVICE (run as root, or AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit, or capabilities.add NET_BIND_SERVICE in the pod)`
        : 'permission denied (a seccomp or LSM policy may forbid the bind)';
    case 'EADDRNOTAVAIL':
      return `no interface of this node holds ${ep.host} yet — add it first (e.g. a dummy interface: \`ip link add dnswall0 type dummy && ip addr add ${ep.host}/${ep.family === 4 ? 32 : 128} dev dnswall0 && ip link set dnswall0 up\`; see examples/dnswall-address.service), or let systemd bind it (examples/dnswall.socket uses FreeBind=yes)`;
    case 'EAFNOSUPPORT':
      return 'IPv6 is disabled on this node';
    default:
      return '';
  }
}

export function bindError(err: NodeJS.ErrnoException, ep: Endpoint, transport: 'udp' | 'tcp'): BindError {
  const code = err.code ?? 'EIO';
  const hint = bindHint(code, ep);
  return new BindError(code, `cannot listen on ${transport} ${formatEndpoint(ep)}: ${code}${hint ? ' — ' + hint : ''}`);
}
