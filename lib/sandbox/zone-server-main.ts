// ip netns exec NET node dist/lib/sandbox/zone-server-main.js --zone FILE \
//   --listen 203.0.113.2:53 --listen [2001:db8:3::2]:53 [--ready-file FILE]
// stdout: one JSON line per query received, "READY <endpoints>" once listening,
// {"reload":"ok"|"error"} after SIGHUP. Exits 0 on SIGTERM/SIGINT.

import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadZone, Zone } from './zone';
import { ZoneServer } from './zone-server';
import { formatEndpoint, parseEndpoint } from './endpoint';

function readZone(file: string): Zone {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`zone-server: cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`zone-server: ${file} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  return loadZone(json);
}

function out(line: unknown): void {
  process.stdout.write((typeof line === 'string' ? line : JSON.stringify(line)) + '\n');
}

async function main(): Promise<void> {
  const opts = new Command()
    .requiredOption('--zone <file>', 'zone JSON file')
    .option('--listen <addr:port>', 'UDP+TCP endpoint (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--ready-file <file>', 'written with the bound endpoints once listening')
    .parse()
    .opts<{ zone: string; listen: string[]; readyFile?: string }>();
  const endpoints = (opts.listen.length ? opts.listen : ['127.0.0.1:5353']).map(parseEndpoint);
  const server = new ZoneServer(readZone(opts.zone), { log: out });
  const bound = await server.listen(endpoints);
  const list = bound.map(formatEndpoint).join(' ');
  if (opts.readyFile) writeFileSync(opts.readyFile, list + '\n');
  out(`READY ${list}`);

  process.on('SIGHUP', () => {
    try {
      server.setZone(readZone(opts.zone));
      out({ reload: 'ok' });
    } catch (e) {
      out({ reload: 'error', error: (e as Error).message }); // keep serving the old zone
    }
  });
  const stop = () => {
    void server.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
