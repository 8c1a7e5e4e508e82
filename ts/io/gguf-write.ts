// GGUF (version 3) writer: typed metadata, tensor infos and aligned tensor data, written to a file
// in one pass with each tensor's bytes produced on demand; and the raw metadata entries of an
// existing file, for copying them unchanged. Not a reader (gguf.ts) and not a converter (convert/).
// Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md

import { closeSync, openSync, writeSync } from 'node:fs';
import { GGUF_DEFAULT_ALIGNMENT, GGUFFile } from './gguf.js';

/** Scalar metadata types by name, with their gguf_metadata_value_type id and byte size. */
const SCALARS = {
  u8: [0, 1], i8: [1, 1], u16: [2, 2], i16: [3, 2], u32: [4, 4], i32: [5, 4], f32: [6, 4], bool: [7, 1], u64: [10, 8], i64: [11, 8], f64: [12, 8],
} as const;
export type GGUFScalarType = keyof typeof SCALARS;
const STRING = 8;
const ARRAY = 9;

export type GGUFWriteValue =
  | { type: GGUFScalarType; value: number | bigint | boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; of: GGUFScalarType | 'string'; values: ArrayLike<number | bigint | boolean | string> }
  /** value type id and value bytes exactly as another file holds them (rawMetadata) */
  | { type: 'raw'; bytes: Uint8Array };

export interface GGUFWriteTensor {
  readonly name: string;
  /** row-major (outermost first); the file stores it innermost first */
  readonly shape: readonly number[];
  /** ggml_type id */
  readonly ggmlType: number;
  readonly byteLength: number;
  /** The tensor's bytes (byteLength of them), asked for once, in file order. */
  bytes(): Uint8Array;
}

/** Appends little-endian values to growing chunks. */
class Bytes {
  private readonly parts: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
  scalar(type: GGUFScalarType, v: number | bigint | boolean, what: string): void {
    const [, size] = SCALARS[type];
    const b = new Uint8Array(size);
    const dv = new DataView(b.buffer);
    if (type === 'bool') {
      if (typeof v !== 'boolean') throw new TypeError(`${what}: expected a boolean, got ${typeof v}`);
      b[0] = v ? 1 : 0;
    } else if (type === 'u64' || type === 'i64') {
      const big = typeof v === 'bigint' ? v : BigInt(Number(v));
      if (type === 'u64') dv.setBigUint64(0, big, true);
      else dv.setBigInt64(0, big, true);
    } else {
      const n = Number(v);
      if (!Number.isFinite(n) && type !== 'f32' && type !== 'f64') throw new TypeError(`${what}: expected a finite number, got ${String(v)}`);
      if ((type !== 'f32' && type !== 'f64') && !Number.isInteger(n)) throw new TypeError(`${what}: expected an integer for ${type}, got ${n}`);
      ({ u8: () => dv.setUint8(0, n), i8: () => dv.setInt8(0, n), u16: () => dv.setUint16(0, n, true), i16: () => dv.setInt16(0, n, true),
        u32: () => dv.setUint32(0, n, true), i32: () => dv.setInt32(0, n, true), f32: () => dv.setFloat32(0, n, true), f64: () => dv.setFloat64(0, n, true) })[type]();
    }
    this.push(b);
  }
  u32(v: number): void {
    this.scalar('u32', v, 'u32');
  }
  u64(v: number): void {
    this.scalar('u64', BigInt(v), 'u64');
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  concat(): Uint8Array {
    return Buffer.concat(this.parts, this.length);
  }
}

function writeValue(out: Bytes, key: string, v: GGUFWriteValue): void {
  if (v.type === 'raw') return out.push(v.bytes);
  if (v.type === 'string') {
    out.u32(STRING);
    return out.string(v.value);
  }
  if (v.type === 'array') {
    out.u32(ARRAY);
    out.u32(v.of === 'string' ? STRING : SCALARS[v.of][0]);
    out.u64(v.values.length);
    for (let i = 0; i < v.values.length; i++) {
      const x = v.values[i]!;
      if (v.of === 'string') {
        if (typeof x !== 'string') throw new TypeError(`${key}[${i}]: expected a string`);
        out.string(x);
      } else out.scalar(v.of, x as number | bigint | boolean, `${key}[${i}]`);
    }
    return;
  }
  out.u32(SCALARS[v.type][0]);
  out.scalar(v.type, v.value, key);
}

/**
 * Writes a GGUF v3 file: metadata in the given order, then tensor infos and data in the given
 * order, each tensor at a multiple of `alignment` from the data section's start.
 */
export function writeGGUF(path: string, metadata: ReadonlyArray<readonly [string, GGUFWriteValue]>, tensors: readonly GGUFWriteTensor[],
  alignment = GGUF_DEFAULT_ALIGNMENT): void {
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) throw new RangeError(`alignment: expected a positive multiple of 8, got ${alignment}`);
  const keys = new Set<string>();
  const head = new Bytes();
  head.push(Buffer.from('GGUF', 'latin1'));
  head.u32(3);
  const kv = alignment === GGUF_DEFAULT_ALIGNMENT ? metadata : [...metadata, ['general.alignment', { type: 'u32', value: alignment }] as const];
  head.u64(tensors.length);
  head.u64(kv.length);
  for (const [k, v] of kv) {
    if (keys.has(k)) throw new RangeError(`metadata: key '${k}' appears twice`);
    keys.add(k);
    head.string(k);
    writeValue(head, k, v);
  }
  const pad = (n: number) => (alignment - (n % alignment)) % alignment;
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new RangeError(`tensors: '${t.name}' appears twice`);
    names.add(t.name);
    head.string(t.name);
    head.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) head.u64(d);
    head.u32(t.ggmlType);
    head.u64(offset);
    offset += t.byteLength + pad(t.byteLength);
  }
  head.push(new Uint8Array(pad(head.length)));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head.concat());
    for (const t of tensors) {
      const b = t.bytes();
      if (b.byteLength !== t.byteLength) throw new RangeError(`tensor '${t.name}': produced ${b.byteLength} bytes, its info says ${t.byteLength}`);
      writeSync(fd, b);
      const p = pad(b.byteLength);
      if (p) writeSync(fd, new Uint8Array(p));
    }
  } finally {
    closeSync(fd);
  }
}

/** Bytes of one value of type `type` at `at` (arrays: their element type, count and elements). */
function valueLength(dv: DataView, at: number, type: number, depth = 0): number {
  const fixed: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  if (fixed[type] !== undefined) return fixed[type];
  if (type === STRING) return 8 + Number(dv.getBigUint64(at, true));
  if (type === ARRAY && depth < 8) {
    const et = dv.getUint32(at, true);
    const n = Number(dv.getBigUint64(at + 4, true));
    if (fixed[et] !== undefined) return 12 + n * fixed[et];
    let len = 12;
    for (let i = 0; i < n; i++) len += valueLength(dv, at + len, et, depth + 1);
    return len;
  }
  throw new RangeError(`gguf metadata: unknown value type ${type}`);
}

/**
 * The metadata of a GGUF file (already validated by GGUFFile) as raw entries: key -> value type
 * id and value bytes, in file order, for writing them unchanged into another file.
 */
export function rawMetadata(g: GGUFFile): Array<[string, GGUFWriteValue]> {
  const buf = g.file.read(0, g.dataOffset);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(16, true));
  const out: Array<[string, GGUFWriteValue]> = [];
  let at = 24;
  for (let i = 0; i < n; i++) {
    const klen = Number(dv.getBigUint64(at, true));
    const key = Buffer.from(buf.subarray(at + 8, at + 8 + klen)).toString('utf8');
    at += 8 + klen;
    const type = dv.getUint32(at, true);
    const len = 4 + valueLength(dv, at + 4, type);
    out.push([key, { type: 'raw', bytes: buf.slice(at, at + len) }]);
    at += len;
  }
  return out;
}
