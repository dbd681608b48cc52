// Names longer than an element comment (128 characters) survive reloads: revocation decides by
// the whole name the daemon's book keeps, never by the cut comment ("~" + its right end). After
// a restart (adopted elements: only the comment is known) a cut name is kept, not revoked, and
// expires on its own. The real Daemon and kernel, in a namespace.
import dgram from 'node:dgram';
import pino from 'pino';
import packet from 'dns-packet';
import { runInNetns, sh, nft } from '../nft/netns';
import { parseConfig } from '../../lib/config/load';
import { Daemon } from '../../lib/server/daemon';
import { ZoneServer } from '../../lib/sandbox/zone-server';
import { loadZone } from '../../lib/sandbox/zone';

const LONG = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.example.com`; // 195 characters
const SHORT = 'short.example.com';

function ask(port: number, name: string): Promise<string> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no answer for ${name}`));
    }, 10_000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve((packet.decode(m) as unknown as { rcode: string }).rcode);
    });
    s.send(packet.encode({ id: 1, type: 'query', flags: packet.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] }), port, '127.0.0.1');
  });
}

runInNetns(__filename, async (t) => {
  sh('ip', ['link', 'set', 'lo', 'up']);
  const zs = new ZoneServer(
    loadZone({
      records: [
        { name: LONG, type: 'A', ttl: 600, data: '198.18.5.1' },
        { name: SHORT, type: 'A', ttl: 600, data: '198.18.5.2' },
      ],
    }),
    {},
  );
  const [u] = await zs.listen([{ host: '127.0.0.1', port: 0 }]);
  t.teardown(() => zs.close());
  const yaml = (allow: string[]) =>
    `listen: ["127.0.0.1:5353"]\nupstreams: ["127.0.0.1:${u.port}"]\npolicies:\n  - name: p\n    sources: ["127.0.0.1/32"]\n    allow: ${JSON.stringify(allow)}\n`;
  const log = pino({ level: 'silent' });
  const hasLong = () => /198\.18\.5\.1 timeout/.test(nft('list', 'set', 'inet', 'dnswall', 'allow4'));

  t.test('programmed under a cut comment; every reload that still allows it keeps it', async (t) => {
    const d = new Daemon(parseConfig(yaml([LONG, SHORT]), 'c.yaml'), log);
    const [b] = await d.start();
    t.teardown(() => d.stop());
    t.equal(await ask(b.udpPort, LONG), 'NOERROR');
    await ask(b.udpPort, SHORT);
    t.ok(LONG.length > 128);
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4'), new RegExp(`comment "~[bc.]+\\.example\\.com"`), 'the comment is cut');
    for (let i = 0; i < 3; i++) {
      const r = await d.reload(parseConfig(yaml([LONG, SHORT, `extra${i}.example.com`]), 'c.yaml'));
      t.equal(r.result, 'applied');
      t.ok(hasLong(), `reload ${i + 1}: the long name's element is still there`);
    }
    // A reload that no longer allows it revokes it (decided by the whole name, not by luck).
    await d.reload(parseConfig(yaml([SHORT]), 'c.yaml'));
    t.notOk(hasLong(), 'revoked when the policy drops it');
    t.equal(await ask(b.udpPort, LONG), 'NXDOMAIN');
  });

  t.test('after a restart the cut comment is never the basis of a revoke', async (t) => {
    const d1 = new Daemon(parseConfig(yaml([LONG, SHORT]), 'c.yaml'), log);
    const [b1] = await d1.start();
    await ask(b1.udpPort, LONG);
    await d1.stop();
    const d2 = new Daemon(parseConfig(yaml([LONG, SHORT]), 'c.yaml'), log);
    await d2.start();
    t.teardown(() => d2.stop());
    await new Promise((r) => setTimeout(r, 500)); // background adoption
    const r = await d2.reload(parseConfig(yaml([LONG, SHORT, 'x.example.com']), 'c.yaml'));
    t.equal(r.result, 'applied');
    t.ok(hasLong(), 'kept: the new daemon knows only the cut comment and does not guess');
  });
});
