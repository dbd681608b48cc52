// add() resolves after the commit, and nft then shows the element with its comment and timeout.
import { runInNetns, nft } from './netns';
import { openProgrammer, ip4, expiresSeconds } from './fixtures';

runInNetns(__filename, (t) => {
  t.test('allow4 and allow4p elements appear in nft list set', async (t) => {
    const p = await openProgrammer();
    t.equal(p.recvBufferSize, 16 << 20, 'SO_RCVBUF reports 16 MiB (8 MiB forced past rmem_max, doubled by the kernel)');
    await p.add([
      { set: 'allow4', source: ip4('10.244.1.5'), destination: ip4('198.51.100.20'), timeoutMs: 60_000, comment: 'api.example.com' },
      { set: 'allow4p', source: ip4('10.244.1.5'), destination: ip4('198.51.100.21'), proto: 6, port: 443, timeoutMs: 30_000, comment: 'p.example.com' },
    ]);
    // Read right after the promise resolved: the commit already happened.
    const a4 = nft('list', 'set', 'inet', 'dnswall', 'allow4');
    t.match(a4, /10\.244\.1\.5 \. 198\.51\.100\.20 timeout 1m expires \S+ comment "api\.example\.com"/);
    const left = expiresSeconds(a4, '198.51.100.20');
    t.ok(left !== null && left > 55 && left <= 60, `expires in ${left}s`);
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow4p'), /10\.244\.1\.5 \. 198\.51\.100\.21 \. tcp \. 443 timeout 30s expires \S+ comment "p\.example\.com"/);
    t.same(p.stats, { batches: 1, messages: 2, elements: 2, failedBatches: 0, deleted: 0, skipped: 0, watchBehind: 0, evictions: { perName: 0, perSource: 0, total: 0 } });
    await p.close();
  });

  t.test('allow6 elements, and bad elements rejected without touching the kernel', async (t) => {
    const p = await openProgrammer();
    const src = Buffer.from('fd00001002440001' + '0000000000000005', 'hex');
    const dst = Buffer.from('20010db8000000000000000000000042', 'hex');
    await p.add([{ set: 'allow6', source: src, destination: dst, timeoutMs: 20_000, comment: 'v6.example.com' }]);
    t.match(nft('list', 'set', 'inet', 'dnswall', 'allow6'), /fd00:10:244:1::5 \. 2001:db8::42 timeout 20s expires \S+ comment "v6\.example\.com"/);
    const bad = await p.add([{ set: 'allow6', source: Buffer.alloc(4), destination: dst, timeoutMs: 1000, comment: '' }]).catch((e) => e);
    t.equal(bad.code, 'EINVAL');
    t.match(bad.message, /source must be 16 bytes/);
    const badT = await p.add([{ set: 'allow4', source: ip4('10.0.0.1'), destination: ip4('10.0.0.2'), timeoutMs: NaN, comment: '' }]).catch((e) => e);
    t.match(badT.message, /timeoutMs/);
    t.equal(p.stats.batches, 1, 'no batch sent for bad elements');
    await p.close();
  });

  t.test('an idle programmer does not keep the process alive', async (t) => {
    const p = await openProgrammer();
    await p.add([{ set: 'allow4', source: ip4('10.244.1.6'), destination: ip4('198.51.100.22'), timeoutMs: 10_000, comment: 'idle.example.com' }]);
    const { spawnSync } = await import('child_process');
    const code = `const {SetProgrammer}=require(${JSON.stringify(require.resolve('../../lib/nft/programmer'))});
      const p=new SetProgrammer({table:'dnswall'}); p.open().then(()=>p.add([{set:'allow4',source:Buffer.from([10,244,1,8]),destination:Buffer.from([198,51,100,23]),timeoutMs:10000,comment:'exit.example.com'}])).then(()=>console.log('added'));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 10_000 });
    t.equal(r.stdout.trim(), 'added', 'the add completed (a pending request keeps the process alive)');
    t.equal(r.status, 0, 'then the process exited on its own with the socket still open');
    await p.close();
  });
});
