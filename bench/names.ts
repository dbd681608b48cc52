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
  /** warm-up names (warmName): fresh for every target, never in the measured files */
  warm: string;
  uniqueNames: number;
}

export const hotName = (i: number): string => `h${i}.${DOMAIN}`;
export const uniqueName = (i: number): string => `u${i}.${DOMAIN}`;
/**
 * Names asked only in the warm-up before each run, so every target has answered (and dnswall
 * committed) new names before the measured run: its insert path is as warm as its refresh path.
 * Their addresses are the last of the unique space (the measured unique names reach them last).
 */
export const WARM_NAMES = 4000;
export const warmName = (i: number): string => `w${i}.${DOMAIN}`;

function ip4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
const BASE = (198 << 24) | (18 << 16); // 198.18.0.0
export const hotAddress = (i: number): string => ip4((BASE + (1 << 17) - 256 + i) >>> 0);
export const uniqueAddress = (i: number): string => ip4((BASE + (i % UNIQUE_SPACE)) >>> 0);
export const warmAddress = (i: number): string => uniqueAddress(UNIQUE_SPACE - 1 - (i % UNIQUE_SPACE));

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
 * mixed: 9 hot lines then 1 unique line (90 % hot); warm: the warm-up names, each once.
 */
export async function writeNameFiles(dir: string, uniqueNames: number): Promise<NameFiles> {
  const f: NameFiles = {
    hosts: path.join(dir, 'hosts'),
    hot: path.join(dir, 'hot.txt'),
    unique: path.join(dir, 'unique.txt'),
    mixed: path.join(dir, 'mixed.txt'),
    warm: path.join(dir, 'warm.txt'),
    uniqueNames,
  };
  await writeLines(f.hosts, HOT_NAMES + uniqueNames + WARM_NAMES, (i) =>
    i < HOT_NAMES
      ? `${hotAddress(i)} ${hotName(i)}`
      : i < HOT_NAMES + uniqueNames
        ? `${uniqueAddress(i - HOT_NAMES)} ${uniqueName(i - HOT_NAMES)}`
        : `${warmAddress(i - HOT_NAMES - uniqueNames)} ${warmName(i - HOT_NAMES - uniqueNames)}`,
  );
  await writeLines(f.warm, WARM_NAMES, (i) => `${warmName(i)} A`);
  await writeLines(f.hot, HOT_NAMES * 100, (i) => `${hotName(i % HOT_NAMES)} A`);
  await writeLines(f.unique, uniqueNames, (i) => `${uniqueName(i)} A`);
  await writeLines(f.mixed, uniqueNames, (i) => (i % 10 === 9 ? `${uniqueName(Math.floor(i / 10))} A` : `${hotName(i % HOT_NAMES)} A`));
  return f;
}
