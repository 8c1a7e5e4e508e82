// The weight-format table: per format that a checkpoint can store linear weights in, its names in
// GGUF and safetensors, its block geometry and its plain reference quantize / dequantize.
// Not the kernels (native/src/weights/, ts/backend/webgpu/kernels/) and not the conversions' maths (half.ts, q8.ts).
//
// Adding a GGUF type means: one entry here, the matching entry in native/src/formats.h (same
// name, GGUF id and geometry), and its kernels: a packer + linear in native/src/weights/<name>.cc
// (registered for its DType), a WGSL decoder in ts/backend/webgpu/kernels/linear.ts. Every reader
// (GGUF, safetensors, mapped views, parameter byte counts, loadModel's dtype check) reads this
// table, so nothing else changes. K-quants have the same shape: Q4_K is blockSize 256 (a
// super-block of 8 sub-blocks of 32 with 6-bit scales and mins), blockBytes 144.

import type { DType } from './dtype.js';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from './half.js';
import { quantizeKQuant } from './kquant-quantize.js';
import { KQUANT_BYTES, SUPER_BLOCK, dequantizeKQuant, type KQuantName } from './kquants.js';
import { IQ4_BLOCK, IQ4_BYTES, dequantizeIq4, quantizeIq4, type IQ4Name } from './iq4-quants.js';
import { dequantizeLegacy, quantizeLegacy, type LegacyName } from './legacy-quants.js';
import { Q8_0_BLOCK, Q8_0_BLOCK_BYTES, dequantizeQ8_0, quantizeQ8_0 } from './q8.js';

/** The dtypes linear weights can be loaded as (loadModel's `dtype`, GGUF and safetensors weights). */
export type WeightDType = 'f32' | 'f16' | 'bf16' | 'q8_0' | LegacyName | KQuantName | IQ4Name;

export interface WeightFormat {
  readonly name: WeightDType;
  /** ggml_type id (ggml.h, enum ggml_type; GGUF tensor infos store it). */
  readonly ggufType: number;
  /** ggml's upper-case type name, for messages ('Q8_0'). */
  readonly ggufName: string;
  /** safetensors dtype name, where the format has one (safetensors stores no block formats). */
  readonly safetensors?: string;
  /** Values per block (1 for plain element types, 32 for Q8_0, 256 for K-quant super-blocks). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** Byte alignment native kernels need to read a mapped tensor in place (the widest scalar read). */
  readonly align: number;
  /** Reference quantize: n values (n a multiple of blockSize) -> n / blockSize blocks, little-endian bytes. */
  quantize(x: Float32Array): Uint8Array;
  /** Reference dequantize: blocks -> their values, rounded to f32. */
  dequantize(bytes: Uint8Array): Float32Array;
}

const u16 = (b: Uint8Array) => new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
const bytes = (a: Uint16Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export const WEIGHT_FORMATS: Readonly<Record<WeightDType, WeightFormat>> = {
  f32: {
    name: 'f32', ggufType: 0, ggufName: 'F32', safetensors: 'F32', blockSize: 1, blockBytes: 4, align: 4,
    quantize: (x) => bytes(Float32Array.from(x)),
    dequantize: (b) => new Float32Array(b.slice().buffer),
  },
  f16: {
    name: 'f16', ggufType: 1, ggufName: 'F16', safetensors: 'F16', blockSize: 1, blockBytes: 2, align: 2,
    quantize: (x) => bytes(f32ArrayToF16(x)),
    dequantize: (b) => f16ArrayToF32(u16(b.slice())),
  },
  bf16: {
    name: 'bf16', ggufType: 30, ggufName: 'BF16', safetensors: 'BF16', blockSize: 1, blockBytes: 2, align: 2,
    quantize: (x) => bytes(f32ArrayToBf16(x)),
    dequantize: (b) => bf16ArrayToF32(u16(b.slice())),
  },
  // GGUF Q8_0: f16 scale d, then 32 int8 q; value q * d. Scales sit 2-aligned inside a block.
  q8_0: {
    name: 'q8_0', ggufType: 8, ggufName: 'Q8_0', blockSize: Q8_0_BLOCK, blockBytes: Q8_0_BLOCK_BYTES, align: 2,
    quantize: (x) => quantizeQ8_0(x),
    dequantize: (b) => dequantizeQ8_0(b),
  },
  // GGUF's legacy blocks of 32 (legacy-quants.ts): f16 scale (and min), 4- or 5-bit quants.
  q4_0: legacy('q4_0', 2, 18),
  q4_1: legacy('q4_1', 3, 20),
  q5_0: legacy('q5_0', 6, 22),
  q5_1: legacy('q5_1', 7, 24),
  // GGUF's k-quant super-blocks of 256 (kquants.ts): sub-block scales quantized under f16 ones.
  q2_k: kquant('q2_k', 10),
  q3_k: kquant('q3_k', 11),
  q4_k: kquant('q4_k', 12),
  q5_k: kquant('q5_k', 13),
  q6_k: kquant('q6_k', 14),
  // GGUF's non-linear 4-bit formats (iq4-quants.ts): indices into a fixed 16-level codebook.
  iq4_nl: iq4('iq4_nl', 20),
  iq4_xs: iq4('iq4_xs', 23),
};

function legacy(name: LegacyName, ggufType: number, blockBytes: number): WeightFormat {
  return {
    name, ggufType, ggufName: name.toUpperCase(), blockSize: 32, blockBytes, align: 2,
    quantize: (x) => quantizeLegacy(name, x),
    dequantize: (b) => dequantizeLegacy(name, b),
  };
}

function kquant(name: KQuantName, ggufType: number): WeightFormat {
  return {
    name, ggufType, ggufName: name.toUpperCase(), blockSize: SUPER_BLOCK, blockBytes: KQUANT_BYTES[name], align: 2,
    quantize: (x) => quantizeKQuant(name, x),
    dequantize: (b) => dequantizeKQuant(name, b),
  };
}

function iq4(name: IQ4Name, ggufType: number): WeightFormat {
  return {
    name, ggufType, ggufName: name.toUpperCase(), blockSize: IQ4_BLOCK[name], blockBytes: IQ4_BYTES[name], align: 2,
    quantize: (x) => quantizeIq4(name, x),
    dequantize: (b) => dequantizeIq4(name, b),
  };
}

/**
 * The format a weight of rows of `k` values is stored as when `dtype` is asked for but its block
 * does not divide k: as llama.cpp's quantizer falls back, a k-quant to the legacy format of about
 * its bits, a 32-block format to f16, then f32. Returns `dtype` itself when it fits.
 */
export function fittingFormat(dtype: WeightDType, k: number): WeightDType {
  let d = dtype;
  while (k % WEIGHT_FORMATS[d].blockSize !== 0) d = FALLBACK[d] ?? 'f32';
  return d;
}

const FALLBACK: Partial<Record<WeightDType, WeightDType>> = {
  q2_k: 'q4_0', q3_k: 'q4_0', q4_k: 'q5_0', q5_k: 'q5_1', q6_k: 'q8_0',
  q4_0: 'f16', q4_1: 'f16', q5_0: 'f16', q5_1: 'f16', q8_0: 'f16', iq4_xs: 'iq4_nl', iq4_nl: 'f16',
};

/** The formats in table order, for messages and loops. */
export const WEIGHT_DTYPES: readonly WeightDType[] = Object.keys(WEIGHT_FORMATS) as WeightDType[];

export function isWeightDType(x: unknown): x is WeightDType {
  return typeof x === 'string' && Object.hasOwn(WEIGHT_FORMATS, x);
}

/** The format a GGUF tensor type id names, or undefined when attnode does not load it. */
export function formatOfGgufType(type: number): WeightFormat | undefined {
  return WEIGHT_DTYPES.map((d) => WEIGHT_FORMATS[d]).find((f) => f.ggufType === type);
}

/** The format a safetensors dtype name names, or undefined. */
export function formatOfSafetensors(name: string): WeightFormat | undefined {
  return WEIGHT_DTYPES.map((d) => WEIGHT_FORMATS[d]).find((f) => f.safetensors === name);
}

/** Bytes of `numel` values of a format (numel a multiple of its block size, else RangeError). */
export function formatBytes(dtype: WeightDType, numel: number): number {
  const f = WEIGHT_FORMATS[dtype];
  if (numel % f.blockSize !== 0) throw new RangeError(`${dtype} needs a multiple of ${f.blockSize} values, got ${numel}`);
  return (numel / f.blockSize) * f.blockBytes;
}

/** Bytes per value, for reports (q8_0: 34 / 32). */
export function bytesPerValue(dtype: WeightDType): number {
  return WEIGHT_FORMATS[dtype].blockBytes / WEIGHT_FORMATS[dtype].blockSize;
}
