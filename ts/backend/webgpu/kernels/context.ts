// What a WebGPU kernel sees: pipelines by key, one call to record a dispatch, scratch tensors and
// constant tables. Kernels only record work; the backend owns submission, read-back and buffer
// lifetimes.

import type {} from 'webgpu';
import type { OpArgs, OpName } from '../../backend.js';
import type { Tensor } from '../../../tensor/tensor.js';
import type { DType, TypedArray } from '../../../tensor/dtype.js';
import type { GPUTensor } from '../buffers.js';

/** A uniform parameter: a plain number is a u32; wrap floats and signed ints. */
export type Param = number | { f32: number } | { i32: number };

export interface KernelContext {
  /** Whether WGSL may `enable f16;` (the device has shader-f16). */
  readonly hasF16: boolean;
  /**
   * Whether the adapter runs shaders on the CPU (lavapipe, SwiftShader): there workgroup memory is
   * ordinary memory and barriers only cost, so kernels may pick barrier-free variants.
   */
  readonly cpuBacked: boolean;
  /** The rnn/lstm schedule the caller asked for (WebGPUBackendOptions.recurrence), if any. */
  readonly recurrence: 'loop' | 'steps' | undefined;
  /** The most bytes one storage binding may cover on this device. */
  readonly maxBindingBytes: number;
  /** The compute pipeline for `key`, compiled from `code()` the first time. */
  pipeline(key: string, code: () => string): GPUComputePipeline;
  /**
   * Records one dispatch: `buffers` bind to @binding(0..n-1) in order, the uniform struct built
   * from `params` to @binding(n). Empty tensors are bound as a 4-byte dummy.
   */
  dispatch(pipeline: GPUComputePipeline, buffers: Array<GPUTensor | GPUBuffer>, params: Param[], groups: readonly [number, number]): void;
  /**
   * A small constant table on the device (frequency tables, for instance), made by `make()` the
   * first time `key` is asked for and kept by the backend: repeated passes upload nothing.
   */
  constant(key: string, make: () => TypedArray): GPUBuffer;
  /**
   * A device tensor for this op's intermediate results (uninitialized). It goes back to the pool
   * once the op is recorded: later work that reuses the buffer is recorded after this op's.
   */
  scratch(dtype: DType, shape: readonly number[]): GPUTensor;
}

/**
 * Arguments whose values the op's checks read on the host (ids in range, positions >= 0, a
 * mask's values), so they must come from the host, never from a GPUTensor.
 */
export const HOST_CHECKED: Partial<Record<string, string>> = {
  embedding: 'ids', rope: 'positions', sinusoidal: 'positions', attention: 'mask', attentionNaive: 'mask',
};

/** Op arguments with every tensor on the device. */
export type OnGpu<T> = {
  [P in keyof T]: T[P] extends Tensor ? GPUTensor : T[P] extends Tensor | undefined ? GPUTensor | undefined : T[P];
};

/**
 * Records op K writing `out`. `host` holds the arguments as the caller gave them, for values the
 * checks already read on the host (ids, positions); `outGiven` says whether `out` holds the
 * caller's values (matmul's beta reads them) or is freshly allocated.
 */
export type WebGPUKernel<K extends OpName> = (ctx: KernelContext, args: OnGpu<OpArgs[K]>, out: GPUTensor, host: OpArgs[K], outGiven: boolean) => void;

export type KernelTable = { [K in OpName]?: WebGPUKernel<K> };

const MAX_GROUPS = 65535;

/**
 * Workgroup grid for `items` work items at `per` items per workgroup, split over y when x would
 * pass the 65535 limit. Returns the grid and the x extent in items (for the flat index).
 */
export function grid(items: number, per: number): { groups: [number, number]; nx: number } {
  const total = Math.max(1, Math.ceil(items / per));
  const gx = Math.min(total, MAX_GROUPS);
  const gy = Math.ceil(total / gx);
  if (gy > MAX_GROUPS) throw new RangeError(`webgpu backend: ${items} work items exceed the dispatch grid`);
  return { groups: [gx, gy], nx: gx * per };
}
