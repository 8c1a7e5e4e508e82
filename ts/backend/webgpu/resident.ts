// Device copies of host memory for planned forward passes (WebGPUBackend.runBatch): one GPU
// buffer per host ArrayBuffer, covering the byte range its tensors use (grown on demand), so the
// next pass finds its activation slots, KV caches and parameters already on the device.
// Not the op recording or the upload ordering: backend.ts drives these through MirrorIO.

import type {} from 'webgpu';
import { byteLength, storageLength } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { USAGE } from './device.js';

/** Bytes [lo, hi) of a host ArrayBuffer. */
export interface Region {
  readonly storage: ArrayBufferLike;
  readonly lo: number;
  readonly hi: number;
}

/** The bytes a contiguous host tensor occupies in its ArrayBuffer. */
export function regionOf(t: Tensor): Region {
  const unit = t.storage.BYTES_PER_ELEMENT;
  const lo = t.storage.byteOffset + storageLength(t.dtype, t.offset) * unit;
  return { storage: t.storage.buffer, lo, hi: lo + byteLength(t.dtype, t.numel) };
}

/** A GPU buffer holding bytes [lo, hi) of one host ArrayBuffer (lo and hi multiples of 4). */
export interface Mirror {
  readonly buffer: GPUBuffer;
  readonly lo: number;
  readonly hi: number;
  /**
   * Whether an op has written into it: the device then holds the current bytes and the host's
   * are stale until read back (KV caches, activation slots).
   */
  written: boolean;
}

/** How mirrors reach the device, in the order the backend records work. */
export interface MirrorIO {
  /** Writes host bytes into a buffer no recorded work uses yet (a new one). */
  fill(dst: GPUBuffer, offset: number, bytes: Uint8Array): void;
  /** Device-side copy, recorded after the work already recorded. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void;
  /** Destroys a buffer once the work submitted so far no longer reads it. */
  retire(b: GPUBuffer): void;
}

const STORAGE_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
/** ArrayBuffers up to this size (or up to twice the bytes in use) are mirrored whole. */
const WHOLE_BELOW = 1 << 20;

const down4 = (n: number) => n - (n % 4);
const up4 = (n: number) => Math.ceil(n / 4) * 4;

/** Host bytes [lo, hi) of `storage`, zero-padded past its end (hi may pass it by up to 3). */
function hostBytes(storage: ArrayBufferLike, lo: number, hi: number): Uint8Array {
  const end = Math.min(hi, storage.byteLength);
  const view = new Uint8Array(storage, lo, Math.max(0, end - lo));
  if (end === hi) return view;
  const padded = new Uint8Array(hi - lo);
  padded.set(view);
  return padded;
}

/** Whether every byte is zero (a new GPU buffer already is, so nothing needs uploading). */
function allZero(b: Uint8Array): boolean {
  const words = b.byteOffset % 4 === 0 ? new Uint32Array(b.buffer, b.byteOffset, b.byteLength >> 2) : undefined;
  if (words) for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words ? words.length * 4 : 0; i < b.byteLength; i++) if (b[i] !== 0) return false;
  return true;
}

export class HostMirrors {
  /** Keyed by the host ArrayBuffer: a dropped host buffer takes its entry with it. */
  private readonly mirrors = new WeakMap<ArrayBufferLike, Mirror>();
  private bytes = 0;
  // The safety net for host buffers dropped without release(): their device copy goes too.
  private readonly dropped = new FinalizationRegistry<{ buffer: GPUBuffer; size: number }>(({ buffer, size }) => {
    this.bytes -= size;
    buffer.destroy();
  });

  constructor(
    private readonly device: GPUDevice,
    private readonly io: MirrorIO,
  ) {}

  /** Bytes of device memory the mirrors hold. */
  get residentBytes(): number {
    return this.bytes;
  }

  get(storage: ArrayBufferLike): Mirror | undefined {
    return this.mirrors.get(storage);
  }

  /**
   * Makes the mirror of `storage` cover bytes [lo, hi). A new mirror starts from the host's bytes;
   * growing one keeps the device's bytes where it had them and takes the host's elsewhere.
   */
  cover(storage: ArrayBufferLike, lo: number, hi: number): Mirror {
    const old = this.mirrors.get(storage);
    if (old && old.lo <= lo && hi <= old.hi) return old;
    let nlo = down4(Math.min(lo, old?.lo ?? lo));
    let nhi = up4(Math.max(hi, old?.hi ?? hi));
    if (storage.byteLength <= Math.max(WHOLE_BELOW, 2 * (nhi - nlo))) {
      nlo = 0;
      nhi = up4(storage.byteLength);
    } else if (old) {
      // Grow geometrically: a KV cache read to its current length must not copy itself every step.
      nhi = Math.min(up4(storage.byteLength), Math.max(nhi, nlo + 2 * (old.hi - old.lo)));
    }
    const buffer = this.device.createBuffer({ size: Math.max(nhi - nlo, 4), usage: STORAGE_USAGE, label: 'host mirror' });
    const fill = (a: number, b: number) => {
      if (b <= a) return;
      const bytes = hostBytes(storage, a, b);
      if (!allZero(bytes)) this.io.fill(buffer, a - nlo, bytes);
    };
    if (old) {
      fill(nlo, old.lo);
      this.io.copy(old.buffer, 0, buffer, old.lo - nlo, old.hi - old.lo);
      fill(old.hi, nhi);
      this.drop(storage, old);
    } else fill(nlo, nhi);
    const m: Mirror = { buffer, lo: nlo, hi: nhi, written: old?.written ?? false };
    this.mirrors.set(storage, m);
    this.bytes += buffer.size;
    this.dropped.register(storage, { buffer, size: buffer.size }, m);
    return m;
  }

  /** Forgets the device copy of `storage` (its buffer is destroyed once submitted work is done). */
  release(storage: ArrayBufferLike): void {
    const m = this.mirrors.get(storage);
    if (m) this.drop(storage, m);
  }

  private drop(storage: ArrayBufferLike, m: Mirror): void {
    this.mirrors.delete(storage);
    this.dropped.unregister(m);
    this.bytes -= m.buffer.size;
    this.io.retire(m.buffer);
  }
}
