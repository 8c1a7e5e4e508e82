// A small GGUF (v2/v3) reader: metadata and tensor infos, with every offset and size checked
// before use. Not the full loader (ts/io/ on the models line); enough for the default model.

import { readFileSync } from 'node:fs';

export type GGUFValue = number | bigint | boolean | string | GGUFValue[];

export interface GGUFTensorInfo {
  name: string;
  /** row-major shape (GGUF lists dimensions innermost first; reversed here) */
  shape: number[];
  /** ggml type: 0 F32, 1 F16, 8 Q8_0 */
  type: number;
  /** bytes from the start of the file */
  offset: number;
  bytes: number;
}

export interface GGUFFile {
  version: number;
  metadata: Map<string, GGUFValue>;
  tensors: Map<string, GGUFTensorInfo>;
  /** the whole file */
  data: Uint8Array;
}

const TYPE_SIZES: Record<number, { block: number; bytes: number; name: string }> = {
  0: { block: 1, bytes: 4, name: 'F32' },
  1: { block: 1, bytes: 2, name: 'F16' },
  8: { block: 32, bytes: 34, name: 'Q8_0' },
};

class Cursor {
  pos = 0;
  private readonly view: DataView;
  constructor(private readonly buf: Uint8Array, private readonly path: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new RangeError(`${this.path}: GGUF truncated while reading ${what} at byte ${this.pos}`);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${this.path}: ${what} ${v} is too large`);
    return Number(v);
  }
  str(what: string): string {
    const n = this.u64(`${what} length`);
    this.need(n, what);
    const s = new TextDecoder('utf-8', { fatal: false }).decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  value(type: number, what: string, depth = 0): GGUFValue {
    const v = this.view;
    const take = (n: number): number => {
      this.need(n, what);
      const p = this.pos;
      this.pos += n;
      return p;
    };
    switch (type) {
      case 0: return v.getUint8(take(1));
      case 1: return v.getInt8(take(1));
      case 2: return v.getUint16(take(2), true);
      case 3: return v.getInt16(take(2), true);
      case 4: return v.getUint32(take(4), true);
      case 5: return v.getInt32(take(4), true);
      case 6: return v.getFloat32(take(4), true);
      case 7: return v.getUint8(take(1)) !== 0;
      case 8: return this.str(what);
      case 9: {
        if (depth > 2) throw new RangeError(`${this.path}: ${what} nests arrays too deeply`);
        const et = this.u32(`${what} element type`);
        const n = this.u64(`${what} length`);
        if (n > this.buf.length) throw new RangeError(`${this.path}: ${what} claims ${n} elements, more than the file's bytes`);
        const out: GGUFValue[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(et, what, depth + 1);
        return out;
      }
      case 10: return v.getBigUint64(take(8), true);
      case 11: return v.getBigInt64(take(8), true);
      case 12: return v.getFloat64(take(8), true);
      default: throw new RangeError(`${this.path}: ${what} has unknown GGUF value type ${type}`);
    }
  }
}

/** Reads and validates a GGUF file (metadata, tensor table, data bounds). */
export function readGGUF(path: string): GGUFFile {
  const data = readFileSync(path);
  const c = new Cursor(data, path);
  c.need(4, 'magic');
  if (data[0] !== 0x47 || data[1] !== 0x47 || data[2] !== 0x55 || data[3] !== 0x46) throw new RangeError(`${path}: not a GGUF file (bad magic)`);
  c.pos = 4;
  const version = c.u32('version');
  if (version !== 2 && version !== 3) throw new RangeError(`${path}: GGUF version ${version} is not supported (2 or 3)`);
  const nTensors = c.u64('tensor count');
  const nKv = c.u64('metadata count');
  const metadata = new Map<string, GGUFValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.str('metadata key');
    metadata.set(key, c.value(c.u32(`type of ${key}`), key));
  }
  const alignment = Number(metadata.get('general.alignment') ?? 32);
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) throw new RangeError(`${path}: general.alignment ${alignment} must be a positive multiple of 8`);
  const infos: { name: string; shape: number[]; type: number; rel: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.str('tensor name');
    const nd = c.u32(`${name} rank`);
    if (nd < 1 || nd > 4) throw new RangeError(`${path}: tensor ${name} has rank ${nd}, expected 1..4`);
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) dims.push(c.u64(`${name} dimension`));
    infos.push({ name, shape: dims.reverse(), type: c.u32(`${name} type`), rel: c.u64(`${name} offset`) });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  const tensors = new Map<string, GGUFTensorInfo>();
  for (const t of infos) {
    const ts = TYPE_SIZES[t.type];
    if (!ts) throw new RangeError(`${path}: tensor ${t.name} has ggml type ${t.type}; supported: F32, F16, Q8_0`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(numel) || numel % ts.block !== 0) throw new RangeError(`${path}: tensor ${t.name} shape [${t.shape.join(', ')}] does not fit ${ts.name} blocks`);
    const bytes = (numel / ts.block) * ts.bytes;
    const offset = dataStart + t.rel;
    if (t.rel % alignment !== 0 || offset + bytes > data.length)
      throw new RangeError(`${path}: tensor ${t.name} at offset ${t.rel} (${bytes} bytes) is misaligned or past the end of the file`);
    if (tensors.has(t.name)) throw new RangeError(`${path}: tensor ${t.name} appears twice`);
    tensors.set(t.name, { name: t.name, shape: t.shape, type: t.type, offset, bytes });
  }
  return { version, metadata, tensors, data };
}
