// The Backend contract: every backend runs the same ops on Tensors with the same semantics.
// Models never name a backend; the op harness checks each backend against the reference.

import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** Arguments of each op. Shapes use the letters of DESIGN.md: N rows, C columns, H heads, D head size. */
export interface OpArgs {
  /** a: (..., S) f32, b: (S) f32 (S any suffix of a's shape) -> (..., S) */
  add: { a: Tensor; b: Tensor };
  /** Element-wise product with the same broadcasting as add. */
  mul: { a: Tensor; b: Tensor };
  /** x: (...) f32 -> x * s */
  scale: { x: Tensor; s: number };
  /** GELU; approximate 'none' (erf, default) or 'tanh', as PyTorch names them. */
  gelu: { x: Tensor; approximate?: 'none' | 'tanh' };
  /** x * sigmoid(x) */
  silu: { x: Tensor };
  /** Row-wise over the last dimension, numerically stable; a row of all -inf gives zeros. */
  softmax: { x: Tensor };
  /** x: (..., C), weight: (C), bias: (C) optional; eps default 1e-5; biased variance. */
  layerNorm: { x: Tensor; weight: Tensor; bias?: Tensor; eps?: number };
  /** x: (..., C), weight: (C); eps default 1e-6. */
  rmsNorm: { x: Tensor; weight: Tensor; eps?: number };
  /** table: (V, C) f32|f16|bf16, ids: (...) i32 -> (..., C) f32 */
  embedding: { table: Tensor; ids: Tensor };
  /**
   * x: (N, H, D) f32, positions: (N) i32. theta default 10000; rotaryDim default D (even);
   * interleaved false rotates (i, i + rotaryDim/2) as Hugging Face's rotate_half, true rotates (2i, 2i+1).
   */
  rope: { x: Tensor; positions: Tensor; theta?: number; rotaryDim?: number; interleaved?: boolean };
  /** positions: (N) i32 -> (N, dim) f32: sin at even columns, cos at odd, base default 10000. */
  sinusoidal: { positions: Tensor; dim: number; base?: number };
  /** f32 | f16 | bf16 -> dtype (f32 | f16 | bf16), round-to-nearest-even. */
  cast: { x: Tensor; dtype: 'f32' | 'f16' | 'bf16' };
}

export type OpName = keyof OpArgs;

export const OP_NAMES: readonly OpName[] = [
  'add', 'mul', 'scale', 'gelu', 'silu', 'softmax', 'layerNorm', 'rmsNorm', 'embedding', 'rope', 'sinusoidal', 'cast',
];

/** Where an op writes: a preallocated tensor of the op's output shape and dtype. */
export interface OutArg {
  out?: Tensor;
}

export interface Backend {
  /** e.g. 'reference', 'native', 'native-avx2', 'webgpu'. */
  readonly name: string;
  /** Ops this backend implements. */
  readonly ops: ReadonlySet<OpName>;
  /**
   * Runs one op. The result is `args.out` when given (it must have the output shape and
   * dtype), else a new tensor. Work happens off the main thread where the backend can do so.
   */
  run<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Promise<Tensor>;
  /** Frees the backend's resources; further calls reject. */
  dispose(): void;
}

/** Output dtype and shape of an op, with the argument checks every backend shares. */
export interface OutputSpec {
  dtype: DType;
  shape: number[];
}
