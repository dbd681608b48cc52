// Configuration errors carry every problem found, each with a position, so `dnswall check`
// can print them all at once as FILE:LINE:COL message (the format editors jump to).

export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem has no position (the file could not be read). */
  line: number;
  /** 1-based; 0 when the problem has no position. */
  col: number;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  return i.line > 0 ? `${i.file}:${i.line}:${i.col} ${i.message}` : `${i.file}: ${i.message}`;
}

/** Issues in file order (line, then column), so the output reads top to bottom. */
export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const sorted = sortIssues(issues);
    super(sorted.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = sorted;
  }
}
