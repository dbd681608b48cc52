// sd_listen_fds(3) handling and the matching of inherited sockets to `listen` entries.
import t from 'tap';
import { listenFds, matchInherited, sameHost, type SocketInfo } from '../../lib/server/listen-fds';
import type { Endpoint } from '../../lib/config/types';

t.test('listenFds: only for this pid, and the variables are always unset', async (t) => {
  const env: NodeJS.ProcessEnv = { LISTEN_FDS: '3', LISTEN_PID: '42', LISTEN_FDNAMES: 'a:b:c' };
  t.same(listenFds(env, 42), [3, 4, 5]);
  t.same(env, {}, 'unset so children do not take our sockets');
  t.same(listenFds({ LISTEN_FDS: '2', LISTEN_PID: '41' }, 42), [], 'another process’s');
  t.same(listenFds({ LISTEN_FDS: '2' }, 42), [], 'no LISTEN_PID');
  t.same(listenFds({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42), [], 'garbage count');
  t.same(listenFds({ LISTEN_FDS: '0', LISTEN_PID: '42' }, 42), []);
  t.same(listenFds({}, 42), []);
});

t.test('matchInherited', async (t) => {
  const listen: Endpoint[] = [
    { host: '192.0.2.1', port: 53, family: 4 },
    { host: '2001:db8:1::1', port: 53, family: 6 },
  ];
  const s = (fd: number, transport: 'udp' | 'tcp', host: string, port = 53): SocketInfo => ({ fd, transport, host, port, family: host.includes(':') ? 6 : 4 });
  const m = matchInherited(listen, [s(3, 'udp', '192.0.2.1'), s(4, 'tcp', '192.0.2.1'), s(5, 'udp', '2001:db8:1:0:0:0:0:1')]);
  t.same(
    [...m.udp.entries()],
    [
      [0, 3],
      [1, 5],
    ],
    'IPv6 matched in any spelling',
  );
  t.same([...m.tcp.entries()], [[0, 4]], 'the v6 TCP entry is left to bind itself');
  t.throws(() => matchInherited(listen, [s(3, 'udp', '198.51.100.1')]), /inherited socket udp 198\.51\.100\.1:53 \(descriptor 3\) matches no "listen" entry/);
  t.throws(() => matchInherited(listen, [s(3, 'udp', '192.0.2.1', 5353)]), /matches no "listen" entry/, 'port counts');
  t.throws(() => matchInherited(listen, [s(3, 'udp', '192.0.2.1'), s(4, 'udp', '192.0.2.1')]), /two inherited sockets for udp 192\.0\.2\.1:53 \(descriptors 3 and 4\)/);
  t.ok(sameHost('fd00::53', 'fd00:0:0::53'));
  t.notOk(sameHost('fd00::53', 'fd00::54'));
});
