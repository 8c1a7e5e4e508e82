// attnode's reference dequantizers against ggml's own (to_float of llama.cpp's libggml-base,
// recorded by tools/llamacpp/make-dequant-goldens.mjs): every block tensor of llama.cpp's
// llama-k256 quantizations and of `attnode quantize`'s output of each type, bit for bit (sha256 of
// the f32 values). So a logit difference between the engines on these files comes from how each
// computes with the values (test/helpers/llamacpp.ts), never from reading them differently.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertHFToGGUF } from '../ts/convert/hf-to-gguf.js';
import { quantizeGGUF } from '../ts/convert/quantize.js';
import { GGUFFile } from '../ts/io/gguf.js';
import { WEIGHT_DTYPES, WEIGHT_FORMATS } from '../ts/tensor/formats.js';
import { LLAMACPP_DIR } from './helpers/llamacpp.js';

const GOLDENS = JSON.parse(readFileSync(join(LLAMACPP_DIR, 'ggml-dequant-goldens.json'), 'utf8')) as {
  header: { layout_version: number };
  files: Record<string, Record<string, { type: string; sha256: string }>>;
};
const BY_ID = new Map(WEIGHT_DTYPES.map((d) => [WEIGHT_FORMATS[d].ggufType, d]));

const work = mkdtempSync(join(tmpdir(), 'attnode-ggml-dequant-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let f32Path: string | undefined;

/** tensor -> sha256 of attnode's reference dequantization, for the tensors the golden lists. */
function ours(file: string, names: readonly string[]): Record<string, { type: string; sha256: string }> {
  const g = new GGUFFile(file);
  try {
    const out: Record<string, { type: string; sha256: string }> = {};
    for (const name of names) {
      const t = g.tensors.get(name);
      if (!t) throw new RangeError(`${file}: no tensor '${name}'`);
      const values = WEIGHT_FORMATS[BY_ID.get(t.type)!].dequantize(g.file.read(t.byteOffset, t.byteLength));
      out[name] = { type: t.typeName, sha256: createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex') };
    }
    return out;
  } finally {
    g.dispose();
  }
}

describe("reference dequantizers against ggml's on llama-k256", () => {
  it('the goldens are the layout this test reads', () => expect(GOLDENS.header.layout_version).toBe(1));
  for (const [file, want] of Object.entries(GOLDENS.files)) {
    it(`${file}: every block tensor dequantizes to ggml's bits`, () => {
      let path = join(LLAMACPP_DIR, file);
      const quantize = /^quantize f32 (.+)$/.exec(file);
      if (quantize) {
        if (!f32Path) {
          f32Path = join(work, 'k256-f32.gguf');
          convertHFToGGUF(LLAMACPP_DIR, f32Path, { type: 'f32', name: 'llama-k256' });
        }
        path = join(work, `${quantize[1]}.gguf`);
        quantizeGGUF(f32Path, path, quantize[1]!);
      }
      expect(ours(path, Object.keys(want))).toEqual(want);
    }, 120_000);
  }
});
