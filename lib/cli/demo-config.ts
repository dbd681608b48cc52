// The demo's world: what the "internet" resolver serves and what each pod may reach.
import type { ZoneFile } from '../sandbox/zone';
import { ADDR } from '../sandbox/topology';

export const DEMO_ZONE: ZoneFile = {
  records: [
    { name: 'api.example.com', type: 'A', ttl: 60, data: '198.18.0.10' },
    { name: 'api.example.com', type: 'AAAA', ttl: 60, data: '2001:db8:ff::10' },
    { name: 'www.example.com', type: 'CNAME', ttl: 300, data: 'edge.cdn.example.net' },
    { name: 'edge.cdn.example.net', type: 'A', ttl: 30, data: '198.18.0.20' },
    { name: 'storage.example.com', type: 'A', ttl: 30, data: '198.18.0.30' },
    { name: 'evil.example.org', type: 'A', ttl: 60, data: '198.18.6.6' },
  ],
};

export function demoConfig(): string {
  const a = ADDR;
  return `# dnswall demo configuration (generated)
listen: ["${a.nodePod1.v4}:53", "${a.nodePod2.v4}:53", "[${a.nodePod1.v6}]:53", "[${a.nodePod2.v6}]:53"]
upstreams: ["${a.net.v4}:53"]
denyResponse: nxdomain
ttl: { min: 10, max: 3600, grace: 10 }
enforce: { mode: enforce, action: reject }
policies:
  - name: frontend
    sources: ["${a.pod1.v4}/32", "${a.pod1.v6}/128"]
    allow:
      - api.example.com
      - www.example.com
      - name: storage.example.com
        ports: ["tcp/443"]
  - name: batch
    sources: ["${a.pod2.v4}/32", "${a.pod2.v6}/128"]
    allow:
      - "**.cdn.example.net"
`;
}
