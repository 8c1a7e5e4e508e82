// Bind groups, with the uniform buffers holding their parameters, kept across dispatches: a
// forward pass repeats the same dispatches on the same buffers, so from the second pass on most
// dispatches find theirs here instead of creating a uniform buffer and a bind group each time.
// Least recently used entries go first. Not the recording itself: see backend.ts dispatch().

import type {} from 'webgpu';
import { USAGE } from './device.js';

/** One storage binding: a buffer range (the whole buffer when offset and size are absent). */
export interface StorageBinding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

interface Entry {
  group: GPUBindGroup;
  uniform: GPUBuffer;
}

export class BindGroupCache {
  /** In use order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  private readonly ids = new WeakMap<object, number>();
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private nextId = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Destroys a buffer once submitted work no longer reads it. */
    private readonly retire: (b: GPUBuffer) => void,
    private readonly capacity = 4096,
  ) {}

  private id(o: object): number {
    let i = this.ids.get(o);
    if (i === undefined) {
      i = ++this.nextId;
      this.ids.set(o, i);
    }
    return i;
  }

  /** The bind group of `pipe` for these storage bindings, with `params` (16-byte multiple) as the uniform after them. */
  get(pipe: GPUComputePipeline, bindings: readonly StorageBinding[], params: Uint32Array): GPUBindGroup {
    const key = `${this.id(pipe)}|${bindings.map((b) => `${this.id(b.buffer)}:${b.offset ?? 0}:${b.size ?? -1}`).join(',')}|${params.join(',')}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.group;
    }
    const uniform = this.device.createBuffer({ size: params.byteLength, usage: USAGE.UNIFORM, mappedAtCreation: true, label: 'params' });
    new Uint32Array(uniform.getMappedRange()).set(params);
    uniform.unmap();
    let layout = this.layouts.get(pipe);
    if (!layout) {
      layout = pipe.getBindGroupLayout(0);
      this.layouts.set(pipe, layout);
    }
    const entries: GPUBindGroupEntry[] = bindings.map((b, i) => ({ binding: i, resource: b.size === undefined ? { buffer: b.buffer } : { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } }));
    entries.push({ binding: bindings.length, resource: { buffer: uniform } });
    const group = this.device.createBindGroup({ layout, entries });
    this.entries.set(key, { group, uniform });
    if (this.entries.size > this.capacity) {
      const [oldest, e] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldest);
      this.retire(e.uniform);
    }
    return group;
  }

  /** Destroys every kept uniform buffer (the device is going away). */
  clear(): void {
    for (const e of this.entries.values()) e.uniform.destroy();
    this.entries.clear();
  }
}
