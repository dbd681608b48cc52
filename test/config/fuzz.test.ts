// Mutated configurations (seeded, deterministic): parseConfig returns a Config or throws a
// ConfigError whose issues all have positions inside the text; nothing else ever escapes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig } from '../../lib/config/load';
import { ConfigError } from '../../lib/config/errors';

const BASE = readFileSync(resolve(__dirname, '../../../examples/config.yaml'), 'utf8');
const PIECES = ['{', '}', '[', ']', ':', '- ', '\n', '  ', '"', "'", '*', '&a ', '*a', '!!str ', '~', '0', '-1', '::', '/', '#', '\t', ',', '?', '|', '>'];

let seed = 12345;
function rnd(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
}

t.test('2000 mutations never throw anything but ConfigError', async (t) => {
  let valid = 0;
  let invalid = 0;
  let other = 0;
  const lines = BASE.split('\n').length + 1;
  for (let i = 0; i < 2000; i++) {
    let text = BASE;
    for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) {
      const at = Math.floor(rnd() * text.length);
      const cut = rnd() < 0.5 ? Math.floor(rnd() * 8) : 0;
      text = text.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)] + text.slice(at + cut);
    }
    try {
      parseConfig(text, 'f.yaml');
      valid++;
    } catch (e) {
      if (e instanceof ConfigError && e.issues.length > 0 && e.issues.every((x) => x.line >= 1 && x.line <= lines + 8)) invalid++;
      else {
        other++;
        if (other <= 3) t.fail(`unexpected ${String(e)} for ${JSON.stringify(text)}`);
      }
    }
  }
  t.equal(other, 0, 'no other exceptions');
  t.ok(valid > 0 && invalid > 0, `both outcomes occur (valid ${valid}, invalid ${invalid})`);
});
