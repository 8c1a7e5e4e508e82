// GPU storage: a pool of storage buffers reused by size class, and GPUTensor, a tensor whose
// bytes live on the device. Not the upload/download scheduling: see backend.ts.

import type {} from 'webgpu';
import type { DType } from '../../tensor/dtype.js';
import { byteLength } from '../../tensor/dtype.js';
import { USAGE } from './device.js';

/**
 * Size classes: powers of two and the midpoints between them (at most 1/3 wasted), never less
 * than 256 bytes, so a pool entry fits many slightly different shapes (growing KV caches, the
 * last partial batch).
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.ceil(Math.log2(bytes));
  const mid = (p / 4) * 3;
  return bytes <= mid ? mid : p;
}

const STORAGE_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;

/** Free storage buffers keyed by size class. Buffers return to it when their tensor is released. */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private live = 0;
  private pooled = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  /** A storage buffer of at least `bytes` bytes (contents undefined when reused). */
  acquire(bytes: number, what: string): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.maxBufferSize && bytes <= this.maxBufferSize) return this.create(Math.ceil(bytes / 4) * 4, what);
    if (bytes > this.maxBufferSize)
      throw new RangeError(`webgpu backend: ${what} needs ${bytes} bytes, more than this device's maxBufferSize (${this.maxBufferSize})`);
    const list = this.free.get(size);
    const b = list?.pop();
    if (b) {
      this.pooled -= b.size;
      this.live += b.size;
      return b;
    }
    return this.create(size, what);
  }

  private create(size: number, what: string): GPUBuffer {
    const b = this.device.createBuffer({ size, usage: STORAGE_USAGE, label: what });
    this.live += b.size;
    return b;
  }

  release(b: GPUBuffer): void {
    this.live -= b.size;
    this.pooled += b.size;
    const list = this.free.get(b.size);
    if (list) list.push(b);
    else this.free.set(b.size, [b]);
  }

  /** Bytes held by live tensors and bytes parked in the pool. */
  stats(): { liveBytes: number; pooledBytes: number } {
    return { liveBytes: this.live, pooledBytes: this.pooled };
  }

  /** Destroys the parked buffers (live ones stay valid). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooled = 0;
  }
}

/**
 * A tensor resident on the GPU: contiguous, row-major, in the same byte layout as a host Tensor of
 * its dtype (f16/bf16 as 16-bit words, q8_0 as GGUF blocks), starting `byteOffset` bytes into its
 * buffer. Ops recorded on the backend take and return these without any read-back;
 * `backend.read()` copies one to the host. Free with dispose().
 */
export class GPUTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Bytes of the values (the buffer may be larger: pooled size class). */
  readonly byteLength: number;
  private buf: GPUBuffer | undefined;

  /** @internal created by WebGPUBackend (`owner`), or by prefix()/reshape() as a view of `parent`. */
  constructor(
    dtype: DType,
    shape: readonly number[],
    buffer: GPUBuffer,
    private readonly onRelease: (b: GPUBuffer) => void,
    /** @internal the backend whose device holds the buffer */
    readonly owner: object,
    private readonly parent?: GPUTensor,
    /** @internal where the values start in the buffer (a multiple of 4) */
    readonly byteOffset = 0,
  ) {
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.byteLength = byteLength(dtype, this.numel);
    this.buf = buffer;
  }

  /**
   * @internal A tensor over bytes [byteOffset, byteOffset + its size) of a buffer someone else owns
   * (a backend's copy of host memory): disposing it frees nothing.
   */
  static over(owner: object, buffer: GPUBuffer, dtype: DType, shape: readonly number[], byteOffset: number): GPUTensor {
    return new GPUTensor(dtype, shape, buffer, () => undefined, owner, undefined, byteOffset);
  }

  get rank(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get disposed(): boolean {
    return this.buf === undefined || (this.parent?.disposed ?? false);
  }
  /** @internal the device buffer */
  get buffer(): GPUBuffer {
    if (!this.buf || this.disposed) throw new TypeError(`webgpu backend: ${this} was disposed`);
    return this.buf;
  }

  /**
   * The first `rows` rows (along dimension 0) as a view sharing this buffer: a KV cache read up
   * to its current length. The view is valid while this tensor is; disposing it frees nothing.
   */
  prefix(rows: number): GPUTensor {
    const total = this.shape[0];
    if (total === undefined) throw new RangeError('prefix: a rank-0 tensor has no rows');
    if (!Number.isInteger(rows) || rows < 0 || rows > total) throw new RangeError(`prefix: 'rows' must be an integer in [0, ${total}], got ${rows}`);
    return this.viewAs([rows, ...this.shape.slice(1)]);
  }

  /** The same values with another shape (same element count), as a view sharing this buffer. */
  reshape(shape: readonly number[]): GPUTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.numel) throw new RangeError(`reshape: cannot view [${this.shape.join(', ')}] as [${shape.join(', ')}]`);
    return this.viewAs(shape);
  }

  private viewAs(shape: readonly number[]): GPUTensor {
    return new GPUTensor(this.dtype, shape, this.buffer, () => undefined, this.owner, this.parent ?? this, this.byteOffset);
  }

  /** Returns the buffer to the backend's pool. Work already recorded that reads it stays valid. */
  dispose(): void {
    if (!this.buf) return;
    const b = this.buf;
    this.buf = undefined;
    this.onRelease(b);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  toString(): string {
    return `GPUTensor(${this.dtype}, [${this.shape.join(', ')}])`;
  }
}
