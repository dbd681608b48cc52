// Without CAP_NET_ADMIN every entry point fails with code EPERM and names the capability.
import { spawnSync } from 'child_process';
import { join } from 'path';
import { runInNetns } from './netns';
import { openProgrammer } from './fixtures';

runInNetns(__filename, (t) => {
  t.test('open, installRuleset and listElements without CAP_NET_ADMIN', async (t) => {
    const p = await openProgrammer(); // the ruleset exists: EPERM, not ENOENT, must be the answer
    await p.close();
    const helper = join(__dirname, 'helpers/try-all.js');
    const r = spawnSync('setpriv', ['--bounding-set=-net_admin', '--inh-caps=-net_admin', process.execPath, helper], { encoding: 'utf8', timeout: 20_000 });
    t.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    for (const k of ['open', 'install', 'list']) {
      t.equal(out[k].code, 'EPERM', `${k}: code`);
      t.match(out[k].message, /CAP_NET_ADMIN/, `${k}: ${out[k].message}`);
    }
  });
});
