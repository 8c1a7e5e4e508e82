// `attnode quantize`: a GGUF file -> a GGUF file whose matrices have the types of a plain type or
// llama.cpp-style mix (mixes.ts), quantized by attnode's format table; metadata is copied, with
// general.file_type set. Not the mix rules (mixes.ts) and not the quantizers (ts/tensor/formats.ts).

import { GGUFFile } from '../io/gguf.js';
import { rawMetadata, writeGGUF } from '../io/gguf-write.js';
import { fileTypeOf, formatFor, mixOf, planTypes } from './mixes.js';
import { tensorsToGGUF, type SourceTensor } from './write-tensors.js';

/** ggml type names by id, for the source's types (only those attnode can read back to f32 matter). */
const NAME_BY_ID: Readonly<Record<number, string>> = { 0: 'F32', 1: 'F16', 8: 'Q8_0', 30: 'BF16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 20: 'IQ4_NL', 23: 'IQ4_XS' };

function intMeta(g: GGUFFile, key: string): number {
  const v = g.get(key);
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new RangeError(`gguf '${g.file.path}': ${key} must be a positive integer, got ${String(v)}`);
  return v;
}

/** Requantizes `input` into `output` with `type`; returns the plan (tensor -> ggml type). */
export function quantizeGGUF(input: string, output: string, type: string): Map<string, string> {
  mixOf(type);
  const g = new GGUFFile(input);
  try {
    const arch = g.get('general.architecture');
    if (typeof arch !== 'string') throw new RangeError(`gguf '${input}': general.architecture is missing`);
    const layers = intMeta(g, `${arch}.block_count`);
    const heads = intMeta(g, `${arch}.attention.head_count`);
    const kv = g.get(`${arch}.attention.head_count_kv`);
    const kvHeads = typeof kv === 'number' && kv > 0 ? kv : heads;
    const sources: SourceTensor[] = [...g.tensors.values()].map((t) => {
      const name = NAME_BY_ID[t.type] ?? t.typeName;
      const f = formatFor(name, t.name);
      return { name: t.name, shape: t.shape, read: () => f.dequantize(g.file.read(t.byteOffset, t.byteLength)) };
    });
    const plan = planTypes(type, sources, layers, heads / kvHeads);
    const meta = rawMetadata(g).filter(([k]) => k !== 'general.file_type' && k !== 'general.alignment');
    meta.push(['general.file_type', { type: 'u32', value: fileTypeOf(type) }]);
    writeGGUF(output, meta, tensorsToGGUF(sources, plan), g.alignment);
    return plan;
  } finally {
    g.dispose();
  }
}
