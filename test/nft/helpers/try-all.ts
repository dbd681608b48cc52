// Run under reduced privileges by eperm.test.ts: tries each entry point, prints {name: {code, message}}.
import { SetProgrammer } from '../../../lib/nft/programmer';
import { installRuleset } from '../../../lib/nft/ruleset';
import { listElements } from '../../../lib/nft/list';

async function attempt(f: () => Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await f();
    return { message: 'ok' };
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { code: err.code, message: err.message };
  }
}

void (async () => {
  const out = {
    open: await attempt(() => new SetProgrammer({ table: 'dnswall' }).open()),
    install: await attempt(() => installRuleset('add table inet dnswall\n')),
    list: await attempt(() => listElements('dnswall')),
  };
  process.stdout.write(JSON.stringify(out));
})();
