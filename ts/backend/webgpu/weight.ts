// WebGPUWeight: a linear layer's weight W (N, K) in a device buffer, in the same bytes as the host
// tensor (f32, f16, bf16, i8 with per-row scales, or GGUF q8_0 blocks): kernels decode in place.

import type {} from 'webgpu';
import type { DType } from '../../tensor/dtype.js';
import type { Weight } from '../backend.js';

export class WebGPUWeight implements Weight {
  readonly dtype: DType;
  readonly shape: readonly [number, number];
  readonly backend = 'webgpu';
  private data: GPUBuffer | undefined;
  private scaleBuf: GPUBuffer | undefined;

  /** @internal made by WebGPUBackend.packWeight */
  constructor(dtype: DType, shape: readonly [number, number], data: GPUBuffer, scales?: GPUBuffer) {
    this.dtype = dtype;
    this.shape = shape;
    this.data = data;
    this.scaleBuf = scales;
  }

  get bytes(): number {
    return (this.data?.size ?? 0) + (this.scaleBuf?.size ?? 0);
  }
  get disposed(): boolean {
    return this.data === undefined;
  }
  /** @internal W's bytes on the device. */
  get buffer(): GPUBuffer {
    if (!this.data) throw new TypeError("linear: 'weight' was disposed");
    return this.data;
  }
  /** @internal i8 weights: one f32 scale per output row. */
  get scales(): GPUBuffer | undefined {
    return this.scaleBuf;
  }
  /** Frees the device memory now; work already submitted that reads it completes first. */
  dispose(): void {
    this.data?.destroy();
    this.scaleBuf?.destroy();
    this.data = undefined;
    this.scaleBuf = undefined;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
