// `dnswall teardown`: the uninstall step. Deletes dnswall's table — its chains, rules, sets and
// every element — in one nft transaction. The daemon leaves the table in place on stop on
// purpose (restarts keep connections working); this is the way to remove it.
import { spawnSync } from 'node:child_process';
import { installRuleset } from '../nft/ruleset';
import { NftError } from '../nft/errors';
import { CliError, EXIT_BAD_INPUT, EXIT_OK, EXIT_RUNTIME } from './exit';

/** nftables identifiers (as renderRuleset accepts them). */
const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,255}$/;

export interface TeardownResult {
  removed: boolean;
  message: string;
}

/** Does `table inet T` exist? (`nft list table` says "No such file or directory" when not.) */
function tableExists(table: string, nft: string): boolean {
  const r = spawnSync(nft, ['list', 'table', 'inet', table], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  if (r.error)
    throw new NftError(
      (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'ENOENT' : 'EIO',
      (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nft not found: install nftables (the nft command)' : `cannot run nft: ${r.error.message}`,
    );
  if (r.status === 0) return true;
  if (/No such file or directory/.test(r.stderr)) return false;
  if (/Operation not permitted/.test(r.stderr))
    throw new NftError('EPERM', 'nft: Operation not permitted — dnswall teardown needs CAP_NET_ADMIN (run as root or grant the capability)');
  throw new NftError('ENFTLOAD', `nft list table inet ${table} failed: ${r.stderr.trim() || 'exit ' + r.status}`);
}

export async function teardown(table: string, opts: { nft?: string } = {}): Promise<TeardownResult> {
  if (!NAME_RE.test(table)) throw new CliError(`--table ${JSON.stringify(table)} is not a valid nftables table name`, EXIT_BAD_INPUT);
  const nft = opts.nft ?? 'nft';
  try {
    if (!tableExists(table, nft)) return { removed: false, message: `table inet ${table} does not exist: nothing to remove` };
    // One transaction: the table with all its chains, rules, sets and elements, or nothing.
    await installRuleset(`delete table inet ${table}\n`, { nft });
  } catch (err) {
    if (err instanceof NftError) throw new CliError(err.message, EXIT_RUNTIME);
    throw err;
  }
  return { removed: true, message: `removed table inet ${table} (its rules, sets and every element); managed sources are no longer restricted` };
}

export async function runTeardown(o: { table: string }): Promise<number> {
  const r = await teardown(o.table);
  process.stdout.write(r.message + '\n');
  return EXIT_OK;
}
