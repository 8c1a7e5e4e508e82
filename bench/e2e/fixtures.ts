// The end-to-end suite's model files: one GPT-2 124M-shaped GGUF file with random weights and
// GPT-2's tokenizer metadata (f32), and the same weights requantized by `attnode quantize`'s code
// (ts/convert/quantize.ts) to f16, q8_0 and Q4_K_M. Both engines load these same files. Cached in
// a folder of their own between runs (they take 1.2 GB together); not committed.

import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeGGUF } from '../../ts/convert/quantize.js';
import { writeGpt2_124m } from '../gpt2-124m-fixture.js';

export const E2E_DTYPES = ['f32', 'f16', 'q8_0', 'q4_k_m'] as const;
export type E2EDtype = (typeof E2E_DTYPES)[number];

/** How the report names each file's type (llama-bench prints llama.cpp's file-type names). */
export const DTYPE_LABEL: Readonly<Record<E2EDtype, string>> = { f32: 'F32', f16: 'F16', q8_0: 'Q8_0', q4_k_m: 'Q4_K_M' };

/** Bumped when the files' contents change, so that a cached file of an older layout is not reused. */
const FIXTURE_VERSION = 1;

/** $ATTNODE_BENCH_FIXTURES, else a folder in the temporary directory. */
export function fixturesDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ATTNODE_BENCH_FIXTURES || join(tmpdir(), 'attnode-bench-gguf');
}

/** The file for `dtype`, written (and its f32 source) when missing; written under a temporary name, then renamed. */
export function e2eModelFile(dtype: E2EDtype, dir: string = fixturesDir(), log: (s: string) => void = () => {}): string {
  mkdirSync(dir, { recursive: true });
  const path = (d: E2EDtype) => join(dir, `gpt2-124m-v${FIXTURE_VERSION}-${d}.gguf`);
  const f32 = path('f32');
  if (!existsSync(f32)) {
    log(`writing ${f32}`);
    const tmp = `${f32}.${process.pid}.tmp`;
    writeGpt2_124m(tmp, 1, 'f32', { tokenizer: true });
    renameSync(tmp, f32);
  }
  const out = path(dtype);
  if (!existsSync(out)) {
    log(`attnode quantize ${f32} -> ${dtype}`);
    const tmp = `${out}.${process.pid}.tmp`;
    quantizeGGUF(f32, tmp, dtype);
    renameSync(tmp, out);
  }
  return out;
}

export const fileMiB = (path: string): number => statSync(path).size / 2 ** 20;
