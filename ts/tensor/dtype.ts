// Element types a Tensor can hold, with the typed array that stores each.
// Not a conversion library: see half.ts and q8.ts for the arithmetic. Block geometry of the
// weight formats comes from their table (formats.ts).

import { WEIGHT_FORMATS, type WeightDType } from './formats.js';

export type DType = WeightDType | 'i8' | 'i32';

export type TypedArray = Float32Array | Uint16Array | Int8Array | Int32Array | Uint8Array;

interface DTypeInfo {
  /** Values per storage block (32 for q8_0 and the legacy quants, 256 for k-quants, 1 otherwise). */
  readonly blockSize: number;
  /** Bytes per storage block. */
  readonly blockBytes: number;
  /** Typed array that views the storage (element = one storage unit). */
  readonly array: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; BYTES_PER_ELEMENT: number };
}

function geometry(d: keyof typeof WEIGHT_FORMATS): { blockSize: number; blockBytes: number } {
  return { blockSize: WEIGHT_FORMATS[d].blockSize, blockBytes: WEIGHT_FORMATS[d].blockBytes };
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  f32: { ...geometry('f32'), array: Float32Array },
  f16: { ...geometry('f16'), array: Uint16Array },
  bf16: { ...geometry('bf16'), array: Uint16Array },
  i8: { blockSize: 1, blockBytes: 1, array: Int8Array },
  i32: { blockSize: 1, blockBytes: 4, array: Int32Array },
  // Block formats are viewed as bytes.
  q8_0: { ...geometry('q8_0'), array: Uint8Array },
  q4_0: { ...geometry('q4_0'), array: Uint8Array },
  q4_1: { ...geometry('q4_1'), array: Uint8Array },
  q5_0: { ...geometry('q5_0'), array: Uint8Array },
  q5_1: { ...geometry('q5_1'), array: Uint8Array },
  q2_k: { ...geometry('q2_k'), array: Uint8Array },
  q3_k: { ...geometry('q3_k'), array: Uint8Array },
  q4_k: { ...geometry('q4_k'), array: Uint8Array },
  q5_k: { ...geometry('q5_k'), array: Uint8Array },
  q6_k: { ...geometry('q6_k'), array: Uint8Array },
  iq4_nl: { ...geometry('iq4_nl'), array: Uint8Array },
  iq4_xs: { ...geometry('iq4_xs'), array: Uint8Array },
};

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.hasOwn(DTYPES, x);
}

/** Storage units (typed-array elements) needed for `numel` values of `dtype`. */
export function storageLength(dtype: DType, numel: number): number {
  const info = DTYPES[dtype];
  if (info.blockSize === 1) return numel;
  if (numel % info.blockSize !== 0) throw new RangeError(`${dtype} needs a multiple of ${info.blockSize} values, got ${numel}`);
  return (numel / info.blockSize) * info.blockBytes;
}

/** Bytes needed for `numel` values of `dtype`. */
export function byteLength(dtype: DType, numel: number): number {
  return storageLength(dtype, numel) * DTYPES[dtype].array.BYTES_PER_ELEMENT;
}
