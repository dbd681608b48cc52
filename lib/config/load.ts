// Reading and validating the YAML configuration. Every problem is collected with its position
// and thrown together as one ConfigError; a Config is returned only when there are none.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import type { Config } from './types';
import { ConfigError, type ConfigIssue } from './errors';
import { Reader } from './reader';
import { buildConfig } from './validate';

/** Larger files are refused before parsing: a config is kilobytes, not megabytes. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export function loadConfigFile(path: string): Config {
  return parseConfig(readConfigText(path), path);
}

/** The file's text (size-checked); unreadable → a ConfigError naming the file and why. */
export function readConfigText(path: string): string {
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_CONFIG_BYTES) throw new Error(`file is larger than ${MAX_CONFIG_BYTES} bytes`);
    return buf.toString('utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '')}` : e.message;
    throw new ConfigError([{ file: path, line: 0, col: 0, message: `cannot read configuration: ${why}` }]);
  }
}

/** The key text at a duplicate-key error, for a message that names it. */
function keyAt(text: string, offset: number): string {
  const m = /^("[^"\n]*"|'[^'\n]*'|[^\s:,{}[\]]+)/.exec(text.slice(offset, offset + 200));
  return m ? m[1].replace(/^["']|["']$/g, '') : '?';
}

function yamlIssue(file: string, lc: LineCounter, text: string, e: YAMLError): ConfigIssue {
  const { line, col } = lc.linePos(e.pos[0]);
  const message = e.code === 'DUPLICATE_KEY' ? `duplicate key "${keyAt(text, e.pos[0])}"` : `YAML: ${e.message}`;
  return { file, line, col, message };
}

export function parseConfig(text: string, file: string): Config {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError([{ file, line: 0, col: 0, message: `configuration is larger than ${MAX_CONFIG_BYTES} bytes` }]);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, strict: true });
  const yamlIssues = [...doc.errors, ...doc.warnings].map((e) => yamlIssue(file, lc, text, e));
  // After a syntax error the tree is a guess; validating it would add confusing follow-on errors.
  // Duplicate keys leave a sound tree, so those are reported together with everything else.
  if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) throw new ConfigError(yamlIssues);
  const r = new Reader(file, lc, doc);
  const cfg = buildConfig(r, doc);
  const issues = [...yamlIssues, ...r.issues];
  if (issues.length > 0) throw new ConfigError(issues);
  return cfg;
}
