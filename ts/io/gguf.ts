// GGUF reader (versions 2 and 3): metadata of every value type, tensor infos, alignment, and
// tensors of the weight-format table's types (ts/tensor/formats.ts) as mapped views. Every count, length and offset is checked against
// the bytes left in the file before it is used. Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md

import { WEIGHT_DTYPES, WEIGHT_FORMATS, formatOfGgufType } from '../tensor/formats.js';
import { MappedFile, MappedTensor } from './mapped.js';

/** Numeric arrays come back as typed arrays (as many bytes as the file holds, no more). */
export type GGUFNumericArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array
  | BigUint64Array | BigInt64Array | Float64Array;
export type GGUFValue = number | bigint | boolean | string | GGUFNumericArray | GGUFValue[];

/** Typed array per numeric element type (BOOL arrays are read as Uint8Array of 0/1). */
const NUMERIC_ARRAYS: Readonly<Record<number, { new (n: number): GGUFNumericArray }>> = {
  0: Uint8Array, 1: Int8Array, 2: Uint16Array, 3: Int16Array, 4: Uint32Array, 5: Int32Array, 6: Float32Array,
  7: Uint8Array, 10: BigUint64Array, 11: BigInt64Array, 12: Float64Array,
};

/** GGUF metadata value types (gguf.md, gguf_metadata_value_type). */
export const GGUF_VALUE_TYPES = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64', 'FLOAT64'] as const;
const FIXED_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

/** ggml tensor type names by id, for error messages (ggml.h, enum ggml_type). */
const GGML_TYPES: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64',
  29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};
/** The ggml type ids of the formats attnode loads, by ggml name ({ F32: 0, ..., Q8_0: 8 }). */
export const GGML_TYPE: Readonly<Record<string, number>> = Object.fromEntries(WEIGHT_DTYPES.map((d) => [WEIGHT_FORMATS[d].ggufName, WEIGHT_FORMATS[d].ggufType]));
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
const MAX_ARRAY_DEPTH = 8;

export interface GGUFTensorInfo {
  readonly name: string;
  /** Row-major shape (GGUF stores ne[0] = innermost first; this is reversed). */
  readonly shape: readonly number[];
  readonly type: number;
  readonly typeName: string;
  /** Absolute byte offset in the file, and length. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

function typeName(t: number): string {
  return GGML_TYPES[t] ?? `unknown type ${t}`;
}


class GGUFError extends RangeError {}

/** Reads the header through a window of copies, so a huge header never sits in memory twice. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private start = 0;
  constructor(private readonly file: MappedFile) {}

  get remaining(): number {
    return this.file.size - this.pos;
  }

  private ensure(n: number, what: string): number {
    if (n > this.remaining) throw new GGUFError(`gguf '${this.file.path}': ${what} needs ${n} bytes at offset ${this.pos} but the file ends at ${this.file.size}`);
    if (this.pos < this.start || this.pos + n > this.start + this.buf.length) {
      this.start = this.pos;
      const len = Math.min(Math.max(n, 1 << 20), this.remaining);
      this.buf = this.file.read(this.pos, len);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
    const at = this.pos - this.start;
    this.pos += n;
    return at;
  }

  // ensure() may move the window, so it runs before this.view is read.
  u8(w: string): number {
    const at = this.ensure(1, w);
    return this.view.getUint8(at);
  }
  i8(w: string): number {
    const at = this.ensure(1, w);
    return this.view.getInt8(at);
  }
  u16(w: string): number {
    const at = this.ensure(2, w);
    return this.view.getUint16(at, true);
  }
  i16(w: string): number {
    const at = this.ensure(2, w);
    return this.view.getInt16(at, true);
  }
  u32(w: string): number {
    const at = this.ensure(4, w);
    return this.view.getUint32(at, true);
  }
  i32(w: string): number {
    const at = this.ensure(4, w);
    return this.view.getInt32(at, true);
  }
  f32(w: string): number {
    const at = this.ensure(4, w);
    return this.view.getFloat32(at, true);
  }
  f64(w: string): number {
    const at = this.ensure(8, w);
    return this.view.getFloat64(at, true);
  }
  u64(w: string): bigint {
    const at = this.ensure(8, w);
    return this.view.getBigUint64(at, true);
  }
  i64(w: string): bigint {
    const at = this.ensure(8, w);
    return this.view.getBigInt64(at, true);
  }
  /** A u64 that must be a count or size that fits in the rest of the file. */
  size(w: string, unit: number): number {
    const v = this.u64(w);
    if (v > BigInt(Math.floor(this.remaining / Math.max(unit, 1)))) throw new GGUFError(`gguf '${this.file.path}': ${w} = ${v} is larger than the rest of the file allows`);
    return Number(v);
  }
  /** n little-endian values of `size` bytes, copied in windows (n was checked against the file). */
  numbers(Numeric: { new (n: number): GGUFNumericArray }, n: number, size: number, w: string): GGUFNumericArray {
    const out = new Numeric(n);
    const bytes = new Uint8Array(out.buffer);
    for (let done = 0; done < n * size; ) {
      const chunk = Math.min(n * size - done, 1 << 20);
      const at = this.ensure(chunk, w);
      bytes.set(this.buf.subarray(at, at + chunk), done);
      done += chunk;
    }
    // Typed arrays use the platform's byte order; GGUF is little-endian (as x64 and arm64 are).
    if (size > 1 && new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new GGUFError(`${w}: big-endian hosts are not supported`);
    return out;
  }
  string(w: string): string {
    const n = this.size(`${w} length`, 1);
    const at = this.ensure(n, w);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.buf.subarray(at, at + n));
    } catch {
      throw new GGUFError(`gguf '${this.file.path}': ${w} is not valid UTF-8`);
    }
  }
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function readValue(c: Cursor, type: number, what: string, depth: number): GGUFValue {
  switch (type) {
    case 0: return c.u8(what);
    case 1: return c.i8(what);
    case 2: return c.u16(what);
    case 3: return c.i16(what);
    case 4: return c.u32(what);
    case 5: return c.i32(what);
    case 6: return c.f32(what);
    case 7: {
      const b = c.u8(what);
      if (b > 1) throw new GGUFError(`${what}: BOOL must be 0 or 1, got ${b}`);
      return b === 1;
    }
    case 8: return c.string(what);
    case 9: {
      if (depth >= MAX_ARRAY_DEPTH) throw new GGUFError(`${what}: arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
      const et = c.u32(`${what} element type`);
      if (et >= GGUF_VALUE_TYPES.length) throw new GGUFError(`${what}: unknown array element type ${et}`);
      // Strings and arrays take at least 8 bytes each (their length), the rest their fixed size.
      const n = c.size(`${what} count`, FIXED_SIZE[et] || 8);
      const Numeric = NUMERIC_ARRAYS[et];
      if (Numeric) {
        const arr = c.numbers(Numeric, n, FIXED_SIZE[et]!, what);
        if (et === 7 && (arr as Uint8Array).some((b) => b > 1)) throw new GGUFError(`${what}: BOOL values must be 0 or 1`);
        return arr;
      }
      const out: GGUFValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, et, what, depth + 1);
      return out;
    }
    case 10: return narrow(c.u64(what));
    case 11: return narrow(c.i64(what));
    case 12: return c.f64(what);
    default: throw new GGUFError(`${what}: unknown value type ${type}`);
  }
}

/** A mapped GGUF file: metadata, tensor infos and mapped tensors. */
export class GGUFFile {
  readonly file: MappedFile;
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GGUFValue>;
  readonly tensors: ReadonlyMap<string, GGUFTensorInfo>;
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;

  constructor(path: string) {
    this.file = new MappedFile(path);
    try {
      const p = parse(this.file);
      this.version = p.version;
      this.metadata = p.metadata;
      this.tensors = p.tensors;
      this.alignment = p.alignment;
      this.dataOffset = p.dataOffset;
    } catch (e) {
      this.file.dispose();
      if (e instanceof GGUFError && !e.message.startsWith('gguf ')) throw new RangeError(`gguf '${path}': ${e.message}`);
      throw e;
    }
  }

  /** A metadata value, or undefined. */
  get(key: string): GGUFValue | undefined {
    return this.metadata.get(key);
  }

  tensor(name: string): MappedTensor {
    const t = this.tensors.get(name);
    if (!t) throw new RangeError(`gguf '${this.file.path}': no tensor named '${name}'`);
    const format = formatOfGgufType(t.type);
    if (!format)
      throw new TypeError(`gguf '${this.file.path}': tensor '${name}' has type ${t.typeName}, which attnode does not load; supported: ${WEIGHT_DTYPES.map((d) => WEIGHT_FORMATS[d].ggufName).join(', ')}`);
    return new MappedTensor(this.file, t.byteOffset, format.name, t.shape);
  }

  /** Throws ModelFileChangedError when the file changed on disk since it was mapped. */
  checkUnchanged(): void {
    this.file.checkUnchanged();
  }

  dispose(): void {
    this.file.dispose();
  }
}

function parse(file: MappedFile) {
  const c = new Cursor(file);
  const magic = c.u32('magic');
  if (magic !== 0x46554747) throw new GGUFError(`not a GGUF file (magic 0x${magic.toString(16)}, expected 'GGUF')`);
  const version = c.u32('version');
  if (version !== 2 && version !== 3) throw new GGUFError(`GGUF version ${version} is not supported (2 and 3 are)`);
  // A tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes,
  // a key/value at least 8 + 4 + 1.
  const tensorCount = c.size('tensor_count', 24);
  const kvCount = c.size('metadata_kv_count', 13);
  const metadata = new Map<string, GGUFValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`);
    const type = c.u32(`metadata '${key}' type`);
    if (metadata.has(key)) throw new GGUFError(`metadata key '${key}' appears twice`);
    metadata.set(key, readValue(c, type, `metadata '${key}'`, 0));
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const a = metadata.get('general.alignment');
  if (a !== undefined) {
    if (typeof a !== 'number' || !Number.isInteger(a) || a < 1 || a > 1 << 20 || (a & (a - 1)) !== 0)
      throw new GGUFError(`general.alignment must be a power of two in [1, 2^20], got ${String(a)}`);
    alignment = a;
  }
  const raw: { name: string; shape: number[]; type: number; offset: bigint }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor ${i} name`);
    if (names.has(name)) throw new GGUFError(`tensor '${name}' appears twice`);
    names.add(name);
    const nd = c.u32(`tensor '${name}' n_dims`);
    if (nd > MAX_DIMS) throw new GGUFError(`tensor '${name}' has ${nd} dimensions, at most ${MAX_DIMS} are allowed`);
    const ne: number[] = [];
    for (let d = 0; d < nd; d++) {
      const v = c.u64(`tensor '${name}' dimension ${d}`);
      if (v > BigInt(file.size) * 8n) throw new GGUFError(`tensor '${name}' dimension ${d} = ${v} is larger than the file allows`);
      ne.push(Number(v));
    }
    const type = c.u32(`tensor '${name}' type`);
    const offset = c.u64(`tensor '${name}' offset`);
    raw.push({ name, shape: ne.reverse(), type, offset });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors = new Map<string, GGUFTensorInfo>();
  for (const r of raw) {
    let numel = 1;
    for (const d of r.shape) {
      numel *= d;
      if (numel > file.size * 8) throw new GGUFError(`tensor '${r.name}' shape [${r.shape.join(', ')}] has more elements than the file has bits`);
    }
    const tn = typeName(r.type);
    // Sizes come from the format table; types attnode does not load have none.
    const format = formatOfGgufType(r.type);
    if (format && format.blockSize > 1 && (r.shape.length === 0 || r.shape[r.shape.length - 1]! % format.blockSize !== 0))
      throw new GGUFError(`tensor '${r.name}' is ${tn} but its row length ${r.shape[r.shape.length - 1]} is not a multiple of ${format.blockSize}`);
    const bytes = format ? (numel / format.blockSize) * format.blockBytes : undefined;
    if (r.offset % BigInt(alignment) !== 0n) throw new GGUFError(`tensor '${r.name}' offset ${r.offset} is not a multiple of the alignment ${alignment}`);
    if (r.offset > BigInt(file.size)) throw new GGUFError(`tensor '${r.name}' offset ${r.offset} lies past the end of the file`);
    const abs = dataOffset + Number(r.offset);
    // Types attnode does not load still get a bounds check where their size is known.
    if (bytes !== undefined && abs + bytes > file.size)
      throw new GGUFError(`tensor '${r.name}' (${tn}, [${r.shape.join(', ')}]) needs bytes [${abs}, ${abs + bytes}) but the file has ${file.size}`);
    tensors.set(r.name, { name: r.name, shape: r.shape, type: r.type, typeName: tn, byteOffset: abs, byteLength: bytes ?? 0 });
  }
  const sorted = [...tensors.values()].filter((t) => t.byteLength > 0).sort((x, y) => x.byteOffset - y.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const x = sorted[i - 1]!;
    const y = sorted[i]!;
    if (x.byteOffset + x.byteLength > y.byteOffset) throw new GGUFError(`tensors '${x.name}' and '${y.name}' overlap`);
  }
  return { version, metadata, tensors, alignment, dataOffset };
}
