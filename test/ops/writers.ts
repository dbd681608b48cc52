// The ways a configuration file gets replaced on a node, for the --watch tests.
import fs from 'node:fs';
import path from 'node:path';

/**
 * kubelet's AtomicWriter for a mounted ConfigMap: DIR/config.yaml → ..data/config.yaml;
 * ..data → ..<timestamp>; an update writes a new timestamped directory, points ..data_tmp at
 * it, renames ..data_tmp over ..data and removes the old directory.
 */
export class ConfigMapVolume {
  private gen = 0;
  private current?: string;
  constructor(
    readonly dir: string,
    readonly key = 'config.yaml',
  ) {}

  get file(): string {
    return path.join(this.dir, this.key);
  }

  write(content: string): void {
    const ts = `..2026_12_03_17_00_00.${process.pid}${++this.gen}`;
    fs.mkdirSync(path.join(this.dir, ts));
    fs.writeFileSync(path.join(this.dir, ts, this.key), content);
    fs.symlinkSync(ts, path.join(this.dir, '..data_tmp'));
    fs.renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    if (!fs.existsSync(this.file)) fs.symlinkSync(path.join('..data', this.key), this.file);
    if (this.current) fs.rmSync(path.join(this.dir, this.current), { recursive: true, force: true });
    this.current = ts;
  }
}

/** An editor or config manager: write a temporary file, rename it over the original. */
export function atomicRename(file: string, content: string): void {
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

/** vim's default (backupcopy=auto on a plain file): rename to FILE~, write FILE anew, remove FILE~. */
export function backupRename(file: string, content: string): void {
  fs.renameSync(file, `${file}~`);
  fs.writeFileSync(file, content);
  fs.rmSync(`${file}~`);
}

/** In place, in two writes (truncate, then a slow second half): one reload, of the whole. */
export async function inPlaceSlow(file: string, content: string, gapMs: number): Promise<void> {
  const half = Math.floor(content.length / 2);
  fs.writeFileSync(file, content.slice(0, half));
  await new Promise((r) => setTimeout(r, gapMs));
  fs.appendFileSync(file, content.slice(half));
}
