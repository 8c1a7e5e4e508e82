// Fuzz: mutated safetensors and GGUF files (truncations, bit flips, inflated sizes and counts,
// random bytes over header fields). Each must load or throw a RangeError/TypeError that names
// the format; the process must not crash and memory must stay bounded.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../ts/io/safetensors.js';
import { GGUFFile } from '../ts/io/gguf.js';
import { mulberry32 } from './harness/rng.js';
import { f32Bytes, ggufBytes, safetensorsBytes } from './helpers/checkpoint-writers.js';
import { quantizeQ8_0 } from '../ts/tensor/q8.js';

const ITERATIONS = 5000; // per format: 10,000 files in all
class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'attnode-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function values(n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
}

const ST_BASE = safetensorsBytes(
  {
    'a.weight': { dtype: 'F32', shape: [4, 8], bytes: f32Bytes(values(32)) },
    'a.bias': { dtype: 'F16', shape: [4], bytes: new Uint8Array(8).fill(60) },
    b: { dtype: 'BF16', shape: [2, 3], bytes: new Uint8Array(12).fill(63) },
    c: { dtype: 'I8', shape: [5], bytes: new Uint8Array([1, 2, 3, 4, 5]) },
  },
  { format: 'pt' },
);
const GG_BASE = ggufBytes(
  {
    'general.architecture': [8, 'llama'],
    'llama.block_count': [4, 2],
    'tokenizer.ggml.tokens': [9, [8, ['a', 'bb', 'ccc']]],
    'tokenizer.ggml.scores': [9, [6, [0.5, 1, 2]]],
    big: [10, 12345678901234n],
    flag: [7, 1],
  },
  {
    'w.f32': { shape: [2, 8], type: 0, bytes: f32Bytes(values(16)) },
    'w.q8': { shape: [2, 32], type: 8, bytes: quantizeQ8_0(values(64)) },
    'w.f16': { shape: [3], type: 1, bytes: new Uint8Array(6).fill(60) },
  },
);

function u64At(b: Uint8Array, off: number, v: bigint): void {
  if (off + 8 <= b.length) new DataView(b.buffer, b.byteOffset).setBigUint64(off, BigInt.asUintN(64, v), true);
}

function mutate(base: Uint8Array, rng: Rng, gguf: boolean): Uint8Array {
  const kind = rng.int(0, 5);
  let b = base.slice();
  switch (kind) {
    case 0: // truncation
      b = b.slice(0, rng.int(0, b.length - 1));
      break;
    case 1: { // bit flips
      const n = rng.int(1, 8);
      for (let i = 0; i < n; i++) {
        const at = rng.int(0, b.length - 1);
        b[at]! ^= 1 << rng.int(0, 7);
      }
      break;
    }
    case 2: { // inflated sizes and counts in the fixed header fields
      const big = [1n << 63n, (1n << 64n) - 1n, 1n << 32n, BigInt(b.length), BigInt(b.length + 1), 0n][rng.int(0, 5)]!;
      const at = gguf ? [8, 16, 24, 32][rng.int(0, 3)]! : 0;
      u64At(b, at, big);
      break;
    }
    case 3: { // random bytes over a random u64/u32 (counts, dims, offsets, lengths)
      const at = rng.int(0, b.length - 1);
      if (rng.int(0, 1)) u64At(b, at, BigInt(rng.int(0, 2 ** 31)) * BigInt(rng.int(1, 2 ** 20)));
      else for (let i = at; i < Math.min(b.length, at + 4); i++) b[i] = rng.int(0, 255);
      break;
    }
    case 4: { // edits inside the safetensors JSON header: digits and names
      if (!gguf) {
        const text = new TextDecoder().decode(b);
        const digits = [...text.matchAll(/\d+/g)];
        const d = digits[rng.int(0, Math.max(0, digits.length - 1))];
        if (d && d.index !== undefined) {
          const repl = String([0, 1, 3, 7, 99999999, 2 ** 53, 1e300][rng.int(0, 6)]).slice(0, d[0].length);
          b.set(new TextEncoder().encode(repl.padEnd(d[0].length, '0')), d.index);
        }
      } else {
        b[rng.int(0, Math.min(b.length - 1, 200))] = rng.int(0, 255);
      }
      break;
    }
    default: { // appended garbage or a duplicated chunk
      const extra = new Uint8Array(rng.int(1, 64)).map(() => rng.int(0, 255));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      b = out;
    }
  }
  return b;
}

function exercise(path: string, gguf: boolean): 'ok' | 'error' {
  try {
    if (gguf) {
      const g = new GGUFFile(path);
      for (const n of g.tensors.keys()) {
        try {
          g.tensor(n).load();
        } catch (e) {
          if (!(e instanceof TypeError) || !/does not load/.test((e as Error).message)) throw e;
        }
      }
      g.dispose();
    } else {
      const s = new SafetensorsFile(path);
      for (const n of s.names) {
        try {
          s.tensor(n).load();
        } catch (e) {
          if (!(e instanceof TypeError) || !/does not load/.test((e as Error).message)) throw e;
        }
      }
      s.dispose();
    }
    return 'ok';
  } catch (e) {
    const msg = (e as Error).message;
    const clear = (e instanceof RangeError || e instanceof TypeError) && /^(gguf|safetensors) '/.test(msg);
    if (!clear) throw new Error(`unclear error for a mutated ${gguf ? 'GGUF' : 'safetensors'} file: ${String(e)}`);
    return 'error';
  }
}

describe('reader fuzz', () => {
  for (const gguf of [false, true]) {
    it(`${gguf ? 'GGUF' : 'safetensors'}: ${ITERATIONS} mutated files load or fail clearly`, () => {
      writeFileSync(join(dir, 'base'), gguf ? GG_BASE : ST_BASE);
      expect(exercise(join(dir, 'base'), gguf)).toBe('ok');
      const rng = new Rng(gguf ? 77 : 55);
      const rss0 = process.memoryUsage().rss;
      let ok = 0;
      let err = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const p = join(dir, `f${i % 8}`);
        writeFileSync(p, mutate(gguf ? GG_BASE : ST_BASE, rng, gguf));
        if (exercise(p, gguf) === 'ok') ok++;
        else err++;
      }
      const grown = process.memoryUsage().rss - rss0;
      // Both outcomes occur, so the mutations reach past the first check.
      expect(ok).toBeGreaterThan(ITERATIONS / 50);
      expect(err).toBeGreaterThan(ITERATIONS / 4);
      expect(grown).toBeLessThan(256 * 1024 * 1024);
    }, 60_000);
  }
});
