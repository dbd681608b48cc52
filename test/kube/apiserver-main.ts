// The test API server as a child process, so that it can run inside a network namespace (the
// daemon under test runs in the sandbox's node namespace). Arguments: PKI directory (from
// makePki). Prints {"port":N} once listening, then takes one JSON command per stdin line and
// answers one JSON line: {op:'create'|'update'|'delete'|'patchLabels'|'compact'|'closeWatches'|
// 'expireWatches'|'fault', ...}.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TestApiServer, type Fault, type Resource } from './apiserver';

async function main(): Promise<void> {
  const dir = process.argv[2];
  const r = (f: string) => readFileSync(join(dir, f), 'utf8');
  const pki = {
    dir,
    caCert: r('ca.crt'),
    serverCert: r('server.crt'),
    serverKey: r('server.key'),
    clientCert: r('client.crt'),
    clientKey: r('client.key'),
    files: { ca: join(dir, 'ca.crt'), clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key') },
    cleanup: () => undefined,
  };
  const s = await TestApiServer.start({ pki, tokens: ['secret-token'], bookmarkMs: 1000 });
  process.stdout.write(JSON.stringify({ port: s.port }) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    let out: unknown = null;
    try {
      const c = JSON.parse(line) as { op: string; resource?: Resource; object?: never; key?: string; labels?: Record<string, string>; fault?: Fault };
      switch (c.op) {
        case 'create':
          out = s.create(c.resource!, c.object!);
          break;
        case 'update':
          out = s.update(c.resource!, c.object!);
          break;
        case 'delete':
          out = s.delete(c.resource!, c.key!);
          break;
        case 'patchLabels':
          out = s.patch(c.resource!, c.key!, (o) => (o.metadata.labels = c.labels));
          break;
        case 'compact':
          s.compact();
          break;
        case 'closeWatches':
          out = s.closeWatches();
          break;
        case 'expireWatches':
          s.expireWatches();
          break;
        case 'fault':
          s.faults.push(c.fault!);
          break;
        case 'state':
          out = { openWatches: s.openWatches, rv: s.resourceVersion, faults: s.faults.length, requests: s.requests.length };
          break;
        default:
          throw new Error(`unknown op ${c.op}`);
      }
      process.stdout.write(JSON.stringify({ ok: true, out }) + '\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ ok: false, error: (e as Error).message }) + '\n');
    }
  }
  await s.close();
}

void main();
