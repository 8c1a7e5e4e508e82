// Peak memory of encoding one long text through a tokenizer.json tokenizer (issue #23, item 9):
// each tokenizer in its own child process, extra RSS = peak RSS less the RSS just before encode.
// Not a test: the regression test is test/tokenizer/long-text-memory.test.ts.
//
//   npx tsx bench/tokenizer-rss.ts [megabytes]            (default 12.5: every case below)
//   npx tsx bench/tokenizer-rss.ts <case> <megabytes>     (one case, in this process)

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../ts/tokenizer/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixture = (f: string): string => readFileSync(path.join(root, 'test/fixtures/tokenizers', f), 'utf8');
const CASES: Record<string, string> = {
  'WordPiece (BERT normalizer and pre-tokenizer)': 'wordpiece-bert.json',
  'byte-level BPE + NFC + Digits': 'bpe-bytelevel-digits.json',
  'Unigram + NFKC + Metaspace': 'unigram-metaspace.json',
};

/** The committed corpus, every file in turn, repeated to `mb` million UTF-16 units. */
function longText(mb: number): string {
  const dir = path.join(root, 'test/fixtures/tokenizer-corpus');
  const unit = readdirSync(dir).sort().map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n');
  const n = Math.round(mb * 1e6);
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

const mib = (b: number): number => +(b / 2 ** 20).toFixed(1);
const [name, mbArg] = process.argv.slice(2);
if (name !== undefined && CASES[name] !== undefined) {
  const tok = Tokenizer.fromJSON(fixture(CASES[name]!));
  const text = longText(Number(mbArg));
  // Flatten the repeated string first, so its one-off cost is in the baseline, not the encode.
  tok.encode(text.slice(0, 1000));
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const ids = tok.encode(text);
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ case: name, textMB: text.length / 1e6, ids: ids.length, seconds: +(ms / 1000).toFixed(2), baseMiB: mib(before), peakMiB: mib(peak), extraMiB: mib(peak - before) }));
} else {
  const mb = name === undefined ? 12.5 : Number(name);
  if (!(mb > 0)) throw new RangeError(`tokenizer-rss: megabytes must be a positive number, got ${name}`);
  for (const c of Object.keys(CASES)) {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), c, String(mb)], { encoding: 'utf8' });
    process.stdout.write(out);
  }
}
