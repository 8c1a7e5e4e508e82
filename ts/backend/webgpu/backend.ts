// WebGPUBackend: the ops as WGSL compute kernels on a WebGPU device (dawn.node). Ops are recorded
// into one command encoder and submitted together; only read() copies results back to the host.
// runBatch runs a planned forward pass that way on device copies of the host tensors it names
// (resident.ts) and on sequence state in device pages (state.ts, createStatePool). Not the
// kernels themselves (kernels/*.ts) nor device discovery (device.ts).

import type {} from 'webgpu';
import { Tensor } from '../../tensor/tensor.js';
import { byteLength, type DType, type TypedArray } from '../../tensor/dtype.js';
import type { Backend, BatchIO, BatchOp, MappedWeightSource, OpArgs, OpName, OutArg, PackWeightOptions, StateLayout, StatePool, StatePoolOptions, Weight } from '../backend.js';
import { checkOut } from '../out.js';
import { opSpec } from '../registry.js';
import { expectShape, expectTensor, fail, sameShape, shapeStr } from '../ops/check.js';
import { BufferPool, GPUTensor } from './buffers.js';
import { HostMirrors } from './resident.js';
import { BindGroupCache, type StorageBinding } from './bindings.js';
import { runBatch, type BatchDevice, type ReadPart } from './batch.js';
import { MAP_READ, USAGE, WebGPUError, openDevice, type AdapterReport, type WebGPUBackendOptions } from './device.js';
import { HOST_CHECKED, type KernelContext, type OnGpu, type Param, type WebGPUKernel } from './kernels/context.js';
import { KERNELS } from './kernels/index.js';
import { hasWebGPULinear } from './kernels/linear.js';
import { WebGPUWeight } from './weight.js';
import { WebGPUStatePool, type StateDevice } from './state.js';
import { orientWeight } from '../ops/weight-layout.js';
import { WEIGHT_DTYPES as FILE_WEIGHT_DTYPES } from '../../tensor/formats.js';

/** Op arguments where any tensor may already be on the device. */
export type GpuOpArgs<K extends OpName> = {
  [P in keyof OpArgs[K]]: OpArgs[K][P] extends Tensor
    ? Tensor | GPUTensor
    : OpArgs[K][P] extends Tensor | undefined
      ? Tensor | GPUTensor | undefined
      : OpArgs[K][P];
};

/** The weight-format table's formats, and per-row i8 (with scales). */
const WEIGHT_DTYPES: readonly DType[] = [...FILE_WEIGHT_DTYPES, 'i8'];

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly ops: ReadonlySet<OpName> = new Set(Object.keys(KERNELS) as OpName[]);
  /** What the adapter reported (vendor, device, features, limits). */
  readonly adapter: AdapterReport;
  /** Whether f16 weights are read with WGSL's native f16 (the device has shader-f16). */
  readonly hasF16: boolean;
  /** The device, for embedders that share it; the backend owns and destroys it. */
  readonly device: GPUDevice;
  /** dawn.node's instance and adapter: dropping them lets GC tear down the device under us. */
  private readonly keepAlive: readonly [GPU, GPUAdapter];
  private readonly pool: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Bind groups and their parameter buffers, reused when a dispatch repeats. */
  private readonly groups: BindGroupCache;
  /** Constant tables kernels asked for by key (kernels/context.ts constant()). */
  private readonly constants = new Map<string, GPUBuffer>();
  private readonly ctx: KernelContext;
  /** Scratch tensors of the op being recorded: back to the pool once it is. */
  private opScratch: GPUTensor[] = [];
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  /** Buffers destroyed once the current batch's work is done (staging copies, retired buffers). */
  private batchBuffers: GPUBuffer[] = [];
  /** Device copies of host memory that runBatch works on. */
  private readonly mirrors: HostMirrors;
  /** What runBatch (batch.ts) drives on this backend. */
  private readonly batchDevice: BatchDevice;
  /** What the sequence-state pools (state.ts) use of this backend, and the live pools. */
  private readonly stateDevice: StateDevice;
  private readonly statePools = new Set<WebGPUStatePool>();
  /** A read-back buffer kept between batches while no read is using it. */
  private staging: GPUBuffer | undefined;
  private commands = 0;
  private submits = 0;
  private dispatches = 0;
  private readBacks = 0;
  private uploadBytes = 0;
  private lostReason: string | undefined;
  private deferred: WebGPUError | undefined;
  private disposed = false;

  /** @internal use createWebGPUBackend() */
  constructor(opened: Awaited<ReturnType<typeof openDevice>>, options: WebGPUBackendOptions = {}) {
    this.device = opened.device;
    this.keepAlive = [opened.gpu, opened.adapter];
    this.adapter = opened.report;
    this.hasF16 = opened.hasF16;
    this.pool = new BufferPool(this.device, this.device.limits.maxBufferSize);
    this.groups = new BindGroupCache(this.device, (b) => this.retire(b));
    this.mirrors = new HostMirrors(this.device, {
      fill: (dst, offset, bytes) => this.fill(dst, offset, bytes),
      copy: (src, so, dst, doff, size) => this.copy(src, so, dst, doff, size),
      retire: (b) => this.retire(b),
    });
    this.batchDevice = {
      owner: this,
      mirrors: this.mirrors,
      offsetAlign: this.device.limits.minStorageBufferOffsetAlignment,
      kernel: (op) => this.kernel(op),
      invoke: (kernel, resolved, dst, host) => this.invoke(kernel, resolved, dst, host, true),
      alloc: (dtype, shape) => this.alloc(dtype, shape),
      copy: (src, so, dst, doff, size) => this.copy(src, so, dst, doff, size),
      write: (dst, offset, bytes) => this.writeOrdered(dst, offset, bytes),
      begin: () => this.beginBatch(),
      readBack: (parts) => this.readBack(parts),
    };
    this.stateDevice = {
      owner: this,
      maxBufferBytes: Math.min(this.device.limits.maxBufferSize, this.device.limits.maxStorageBufferBindingSize),
      create: (size, label) => this.device.createBuffer({ size: roundUp(Math.max(size, 4), 4), usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label }),
      copy: (src, so, dst, doff, size) => this.copy(src, so, dst, doff, size),
      write: (dst, offset, bytes) => this.writeOrdered(dst, offset, bytes),
      scratch: (size) => {
        this.beginBatch();
        const b = this.pool.acquire(Math.max(size, 4), 'state page copy');
        return { buffer: b, done: () => this.pool.release(b) };
      },
      retire: (b) => this.retire(b),
      closed: (pool) => this.statePools.delete(pool),
    };
    void this.device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message || 'no message'}`;
    });
    this.device.onuncapturederror = (ev) => {
      this.deferred ??= new WebGPUError(`webgpu backend: ${ev.error.message}`, 'internal');
    };
    const self = this;
    this.ctx = {
      hasF16: this.hasF16,
      cpuBacked: options.tiles === 'shared' ? false : options.tiles === 'blocked' || this.adapter.architecture === 'software' || /llvmpipe|swiftshader/i.test(this.adapter.device + this.adapter.description),
      recurrence: options.recurrence,
      maxBindingBytes: this.device.limits.maxStorageBufferBindingSize,
      pipeline: (key, code) => self.pipeline(key, code),
      dispatch: (pipe, buffers, params, groups) => self.dispatch(pipe, buffers, params, groups),
      constant: (key, make) => self.constant(key, make),
      scratch: (dtype, shape) => {
        const t = self.alloc(dtype, shape);
        self.opScratch.push(t);
        return t;
      },
    };
  }

  // ---- public API: GPU-resident tensors and batched recording ----

  /** Copies a host tensor to the device. */
  upload(t: Tensor): GPUTensor {
    this.usable();
    if (!(t instanceof Tensor)) fail('upload', "'tensor' must be a Tensor", 'type');
    const g = this.alloc(t.dtype, t.shape);
    const bytes = bytesOf(t.contiguous().data);
    if (bytes.byteLength > 0) this.writeOrdered(g.buffer, 0, bytes);
    return g;
  }

  /** An uninitialized device tensor (for instance a KV cache that kernels write into). */
  alloc(dtype: DType, shape: readonly number[]): GPUTensor {
    this.usable();
    const bytes = byteLength(dtype, shape.reduce((a, b) => a * b, 1));
    this.beginBatch();
    const buf = this.pool.acquire(Math.max(bytes, 4), `${dtype} [${shape.join(', ')}]`);
    return new GPUTensor(dtype, shape, buf, (b) => this.pool.release(b), this);
  }

  /**
   * Copies `src` into `dst` starting at row `row` of dimension 0, in recording order: appending
   * new keys and values to a KV cache allocated with alloc(). Rows must be whole 4-byte words.
   */
  write(dst: GPUTensor, src: Tensor | GPUTensor, row = 0): void {
    this.usable();
    if (!(dst instanceof GPUTensor)) fail('write', "'dst' must be a GPUTensor", 'type');
    if (!(src instanceof GPUTensor) && !(src instanceof Tensor)) fail('write', "'src' must be a Tensor or a GPUTensor", 'type');
    for (const [name, t] of [['dst', dst], ['src', src]] as const)
      if (t instanceof GPUTensor && (t.disposed || t.owner !== this)) fail('write', `'${name}' must be a live GPUTensor of this backend`, 'type');
    if (src.dtype !== dst.dtype) fail('write', `'src'.dtype (${src.dtype}) must equal 'dst'.dtype (${dst.dtype})`, 'type');
    if (dst.rank < 1 || src.rank !== dst.rank || src.shape.slice(1).some((d, i) => d !== dst.shape[i + 1]))
      fail('write', `'src' shape ${shapeStr(src.shape)} must be rows of 'dst' shape ${shapeStr(dst.shape)}`);
    const rows = src.shape[0]!;
    if (!Number.isInteger(row) || row < 0 || row + rows > dst.shape[0]!)
      fail('write', `rows [${row}, ${row + rows}) do not fit 'dst' of ${dst.shape[0]} rows`);
    const rowBytes = byteLength(dst.dtype, dst.shape.slice(1).reduce((a, b) => a * b, 1));
    if (rowBytes % 4 !== 0) fail('write', `a row of 'dst' is ${rowBytes} bytes; copies need whole 4-byte words`);
    if (rows === 0 || rowBytes === 0) return;
    const from = src instanceof GPUTensor ? src : this.upload(src);
    this.beginBatch();
    this.endPass();
    this.enc().copyBufferToBuffer(from.buffer, from.byteOffset, dst.buffer, dst.byteOffset + row * rowBytes, rows * rowBytes);
    this.commands++;
    if (from !== src) from.dispose();
  }

  /**
   * Records op `op` and returns its result on the device. Nothing is submitted: call read() for
   * the tensors you need on the host (or flush()). Host tensors in `args` are uploaded for this op.
   * With `out`, the result goes into that device tensor (of the op's output shape and dtype).
   */
  record<K extends OpName>(op: K, args: GpuOpArgs<K>, out?: GPUTensor): GPUTensor {
    this.usable();
    const kernel = this.kernel(op);
    const hostOnly = HOST_CHECKED[op];
    const given = args as unknown as Record<string, unknown>;
    if (hostOnly && given[hostOnly] instanceof GPUTensor)
      fail(op, `'${hostOnly}' must be a host Tensor on the webgpu backend (its values are checked before the op runs)`, 'type');
    for (const [k, v] of Object.entries(given)) {
      if (!(v instanceof GPUTensor)) continue;
      if (v.disposed) fail(op, `'${k}' (${v}) was disposed`, 'type');
      if (v.owner !== this) fail(op, `'${k}' (${v}) lives on another WebGPU backend's device`, 'type');
    }
    // The checks read only dtype, shape and rank, which GPUTensor has too.
    const spec = opSpec(op).output(args as unknown as OpArgs[K]);
    this.beginBatch();
    const temps: GPUTensor[] = [];
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(given)) {
      if (v instanceof Tensor) {
        const g = this.upload(v);
        temps.push(g);
        resolved[k] = g;
      } else resolved[k] = v;
    }
    if (out !== undefined) {
      if (!(out instanceof GPUTensor) || out.disposed) fail(op, "'out' must be a live GPUTensor", 'type');
      if (out.dtype !== spec.dtype || !sameShape(out.shape, spec.shape))
        fail(op, `'out' must be ${spec.dtype} ${shapeStr(spec.shape)}, got ${out}`);
      for (const v of Object.values(given)) if (v instanceof GPUTensor && v.buffer === out.buffer) fail(op, "'out' must not alias an input");
    }
    const dst = out ?? this.alloc(spec.dtype, spec.shape);
    try {
      this.invoke(kernel, resolved, dst, args, out !== undefined);
    } catch (e) {
      if (!out) dst.dispose();
      throw e;
    } finally {
      // Later work that reuses these buffers is recorded after this op, so queue order holds.
      for (const t of temps) t.dispose();
    }
    return dst;
  }

  /**
   * Runs a planned pass: every op's dispatches recorded into one command encoder and submitted
   * once, on device copies of the ops' host tensors (see batch.ts). With `io` the copies stay
   * resident across calls: only `io.inputs` and bytes the device never held are uploaded, and
   * only `io.outputs` read back. Without it every input is uploaded and every `out` read back.
   */
  async runBatch(ops: readonly BatchOp[], io?: BatchIO): Promise<void> {
    this.usable();
    await runBatch(this.batchDevice, ops, io);
  }

  /**
   * Drops the device copies runBatch keeps of these tensors' host memory (their buffers are
   * destroyed once submitted work is done). The next batch that names them uploads them again.
   */
  release(tensors: readonly Tensor[]): void {
    if (this.disposed) return;
    for (const t of tensors) if (t instanceof Tensor) this.mirrors.release(t.storage.buffer);
  }

  /** Submits everything recorded so far; rejects with a WebGPUError if the device reported one. */
  async flush(): Promise<void> {
    this.usable();
    await this.submit();
  }

  /** Copies a device tensor to the host (submitting recorded work first). */
  async read(t: GPUTensor, out?: Tensor): Promise<Tensor> {
    this.usable();
    if (!(t instanceof GPUTensor) || t.owner !== this) fail('read', "'tensor' must be a GPUTensor of this backend", 'type');
    const dst = out ?? Tensor.zeros(t.dtype, t.shape);
    checkOut('read', dst, { dtype: t.dtype, shape: [...t.shape] });
    const bytes = bytesOf(dst.data);
    await this.readBack(t.byteLength === 0 ? [] : [{ buffer: t.buffer, offset: t.byteOffset, size: roundUp(t.byteLength, 4), into: (b) => bytes.set(b.subarray(0, t.byteLength)) }]);
    return dst;
  }

  // ---- Backend contract ----

  async run<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Promise<Tensor> {
    this.usable();
    const spec = opSpec(op).output(args);
    if (args.out) checkOut(op, args.out, spec);
    const { out, ...rest } = args;
    // matmul with beta reads the caller's out as C: send it along.
    const beta = (rest as { beta?: number }).beta;
    const into = op === 'matmul' && out && beta !== undefined && beta !== 0 ? this.upload(out) : undefined;
    const g = this.record(op, rest as unknown as GpuOpArgs<K>, into);
    try {
      return await this.read(g, out);
    } finally {
      g.dispose();
    }
  }

  /**
   * Sequence state in device pages (state.ts): a page table per sequence, forks sharing pages
   * copy-on-write, reorder and truncate moving tables; the rows never exist on the host.
   * Default budget: as many pages as one device buffer (maxStorageBufferBindingSize) holds, at
   * most half of the machine's memory.
   */
  createStatePool(layout: StateLayout, options: StatePoolOptions): StatePool {
    this.usable();
    const pool = new WebGPUStatePool(this.stateDevice, layout, options);
    this.statePools.add(pool);
    return pool;
  }

  packWeight(source: Tensor | MappedWeightSource, options: PackWeightOptions = {}): Weight {
    this.usable();
    // A mapped checkpoint tensor is copied once into device memory.
    const mapped = source as Partial<MappedWeightSource> | undefined;
    const stored = (source instanceof Tensor || typeof mapped?.load !== 'function' ? source : mapped.load()) as Tensor;
    expectTensor('packWeight', 'weight', stored, WEIGHT_DTYPES);
    // Conv1D (K, N) storage is transposed once here, on the way to the device. Every weight
    // dtype has a WGSL decoder (kernels/linear.ts, block-loaders.ts); one without would be
    // widened to f32 here (correct, at f32's memory cost, and the weight would report f32).
    const oriented = orientWeight(stored, options);
    const weight = hasWebGPULinear(oriented.dtype) ? oriented : oriented.to('f32');
    if (weight.rank !== 2) fail('packWeight', `'weight' must have shape [outFeatures, inFeatures], got ${shapeStr(weight.shape)}`);
    const [n, k] = weight.shape as [number, number];
    let scales: GPUBuffer | undefined;
    if (weight.dtype === 'i8') {
      if (!options.scales) fail('packWeight', "i8 weights need 'scales' (one f32 per output row)", 'type');
      expectTensor('packWeight', 'scales', options.scales, ['f32']);
      expectShape('packWeight', 'scales', options.scales, [n]);
      const bad = options.scales.toFloat32().findIndex((d) => !Number.isFinite(d));
      if (bad >= 0) fail('packWeight', `'scales'[${bad}] is not finite; every row scale must be a finite number`);
      scales = this.mapped(bytesOf(options.scales.contiguous().data), USAGE.STORAGE, false);
    }
    const data = this.mapped(bytesOf(weight.contiguous().data), USAGE.STORAGE, false);
    return new WebGPUWeight(weight.dtype, [n, k], data, scales);
  }

  /**
   * Counters: bytes in live device tensors, bytes kept in the pool for reuse, bytes resident
   * between batches (the device copies runBatch keeps of host memory, and the pages of sequence
   * state in use) and bytes of the state pools' device buffers (pages in use and free); since
   * the backend was created, command buffers submitted, dispatches recorded, read-backs to the
   * host and bytes uploaded from it.
   */
  stats(): { liveBytes: number; pooledBytes: number; residentBytes: number; stateBufferBytes: number; submits: number; dispatches: number; readBacks: number; uploadBytes: number } {
    let pages = 0;
    let buffers = 0;
    for (const p of this.statePools) {
      pages += p.stats().bytesInUse;
      buffers += p.deviceBytes;
    }
    return {
      ...this.pool.stats(),
      residentBytes: this.mirrors.residentBytes + pages,
      stateBufferBytes: buffers,
      submits: this.submits,
      dispatches: this.dispatches,
      readBacks: this.readBacks,
      uploadBytes: this.uploadBytes,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pass?.end();
    this.pass = undefined;
    this.encoder = undefined;
    for (const b of [...this.batchBuffers, ...this.constants.values(), ...(this.staging ? [this.staging] : [])]) b.destroy();
    this.staging = undefined;
    this.batchBuffers = [];
    this.constants.clear();
    this.groups.clear();
    this.pool.trim();
    this.device.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  // ---- internals ----

  private usable(): void {
    if (this.disposed) throw new Error('webgpu backend is disposed');
    if (this.lostReason !== undefined) throw this.lostError();
    if (this.deferred) {
      const e = this.deferred;
      this.deferred = undefined;
      throw e;
    }
  }

  private kernel<K extends OpName>(op: K): WebGPUKernel<K> {
    const kernel = KERNELS[op] as WebGPUKernel<K> | undefined;
    if (!kernel) throw new RangeError(`webgpu backend: op '${String(op)}' has no WebGPU kernel; ops here: ${[...this.ops].join(', ')}`);
    return kernel;
  }

  /** Records one op's kernel; its scratch tensors go back to the pool after (recorded later). */
  private invoke<K extends OpName>(kernel: WebGPUKernel<K>, resolved: Record<string, unknown>, dst: GPUTensor, host: unknown, outGiven: boolean): void {
    try {
      kernel(this.ctx, resolved as OnGpu<OpArgs[K]>, dst, host as OpArgs[K], outGiven);
    } finally {
      for (const t of this.opScratch) t.dispose();
      this.opScratch = [];
    }
  }

  /**
   * Writes host bytes into `dst` after the work recorded so far: a queue write when nothing is
   * recorded, else a staged copy (recorded work may still read the old bytes).
   */
  private writeOrdered(dst: GPUBuffer, offset: number, bytes: Uint8Array): void {
    if (this.commands === 0 && bytes.byteLength % 4 === 0) {
      this.fill(dst, offset, bytes);
      return;
    }
    this.uploadBytes += bytes.byteLength;
    const staging = this.mapped(bytes, USAGE.COPY_SRC);
    this.copy(staging, 0, dst, offset, staging.size);
  }

  /** A queue write, for buffers no recorded work uses (bytes padded to whole words). */
  private fill(dst: GPUBuffer, offset: number, bytes: Uint8Array): void {
    this.uploadBytes += bytes.byteLength;
    const data = bytes.byteLength % 4 === 0 ? bytes : (() => {
      const padded = new Uint8Array(roundUp(bytes.byteLength, 4));
      padded.set(bytes);
      return padded;
    })();
    this.device.queue.writeBuffer(dst, offset, data);
  }

  /** Records a buffer-to-buffer copy after the work recorded so far. */
  private copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    if (size === 0) return;
    this.beginBatch();
    this.endPass();
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    this.commands++;
  }

  /** Destroys `b` once the GPU is done with everything recorded or submitted so far. */
  private retire(b: GPUBuffer): void {
    if (this.encoder) this.batchBuffers.push(b);
    else void this.device.queue.onSubmittedWorkDone().then(() => b.destroy(), () => undefined);
  }

  /**
   * Submits the recorded work with copies of device byte ranges (offsets and sizes in whole
   * words) into one mapped buffer, then hands each range's bytes to its `into`: one submit and
   * one read-back for any number of tensors.
   */
  private async readBack(parts: readonly ReadPart[]): Promise<void> {
    const total = parts.reduce((a, p) => a + p.size, 0);
    let staging: GPUBuffer | undefined;
    if (total > 0) {
      // The kept buffer is reused unless another read is still using it.
      staging = this.staging && this.staging.size >= total ? this.staging : this.device.createBuffer({ size: roundUp(total, 256), usage: USAGE.MAP_READ | USAGE.COPY_DST, label: 'read-back' });
      this.staging = undefined;
      let at = 0;
      for (const p of parts) {
        this.copy(p.buffer, p.offset, staging, at, p.size);
        at += p.size;
      }
    }
    try {
      await this.submit();
      if (!staging) return;
      await staging.mapAsync(MAP_READ, 0, total).catch(async (e: unknown) => {
        throw await this.failure(e);
      });
    } catch (e) {
      staging?.destroy();
      throw e;
    }
    this.readBacks++;
    const mapped = new Uint8Array(staging.getMappedRange(0, total));
    let at = 0;
    for (const p of parts) {
      p.into(mapped.subarray(at, at + p.size));
      at += p.size;
    }
    staging.unmap();
    if (this.staging || this.disposed) staging.destroy();
    else this.staging = staging;
  }

  private lostError(): WebGPUError {
    return new WebGPUError(
      `webgpu backend: the device was lost (${this.lostReason}); its tensors and weights are gone. Create a new backend with createWebGPUBackend()`,
      'device-lost',
    );
  }

  /** Turns a failed device call into a clear error, waiting briefly for a loss to be reported. */
  private async failure(e: unknown): Promise<Error> {
    await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 100))]);
    if (this.lostReason !== undefined) return this.lostError();
    return new WebGPUError(`webgpu backend: ${e instanceof Error ? e.message : String(e)}`, 'internal');
  }

  private enc(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder({ label: 'attnode batch' });
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /** Opens the error scopes of a batch once: popped at submit, so errors map to the batch. */
  private beginBatch(): void {
    if (this.encoder) return;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.enc();
  }

  private async submit(): Promise<void> {
    if (!this.encoder) return;
    this.endPass();
    const cb = this.encoder.finish();
    this.encoder = undefined;
    this.commands = 0;
    this.device.queue.submit([cb]);
    this.submits++;
    // Destroyed once the GPU is done with them: destroying a buffer that submitted work still
    // reads crashes some drivers (lavapipe through dawn.node does).
    const done = this.batchBuffers;
    this.batchBuffers = [];
    if (done.length) void this.device.queue.onSubmittedWorkDone().then(() => done.forEach((b) => b.destroy()), () => undefined);
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    let v: GPUError | null;
    let o: GPUError | null;
    try {
      [v, o] = await Promise.all([validation, oom]);
    } catch (e) {
      throw await this.failure(e);
    }
    if (o) throw new WebGPUError(`webgpu backend: out of device memory: ${o.message}`, 'out-of-memory');
    if (v) throw new WebGPUError(`webgpu backend: ${v.message}`, 'validation');
  }

  /** A new buffer holding `bytes` (padded to 4), written through a mapping at creation. */
  private mapped(bytes: Uint8Array, usage: number, batch = true): GPUBuffer {
    const size = roundUp(Math.max(bytes.byteLength, 4), 4);
    const b = this.device.createBuffer({ size, usage, mappedAtCreation: true });
    new Uint8Array(b.getMappedRange()).set(bytes);
    b.unmap();
    if (batch) this.batchBuffers.push(b);
    return b;
  }

  private constant(key: string, make: () => TypedArray): GPUBuffer {
    let b = this.constants.get(key);
    if (!b) {
      b = this.mapped(bytesOf(make()), USAGE.STORAGE, false);
      this.constants.set(key, b);
    }
    return b;
  }

  private pipeline(key: string, code: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: code(), label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private dispatch(pipe: GPUComputePipeline, buffers: Array<GPUTensor | GPUBuffer>, params: Param[], groups: readonly [number, number]): void {
    const bindings: StorageBinding[] = buffers.map((b) =>
      b instanceof GPUTensor ? { buffer: b.buffer, offset: b.byteOffset, size: roundUp(Math.max(b.byteLength, 4), 4) } : { buffer: b },
    );
    const words = new Uint32Array(roundUp(Math.max(params.length, 1), 4));
    const view = new DataView(words.buffer);
    params.forEach((p, i) => {
      if (typeof p === 'number') view.setUint32(i * 4, p, true);
      else if ('f32' in p) view.setFloat32(i * 4, p.f32, true);
      else view.setInt32(i * 4, p.i32, true);
    });
    this.beginBatch();
    const group = this.groups.get(pipe, bindings, words);
    this.pass ??= this.enc().beginComputePass();
    this.pass.setPipeline(pipe);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(groups[0], groups[1]);
    this.commands++;
    this.dispatches++;
  }
}

/**
 * Opens a WebGPU device and returns a backend on it. Rejects with a clear Error when the optional
 * `webgpu` package or a GPU adapter is missing.
 */
export async function createWebGPUBackend(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  return new WebGPUBackend(await openDevice(options), options);
}
