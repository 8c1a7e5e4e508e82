// Loads a checkpoint, runs one token, and prints the process's peak resident set size: for
// measuring what loading costs in memory (run under `/usr/bin/time -v` for the kernel's view).
//   npx tsx bench/load-rss.ts <file.gguf | checkpoint dir> [--write f32|q8_0]
// With --write, first writes a GPT-2 124M-shaped GGUF (bench/gpt2-124m-fixture.ts) to the path.

import { existsSync } from 'node:fs';
import { loadModel } from '../ts/models/model.js';

const [path, flag, dtype] = process.argv.slice(2);
if (!path) throw new TypeError("load-rss: give a checkpoint path");
if (flag === '--write' && !existsSync(path)) {
  const { writeGpt2_124m } = await import('./gpt2-124m-fixture.js');
  writeGpt2_124m(path, 1, dtype === 'q8_0' ? 'q8_0' : 'f32');
  console.log(`wrote ${path}`);
} else {
  const m = await loadModel(path, { kind: 'decoder' });
  const logits = await m.forward([1]);
  if (!logits.every(Number.isFinite)) throw new RangeError('load-rss: logits are not finite');
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ path, weightsMiB: +(m.bytes.weights / 2 ** 20).toFixed(1), maxRssMiB: +rss.toFixed(1) }));
  m.dispose();
}
