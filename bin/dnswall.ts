#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=30
// The command line: parses arguments and hands over to lib/cli. Nothing else lives here.
// The node flags on the first line ship with the command (lib/sandbox/daemon-peer.ts reads them,
// so the tests and the bench run the daemon as it ships): a young generation of two 4 MiB
// semi-spaces instead of 16 MiB ones, and an old generation that grows by 1.3× what is live
// before its next full GC (V8's own "conservative" factor) instead of up to 4×. README
// "Performance" (Memory) has the measurements.
import { Command, Option } from 'commander';
import { LOG_LEVELS, createLogger } from '../lib/util/log';
import { exitCodeFor } from '../lib/cli/exit';
import { ConfigError } from '../lib/config/errors';
import { runCheck, runExplain, runRuleset, runList, runForget } from '../lib/cli/commands';
import { runDrops } from '../lib/cli/drops';
import { serve } from '../lib/cli/serve';
import { runTeardown } from '../lib/cli/teardown';
import { tableFor } from '../lib/cli/commands';
import { demo } from '../lib/cli/demo';
import { holdSockets } from '../lib/server/socket-holder';
import { loadConfigFile } from '../lib/config/load';

const DEFAULT_CONFIG = '/etc/dnswall/config.yaml';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- package.json sits outside rootDir's dist/ layout; require reads it at run time
const pkg = require('../../package.json') as { version: string };

const program = new Command('dnswall')
  .description('node-level DNS firewall and nftables set programmer')
  .version(pkg.version)
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .showHelpAfterError();

function run(fn: () => Promise<number | void> | number | void): Promise<void> {
  return Promise.resolve()
    .then(fn)
    .then(
      (code) => process.exit(typeof code === 'number' ? code : 0),
      (err: Error) => {
        process.stderr.write(errorText(err));
        process.exit(exitCodeFor(err));
      },
    );
}

/** Configuration errors are FILE:LINE:COL lines as they are (editors jump to them); others are named. */
function errorText(err: Error): string {
  return err instanceof ConfigError ? `${err.message}\n` : `dnswall: ${err.message}\n`;
}

const logger = () => createLogger(program.opts<{ logLevel: string }>().logLevel);

program
  .command('serve')
  .description('run the daemon in the foreground')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .option('--watch', 'reload when the configuration file changes')
  .action((o: { config: string; watch?: boolean }) => run(() => serve({ config: o.config, watch: o.watch, version: pkg.version }, logger())));

program
  .command('check')
  .description('validate a configuration')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action((o: { config: string }) => run(() => runCheck(o.config)));

program
  .command('explain')
  .description('print the verdict for a source and a name, and what decided it')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .option('--source <ip>', 'the asking source address')
  .option('--cgroup <path>', 'the asking host process, by its cgroup v2 path (e.g. /system.slice/backup.service)')
  .option('--pod <ns/name>', 'the asking pod of this node, by namespace/name (asks the running daemon for its policies)')
  .option('--control <path>', "the daemon's control socket, for --pod (default: the configuration's control:, else /run/dnswall/control.sock)")
  .option('--type <type>', 'query type', 'A')
  .option(
    '--address <ip>',
    'also say whether the answer guard would strip this answer address for the source (repeatable)',
    (v: string, acc: string[]) => [...acc, v],
    [] as string[],
  )
  .argument('<name>', 'the DNS name')
  .action((name: string, o: { config: string; source?: string; cgroup?: string; pod?: string; control?: string; type: string; address: string[] }) =>
    run(() => runExplain(o.config, { source: o.source, cgroup: o.cgroup, pod: o.pod, control: o.control }, name, o.type, o.address)),
  );

program
  .command('ruleset')
  .description('print the nftables ruleset that serve installs')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action((o: { config: string }) => run(() => runRuleset(o.config)));

program
  .command('list')
  .description('list the live set elements')
  .option('-c, --config <file>', 'configuration file (for the table name)', DEFAULT_CONFIG)
  .option('--table <name>', 'nftables table (default: from the configuration, else dnswall)')
  .option('--source <ip>', 'only elements of this source')
  .option('--cgroup <path>', 'only elements of this cgroup (host processes)')
  .option('--pod <ns/name>', 'only elements of this pod of this node (asks the running daemon)')
  .option('--control <path>', "the daemon's control socket, for pod names (default: the configuration's control:, else /run/dnswall/control.sock)")
  .option('--json', 'JSON output')
  .action((o: { config: string; table?: string; source?: string; cgroup?: string; pod?: string; control?: string; json?: boolean }) =>
    run(() => runList({ config: o.config, table: o.table, source: o.source, cgroup: o.cgroup, pod: o.pod, control: o.control, json: !!o.json })),
  );

program
  .command('forget')
  .description('delete every set element of one source (one batch)')
  .option('-c, --config <file>', 'configuration file (for the table name)', DEFAULT_CONFIG)
  .option('--table <name>', 'nftables table (default: from the configuration, else dnswall)')
  .option('--source <ip>', 'the source address to forget')
  .option('--cgroup <path>', 'the cgroup to forget: its path (its current id) or the id dnswall list shows for a removed one')
  .action((o: { config: string; table?: string; source?: string; cgroup?: string }) =>
    run(() => runForget({ config: o.config, table: o.table, source: o.source, cgroup: o.cgroup })),
  );

program
  .command('teardown')
  .description("remove dnswall's nftables table (every rule and element): the uninstall step; stop the daemon first")
  .option('-c, --config <file>', 'configuration file (for the table name)', DEFAULT_CONFIG)
  .option('--table <name>', 'nftables table (default: from the configuration, else dnswall)')
  .action((o: { config: string; table?: string }) => run(() => runTeardown({ table: tableFor({ config: o.config, table: o.table }) })));

program
  .command('drops')
  .description('the new connections the kernel rejected for managed sources, and why (asks the running daemon)')
  .option('-c, --config <file>', 'configuration file (for the control socket path)', DEFAULT_CONFIG)
  .option('--control <path>', "the daemon's control socket (default: the configuration's control:, else /run/dnswall/control.sock)")
  .option('--source <ip>', 'only drops of this source')
  .option('--cgroup <path>', 'only drops of this cgroup')
  .option('--pod <ns/name>', 'only drops of this pod')
  .option('--follow', 'keep printing new drops')
  .option('--json', 'JSON output (one object per line with --follow)')
  .action((o: { config: string; control?: string; source?: string; cgroup?: string; pod?: string; follow?: boolean; json?: boolean }) =>
    run(() => runDrops({ config: o.config, control: o.control, source: o.source, cgroup: o.cgroup, pod: o.pod, follow: !!o.follow, json: !!o.json })),
  );

program
  .command('hold-sockets')
  .description('bind the listen sockets and run COMMAND with them (systemd socket activation without systemd); SIGUSR2 restarts COMMAND, no query lost')
  .option('-c, --config <file>', 'configuration file (for the listen addresses)', DEFAULT_CONFIG)
  .argument('<command...>', 'the command to run, after "--" (e.g. dnswall serve -c FILE)')
  .action((command: string[], o: { config: string }) => run(() => holdSockets(loadConfigFile(o.config).listen, command, logger())));

program
  .command('demo')
  .description('build a throw-away sandbox and show allowed and blocked traffic through the real daemon')
  .option('--keep', 'keep the sandbox until Ctrl-C')
  .action((o: { keep?: boolean }) => run(() => demo({ keep: !!o.keep }, logger())));

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(errorText(err));
  process.exit(exitCodeFor(err));
});
