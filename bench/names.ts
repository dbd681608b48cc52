// The bench's names: the upstream's hosts file and dnsperf's query files. Every name answers
// one A record in 198.18.0.0/15; unique names get distinct addresses (until the space wraps),
// so every unique answer is a new (source, destination) element: the insert path.
import { createWriteStream } from 'node:fs';
import path from 'node:path';

export const DOMAIN = 'example.bench';
export const HOT_NAMES = 100;
/** 198.18.0.0/15 minus 198.19.255.0/24 (the hot names' addresses) */
export const UNIQUE_SPACE = (1 << 17) - 256;

export interface NameFiles {
  hosts: string;
  hot: string;
  unique: string;
  mixed: string;
  uniqueNames: number;
}

export const hotName = (i: number): string => `h${i}.${DOMAIN}`;
export const uniqueName = (i: number): string => `u${i}.${DOMAIN}`;

function ip4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
const BASE = (198 << 24) | (18 << 16); // 198.18.0.0
export const hotAddress = (i: number): string => ip4((BASE + (1 << 17) - 256 + i) >>> 0);
export const uniqueAddress = (i: number): string => ip4((BASE + (i % UNIQUE_SPACE)) >>> 0);

/** Writes lines in chunks (300k lines: no giant string, bounded memory). */
async function writeLines(file: string, count: number, line: (i: number) => string): Promise<void> {
  const out = createWriteStream(file);
  const CHUNK = 10_000;
  for (let i = 0; i < count; i += CHUNK) {
    let s = '';
    for (let j = i; j < Math.min(count, i + CHUNK); j++) s += line(j) + '\n';
    if (!out.write(s)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/**
 * hosts: all names; hot: the 100 hot names over and over; unique: every line a new name;
 * mixed: 9 hot lines then 1 unique line (90 % hot).
 */
export async function writeNameFiles(dir: string, uniqueNames: number): Promise<NameFiles> {
  const f: NameFiles = {
    hosts: path.join(dir, 'hosts'),
    hot: path.join(dir, 'hot.txt'),
    unique: path.join(dir, 'unique.txt'),
    mixed: path.join(dir, 'mixed.txt'),
    uniqueNames,
  };
  await writeLines(f.hosts, HOT_NAMES + uniqueNames, (i) => (i < HOT_NAMES ? `${hotAddress(i)} ${hotName(i)}` : `${uniqueAddress(i - HOT_NAMES)} ${uniqueName(i - HOT_NAMES)}`));
  await writeLines(f.hot, HOT_NAMES * 100, (i) => `${hotName(i % HOT_NAMES)} A`);
  await writeLines(f.unique, uniqueNames, (i) => `${uniqueName(i)} A`);
  await writeLines(f.mixed, uniqueNames, (i) => (i % 10 === 9 ? `${uniqueName(Math.floor(i / 10))} A` : `${hotName(i % HOT_NAMES)} A`));
  return f;
}
