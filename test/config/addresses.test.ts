// The address-like strings of the config: endpoints (IPv4 and bracketed IPv6), CIDRs, sources,
// ports. Accept/reject tables.
import t from 'tap';
import { failed, parseCIDR, parseEndpoint, parsePortRule, parseSource, parseIP } from '../../lib/config/addresses';

t.test('endpoints', async (t) => {
  const ok: [string, object][] = [
    ['1.2.3.4:53', { host: '1.2.3.4', port: 53, family: 4 }],
    ['169.254.20.10:5353', { host: '169.254.20.10', port: 5353, family: 4 }],
    ['[fd00::53]:53', { host: 'fd00::53', port: 53, family: 6 }],
    ['[FD00:0:0:0:0:0:0:53]:65535', { host: 'fd00::53', port: 65535, family: 6 }],
    ['[::1]:1', { host: '::1', port: 1, family: 6 }],
    ['[::ffff:192.0.2.1]:53', { host: '::ffff:c000:201', port: 53, family: 6 }],
  ];
  for (const [s, want] of ok) t.same(parseEndpoint(s), want, s);
  const bad: [string, RegExp][] = [
    ['1.2.3.4', /missing port/],
    ['1.2.3.4:', /not a number/],
    ['1.2.3.4:0', /out of range/],
    ['1.2.3.4:65536', /out of range/],
    ['1.2.3.4:53x', /not a number/],
    ['1.2.3.4:+53', /not a number/],
    ['fd00::53', /brackets/],
    ['fd00::53:53', /brackets/],
    ['[fd00::53]', /missing port/],
    ['[fd00::53:53', /missing "]"/],
    ['[1.2.3.4]:53', /only IPv6/],
    ['[fe80::1%eth0]:53', /zone IDs/],
    ['dns.example.com:53', /not an IP address/],
    ['1.2.3:53', /not an IP address/],
    ['0x01020304:53', /not an IP address/],
    ['', /missing port/],
  ];
  for (const [s, re] of bad) {
    const r = parseEndpoint(s);
    t.ok(failed(r) && re.test(r.error), `${JSON.stringify(s)} → ${failed(r) ? r.error : 'accepted'}`);
  }
});

t.test('CIDRs', async (t) => {
  t.same(parseCIDR('10.0.0.0/8'), { cidr: '10.0.0.0/8', family: 4, address: '10.0.0.0', prefix: 8 });
  t.same(parseCIDR('0.0.0.0/0'), { cidr: '0.0.0.0/0', family: 4, address: '0.0.0.0', prefix: 0 });
  t.same(parseCIDR('192.0.2.7'), { cidr: '192.0.2.7/32', family: 4, address: '192.0.2.7', prefix: 32 });
  t.same(parseCIDR('2001:DB8:0::/32'), { cidr: '2001:db8::/32', family: 6, address: '2001:db8::', prefix: 32 });
  t.same(parseCIDR('::/0'), { cidr: '::/0', family: 6, address: '::', prefix: 0 });
  t.same(parseCIDR('2001:db8::1'), { cidr: '2001:db8::1/128', family: 6, address: '2001:db8::1', prefix: 128 });
  for (const s of ['10.0.0.128/25', '2001:db8:8000::/33', '255.255.255.255/32']) t.notOk(failed(parseCIDR(s)), `${s} is a network`);
  const bad: [string, RegExp][] = [
    ['10.0.0.1/24', /host bits set; the network is 10\.0\.0\.0\/24/],
    ['192.0.2.255/23', /the network is 192\.0\.2\.0\/23/],
    ['2001:db8::1/64', /the network is 2001:db8::\/64/],
    ['10.0.0.0/33', /0\.\.32/],
    ['::/129', /0\.\.128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/8/8', /not an IP address/],
    ['10.0.0.0/ 8', /prefix length/],
    ['300.0.0.0/8', /not an IP address/],
  ];
  for (const [s, re] of bad) {
    const r = parseCIDR(s);
    t.ok(failed(r) && re.test(r.error), `${s} → ${failed(r) ? r.error : 'accepted'}`);
  }
});

t.test('sources', async (t) => {
  t.same(parseSource('cgroup:/system.slice/backup.service'), { kind: 'cgroup', path: '/system.slice/backup.service' });
  t.same(parseSource('10.244.1.0/24'), { kind: 'cidr', cidr: '10.244.1.0/24', family: 4, address: '10.244.1.0', prefix: 24 });
  for (const [s, re] of [
    ['cgroup:', /absolute/],
    ['cgroup:/', /every process of the host/],
    ['cgroup:system.slice', /absolute/],
    ['cgroup:/a/../b', /".."/],
    ['cgroup:/a/./b', /"\."/],
    ['cgroup:/a//b', /empty segment/],
    ['cgroup:/a/', /trailing/],
    ['cgroup:/a\nb', /control characters/],
    ['::ffff:10.0.0.0/104', /IPv4-mapped/],
    ['pod:frontend', /an IP, a CIDR or cgroup:\/path/],
    ['fd00::zz/64', /not an IPv6 address/],
  ] as [string, RegExp][]) {
    const r = parseSource(s);
    t.ok(failed(r) && re.test(r.error), `${JSON.stringify(s)} → ${failed(r) ? r.error : 'accepted'}`);
  }
});

t.test('ports', async (t) => {
  t.same(parsePortRule('tcp/443'), { proto: 'tcp', port: 443 });
  t.same(parsePortRule('udp/53'), { proto: 'udp', port: 53 });
  t.same(parsePortRule('TCP/1'), { proto: 'tcp', port: 1 });
  t.same(parsePortRule('udp/65535'), { proto: 'udp', port: 65535 });
  for (const [s, re] of [
    ['443', /write tcp\/PORT/],
    ['tcp/', /not a number/],
    ['tcp/0', /out of range/],
    ['tcp/65536', /out of range/],
    ['tcp/80-90', /not a number/],
    ['sctp/9', /tcp or udp/],
    ['/443', /write tcp\/PORT/],
    ['tcp:443', /write tcp\/PORT/],
  ] as [string, RegExp][]) {
    const r = parsePortRule(s);
    t.ok(failed(r) && re.test(r.error), `${s} → ${failed(r) ? r.error : 'accepted'}`);
  }
});

t.test('IPs are canonical', async (t) => {
  t.same(parseIP('2001:0db8:0000:0000:0000:0000:0000:0001'), { address: '2001:db8::1', family: 6 });
  t.same(parseIP('192.0.2.1'), { address: '192.0.2.1', family: 4 });
});
