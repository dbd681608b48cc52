// listElements() returns what add() wrote; formatList() prints it for `dnswall list`.
import { runInNetns } from './netns';
import { openProgrammer, ip4 } from './fixtures';
import { listElements, formatList, formatDuration } from '../../lib/nft/list';
import { cgroupIdBytes } from '../../lib/nft/owner';

runInNetns(__filename, (t) => {
  t.test('round trip through the kernel', async (t) => {
    const p = await openProgrammer();
    await p.add([
      { set: 'allow4', source: ip4('10.244.1.5'), destination: ip4('198.51.100.50'), timeoutMs: 60_000, comment: 'a.example.com' },
      { set: 'allow4p', source: ip4('10.244.1.6'), destination: ip4('198.51.100.51'), proto: 17, port: 53, timeoutMs: 30_000, comment: 'b.example.com' },
      {
        set: 'allow6p',
        source: Buffer.from('fd000010024400010000000000000005', 'hex'),
        destination: Buffer.from('20010db8000000000000000000000001', 'hex'),
        proto: 6,
        port: 443,
        timeoutMs: 90_000,
        comment: 'c.example.com',
      },
    ]);
    const all = await listElements('dnswall');
    t.equal(all.length, 3);
    const a = all.find((e) => e.set === 'allow4')!;
    t.match(a, { source: '10.244.1.5', destination: '198.51.100.50', comment: 'a.example.com', timeoutMs: 60_000 });
    t.ok(a.expiresInMs! > 55_000 && a.expiresInMs! <= 60_000, `expiresInMs ${a.expiresInMs}`);
    t.equal(a.proto, undefined);
    t.match(
      all.find((e) => e.set === 'allow4p'),
      { source: '10.244.1.6', proto: 17, port: 53, comment: 'b.example.com' },
    );
    t.match(
      all.find((e) => e.set === 'allow6p'),
      { source: 'fd00:10:244:1::5', destination: '2001:db8::1', proto: 6, port: 443 },
    );

    const only = await listElements('dnswall', { source: '10.244.1.6' });
    t.same(
      only.map((e) => e.destination),
      ['198.51.100.51'],
    );

    const text = formatList(all, false).split('\n');
    t.match(text[0], /^SOURCE\s+DESTINATION\s+PORT\s+NAME\s+EXPIRES$/);
    t.ok(
      text.some((l) => /^10\.244\.1\.5\s+198\.51\.100\.50\s+\*\s+a\.example\.com\s+(59|60)s$/.test(l) || /1m$/.test(l)),
      text.join('\n'),
    );
    t.ok(text.some((l) => /udp\/53\s+b\.example\.com/.test(l)));
    t.same(JSON.parse(formatList(all, true)), all);
    await p.close();
  });

  t.test('cgroup sets in the real kernel: cgroup id . address [. proto . port], listed as cgroup:<id>', async (t) => {
    const p = await openProgrammer(); // open() checked the 12/24/20/32-byte keys of the cgroup sets
    const id = cgroupIdBytes(4242n);
    await p.add([
      { set: 'cgroup4', source: id, destination: ip4('198.51.100.60'), timeoutMs: 60_000, comment: 'g.example.com' },
      { set: 'cgroup6p', source: id, destination: Buffer.from('20010db8000000000000000000000002', 'hex'), proto: 6, port: 443, timeoutMs: 60_000, comment: 'h.example.com' },
    ]);
    const got = await listElements('dnswall', { sets: ['cgroup4', 'cgroup6p'] });
    t.match(
      got.find((e) => e.set === 'cgroup4'),
      { source: 'cgroup:4242', destination: '198.51.100.60', comment: 'g.example.com' },
    );
    t.match(
      got.find((e) => e.set === 'cgroup6p'),
      { source: 'cgroup:4242', destination: '2001:db8::2', proto: 6, port: 443 },
    );
    // nft itself reads the key as a cgroup id . address (numeric output: the id, not a path).
    const { execFileSync } = await import('child_process');
    t.match(execFileSync('nft', ['-n', 'list', 'set', 'inet', 'dnswall', 'cgroup4'], { encoding: 'utf8' }), /4242 \. 198\.51\.100\.60/);
    await p.close();
  });

  t.test('no table: a clear error', async (t) => {
    const { execFileSync } = await import('child_process');
    execFileSync('nft', ['flush', 'ruleset']);
    const err = await listElements('dnswall').catch((e) => e);
    t.equal(err.code, 'ENOENT');
    t.match(err.message, /is the ruleset installed/);
  });

  t.test('durations', async (t) => {
    t.equal(formatDuration(59_600), '1m');
    t.equal(formatDuration(3_723_000), '1h2m3s');
    t.equal(formatDuration(0), '0s');
    t.equal(formatDuration(undefined), 'never');
  });
});
