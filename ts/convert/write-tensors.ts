// Tensors to write: f32 values read on demand, quantized with attnode's format table into the
// ggml type a plan gives them. Shared by `attnode convert` and `attnode quantize`; not a writer.

import type { GGUFWriteTensor } from '../io/gguf-write.js';
import { formatFor, ggmlTypeId } from './mixes.js';

export interface SourceTensor {
  /** llama.cpp's tensor name */
  readonly name: string;
  /** row-major */
  readonly shape: readonly number[];
  /** the values in f32, row-major */
  read(): Float32Array;
}

/** Each source as a GGUF tensor of its planned type (the plan must name every source). */
export function tensorsToGGUF(sources: readonly SourceTensor[], plan: ReadonlyMap<string, string>): GGUFWriteTensor[] {
  return sources.map((s) => {
    const type = plan.get(s.name);
    if (type === undefined) throw new RangeError(`plan: no type for tensor '${s.name}'`);
    const f = formatFor(type, s.name);
    const numel = s.shape.reduce((a, b) => a * b, 1);
    const cols = s.shape[s.shape.length - 1]!;
    if (cols % f.blockSize !== 0) throw new RangeError(`${s.name}: rows of ${cols} values are not whole ${type} blocks of ${f.blockSize}`);
    return {
      name: s.name, shape: s.shape, ggmlType: ggmlTypeId(type), byteLength: (numel / f.blockSize) * f.blockBytes,
      bytes: () => {
        const x = s.read();
        if (x.length !== numel) throw new RangeError(`${s.name}: read ${x.length} values, its shape [${s.shape.join(', ')}] has ${numel}`);
        return f.quantize(x);
      },
    };
  });
}
