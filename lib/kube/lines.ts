// Splits a watch stream into JSON objects, one per line (the API server writes one event per
// line; chunks cut lines anywhere, including inside a UTF-8 sequence, so bytes are buffered).

/** One watch event line larger than this is refused: it is not an event we can use. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export class JsonLines {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** The complete objects in `chunk` (plus what was pending); throws on a bad line. */
  push(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      let line = chunk.subarray(start, nl);
      if (this.pendingBytes) {
        line = Buffer.concat([...this.pending, line]);
        this.pending = [];
        this.pendingBytes = 0;
      }
      start = nl + 1;
      const text = line.toString('utf8').trim();
      if (!text) continue;
      try {
        out.push(JSON.parse(text));
      } catch (e) {
        throw new Error(`watch line is not JSON (${(e as Error).message}): ${text.slice(0, 120)}`, { cause: e });
      }
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > MAX_LINE_BYTES) throw new Error(`watch line longer than ${MAX_LINE_BYTES} bytes`);
      this.pending.push(Buffer.from(chunk.subarray(start)));
    }
    return out;
  }
}
