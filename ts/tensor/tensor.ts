// Tensor: a dtype, a shape, element strides and an offset over ArrayBuffer or SharedArrayBuffer
// storage. Views (reshape, transpose, slice) share storage; contiguous() copies when needed.
// Not an arithmetic library: ops live in the backends.

import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half.js';
import { dequantizeQ8_0, quantizeQ8_0 } from './q8.js';
import { DTYPES, type DType, type TypedArray, byteLength, isDType, storageLength } from './dtype.js';
import { WEIGHT_FORMATS, type WeightDType } from './formats.js';

export type Shape = readonly number[];

export interface TensorOptions {
  /** Allocate SharedArrayBuffer storage (shareable with worker threads without copying). */
  shared?: boolean;
}

function checkShape(shape: Shape, what = 'shape'): number {
  if (!Array.isArray(shape)) throw new TypeError(`${what} must be an array of integers`);
  let n = 1;
  shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${what}[${i}] must be a non-negative integer, got ${String(d)}`);
    n *= d;
  });
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} [${shape.join(', ')}] has too many elements`);
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export class Tensor {
  readonly dtype: DType;
  readonly shape: Shape;
  /** Strides in elements (values); block dtypes (q8_0) are always contiguous. */
  readonly strides: Shape;
  /** Offset of element [0, ..., 0] in elements from the start of `buffer`'s view. */
  readonly offset: number;
  /** The typed array over the whole storage this tensor views. */
  readonly storage: TypedArray;

  constructor(dtype: DType, shape: Shape, storage: TypedArray, strides?: Shape, offset = 0) {
    if (!isDType(dtype)) throw new TypeError(`unknown dtype '${String(dtype)}'`);
    const numel = checkShape(shape);
    const info = DTYPES[dtype];
    if (!(storage instanceof info.array)) throw new TypeError(`dtype ${dtype} needs a ${info.array.name} as storage`);
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    this.storage = storage;
    if (this.strides.length !== this.shape.length) throw new RangeError('strides and shape must have the same rank');
    if (info.blockSize > 1) {
      if (!this.isContiguous()) throw new RangeError(`${dtype} tensors must be contiguous`);
      const last = shape.length ? shape[shape.length - 1]! : 1;
      if (last % info.blockSize !== 0) throw new RangeError(`${dtype} needs the last dimension to be a multiple of ${info.blockSize}, got shape [${shape.join(', ')}]`);
    }
    // Every reachable element must lie inside the storage.
    if (numel > 0) {
      let lo = offset;
      let hi = offset;
      this.shape.forEach((d, i) => {
        const s = this.strides[i]!;
        if (!Number.isSafeInteger(s)) throw new RangeError(`strides[${i}] must be an integer`);
        if (s >= 0) hi += (d - 1) * s;
        else lo += (d - 1) * s;
      });
      const units = info.blockSize > 1 ? storageLength(dtype, hi + 1) : hi + 1;
      if (lo < 0 || units > storage.length)
        throw new RangeError(`tensor of shape [${shape.join(', ')}] does not fit its storage of ${storage.length} elements`);
    }
  }

  /** A zero-filled tensor. */
  static zeros(dtype: DType, shape: Shape, options: TensorOptions = {}): Tensor {
    const numel = checkShape(shape);
    const bytes = byteLength(dtype, numel);
    const buffer = options.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    const info = DTYPES[dtype];
    return new Tensor(dtype, shape, new info.array(buffer, 0, bytes / info.array.BYTES_PER_ELEMENT));
  }

  /** Wraps a typed array (no copy) whose length matches the shape exactly. */
  static fromArray(dtype: DType, shape: Shape, data: TypedArray): Tensor {
    const numel = checkShape(shape);
    const want = storageLength(dtype, numel);
    if (data.length !== want) throw new RangeError(`data has ${data.length} elements but shape [${shape.join(', ')}] (${dtype}) needs ${want}`);
    return new Tensor(dtype, shape, data);
  }

  /** f32 values (converted to `dtype`: f16/bf16 rounded to nearest even, q8_0 quantized). */
  static fromValues(values: ArrayLike<number>, shape: Shape, dtype: DType = 'f32', options: TensorOptions = {}): Tensor {
    const numel = checkShape(shape);
    if (values.length !== numel) throw new RangeError(`${values.length} values do not fill shape [${shape.join(', ')}]`);
    const t = Tensor.zeros(dtype, shape, options);
    const d = t.storage;
    switch (dtype) {
      case 'f32':
      case 'i8':
      case 'i32':
        for (let i = 0; i < numel; i++) d[i] = values[i]!;
        break;
      case 'f16':
        for (let i = 0; i < numel; i++) d[i] = f32ToF16(values[i]!);
        break;
      case 'bf16':
        for (let i = 0; i < numel; i++) d[i] = f32ToBf16(values[i]!);
        break;
      case 'q8_0':
        quantizeQ8_0(values, d as Uint8Array);
        break;
      default:
        // The other block formats: their table entry's reference quantizer.
        (d as Uint8Array).set(WEIGHT_FORMATS[dtype].quantize(values instanceof Float32Array ? values : Float32Array.from(values)));
    }
    return t;
  }

  get rank(): number {
    return this.shape.length;
  }

  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  isContiguous(): boolean {
    let s = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== s) return false;
      s *= this.shape[i]!;
    }
    return true;
  }

  /** The contiguous typed array holding exactly this tensor's elements (no copy). */
  get data(): TypedArray {
    if (!this.isContiguous()) throw new RangeError('tensor is not contiguous: call contiguous() first');
    const info = DTYPES[this.dtype];
    const start = info.blockSize > 1 ? storageLength(this.dtype, this.offset) : this.offset;
    return this.storage.subarray(start, start + storageLength(this.dtype, this.numel));
  }

  /** Value at a multi-index (f32 view of any dtype). */
  get(...index: number[]): number {
    if (index.length !== this.rank) throw new RangeError(`get: expected ${this.rank} indices, got ${index.length}`);
    let off = this.offset;
    index.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0 || v >= this.shape[i]!) throw new RangeError(`get: index ${v} out of range for dimension ${i} of size ${this.shape[i]}`);
      off += v * this.strides[i]!;
    });
    if (DTYPES[this.dtype].blockSize > 1) return this.toFloat32()[off - this.offset]!;
    return this.decode(off);
  }

  private decode(i: number): number {
    const v = this.storage[i]!;
    if (this.dtype === 'f16') return f16ToF32(v);
    if (this.dtype === 'bf16') return bf16ToF32(v);
    return v;
  }

  /** All values as a new Float32Array in row-major order (dequantized / converted). */
  toFloat32(): Float32Array {
    if (this.dtype === 'q8_0') return dequantizeQ8_0(this.data as Uint8Array);
    if (DTYPES[this.dtype].blockSize > 1) return WEIGHT_FORMATS[this.dtype as WeightDType].dequantize(this.data as Uint8Array);
    const n = this.numel;
    const out = new Float32Array(n);
    if (n === 0) return out;
    const rank = this.rank;
    const idx = new Array<number>(rank).fill(0);
    let off = this.offset;
    for (let k = 0; k < n; k++) {
      out[k] = this.decode(off);
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]!++;
        off += this.strides[d]!;
        if (idx[d]! < this.shape[d]!) break;
        off -= idx[d]! * this.strides[d]!;
        idx[d] = 0;
      }
    }
    return out;
  }

  /** This tensor if contiguous, else a contiguous copy. */
  contiguous(options: TensorOptions = {}): Tensor {
    if (this.isContiguous() && !options.shared) return this;
    const out = Tensor.zeros(this.dtype, this.shape, options);
    if (this.isContiguous()) {
      out.storage.set(this.data);
      return out;
    }
    const n = this.numel;
    const rank = this.rank;
    const idx = new Array<number>(rank).fill(0);
    let off = this.offset;
    for (let k = 0; k < n; k++) {
      out.storage[k] = this.storage[off]!;
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]!++;
        off += this.strides[d]!;
        if (idx[d]! < this.shape[d]!) break;
        off -= idx[d]! * this.strides[d]!;
        idx[d] = 0;
      }
    }
    return out;
  }

  /** Same elements, new shape (one dimension may be -1). Needs a contiguous tensor. */
  reshape(shape: readonly number[]): Tensor {
    const n = this.numel;
    const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const holes = shape.filter((d) => d === -1).length;
    if (holes > 1) throw new RangeError('reshape: at most one dimension may be -1');
    const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : n / known) : d));
    if (checkShape(resolved, 'reshape') !== n || resolved.some((d) => !Number.isInteger(d)))
      throw new RangeError(`reshape: cannot view [${this.shape.join(', ')}] as [${shape.join(', ')}]`);
    const base = this.contiguous();
    return new Tensor(base.dtype, resolved, base.storage, undefined, base.offset);
  }

  /** Swaps two dimensions (a strided view, no copy). */
  transpose(a: number, b: number): Tensor {
    if (DTYPES[this.dtype].blockSize > 1) throw new RangeError(`transpose: ${this.dtype} tensors cannot be strided`);
    const r = this.rank;
    const ia = a < 0 ? r + a : a;
    const ib = b < 0 ? r + b : b;
    if (ia < 0 || ia >= r || ib < 0 || ib >= r) throw new RangeError(`transpose: dimensions ${a}, ${b} out of range for rank ${r}`);
    const shape = [...this.shape];
    const strides = [...this.strides];
    [shape[ia], shape[ib]] = [shape[ib]!, shape[ia]!];
    [strides[ia], strides[ib]] = [strides[ib]!, strides[ia]!];
    return new Tensor(this.dtype, shape, this.storage, strides, this.offset);
  }

  /** Elements [start, end) along `dim` (a view, no copy). */
  slice(dim: number, start: number, end: number): Tensor {
    const d = dim < 0 ? this.rank + dim : dim;
    if (d < 0 || d >= this.rank) throw new RangeError(`slice: dimension ${dim} out of range for rank ${this.rank}`);
    const size = this.shape[d]!;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > size || start > end)
      throw new RangeError(`slice: [${start}, ${end}) is not inside [0, ${size}) of dimension ${dim}`);
    if (DTYPES[this.dtype].blockSize > 1 && d !== 0) throw new RangeError(`slice: ${this.dtype} tensors can only be sliced along dimension 0`);
    const shape = [...this.shape];
    shape[d] = end - start;
    return new Tensor(this.dtype, shape, this.storage, this.strides, this.offset + start * this.strides[d]!);
  }

  /** Converts to another dtype (f32, f16, bf16, q8_0), returning a new contiguous tensor. */
  to(dtype: DType, options: TensorOptions = {}): Tensor {
    if (dtype === this.dtype) return this.contiguous(options);
    return Tensor.fromValues(this.toFloat32(), this.shape, dtype, options);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}])`;
  }
}
