// Minimal safetensors and GGUF writers for reader tests and the fuzz test (small files built in
// memory). Not the fixture maker: tools/reference/ writes the model checkpoints.

export interface StTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export function safetensorsBytes(tensors: Record<string, StTensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  if (metadata) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  while (json.length % 8 !== 0) json += ' ';
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let p = 8 + h.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, p);
    p += t.bytes.length;
  }
  return out;
}

/** GGUF metadata value: [type id, value]; arrays: [9, [elementType, values]]. */
export type GgufKV = [number, unknown];

class Bytes {
  parts: number[] = [];
  u8(v: number) { this.parts.push(v & 0xff); }
  u32(v: number) { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff); }
  u64(v: bigint | number) {
    let b = BigInt(v);
    for (let i = 0; i < 8; i++) {
      this.parts.push(Number(b & 0xffn));
      b >>= 8n;
    }
  }
  raw(a: ArrayLike<number>) { for (let i = 0; i < a.length; i++) this.parts.push(a[i]!); }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.raw(b);
  }
  value(type: number, v: unknown) {
    const dv = new DataView(new ArrayBuffer(8));
    switch (type) {
      case 0: case 1: case 7: this.u8(Number(v)); break;
      case 2: case 3: dv.setUint16(0, Number(v) & 0xffff, true); this.raw(new Uint8Array(dv.buffer, 0, 2)); break;
      case 4: case 5: this.u32(Number(v) >>> 0); break;
      case 6: dv.setFloat32(0, Number(v), true); this.raw(new Uint8Array(dv.buffer, 0, 4)); break;
      case 8: this.str(String(v)); break;
      case 9: {
        const [et, items] = v as [number, unknown[]];
        this.u32(et);
        this.u64(items.length);
        for (const it of items) this.value(et, it);
        break;
      }
      case 10: case 11: this.u64(BigInt.asUintN(64, BigInt(v as number | bigint))); break;
      case 12: dv.setFloat64(0, Number(v), true); this.raw(new Uint8Array(dv.buffer, 0, 8)); break;
    }
  }
}

export interface GgufTensor {
  /** Row-major shape. */
  shape: number[];
  type: number;
  bytes: Uint8Array;
}

export function ggufBytes(kv: Record<string, GgufKV>, tensors: Record<string, GgufTensor>, version = 3, alignment = 32): Uint8Array {
  const b = new Bytes();
  b.u32(0x46554747);
  b.u32(version);
  b.u64(Object.keys(tensors).length);
  b.u64(Object.keys(kv).length);
  for (const [k, [t, v]] of Object.entries(kv)) {
    b.str(k);
    b.u32(t);
    b.value(t, v);
  }
  let off = 0;
  const offs: number[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    b.str(name);
    b.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) b.u64(d);
    b.u32(t.type);
    b.u64(off);
    offs.push(off);
    off += t.bytes.length;
    off += (alignment - (off % alignment)) % alignment;
  }
  while (b.parts.length % alignment !== 0) b.u8(0);
  const start = b.parts.length;
  const out = new Uint8Array(start + off);
  out.set(b.parts);
  Object.values(tensors).forEach((t, i) => out.set(t.bytes, start + offs[i]!));
  return out;
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
