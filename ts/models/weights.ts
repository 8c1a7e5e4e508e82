// Binding checkpoint tensors to a graph's canonical parameter names: linear weights are packed
// by the backend (straight from the mapping where the layout allows, transposed Conv1D weights by
// strides), norms, biases and embedding tables are copied into f32/f16 tensors.

import type { Backend, PackWeightOptions, Weight } from '../backend/backend.js';
import { MappedTensor } from '../io/mapped.js';
import { Tensor, type TensorOptions } from '../tensor/tensor.js';
import { DTYPES, byteLength, type DType } from '../tensor/dtype.js';
import { fittingFormat, isWeightDType, type WeightDType } from '../tensor/formats.js';

export type { WeightDType } from '../tensor/formats.js';

/** A linear weight stored in another format than `dtype` asked for, because its rows (K) do not hold whole blocks. */
export interface WeightFallback {
  readonly requested: WeightDType;
  readonly used: WeightDType;
  /** The row length (input features) that the requested block does not divide. */
  readonly k: number;
}

/** Tensors by file name: a safetensors checkpoint or a GGUF file. */
export interface TensorSource {
  has(name: string): boolean;
  tensor(name: string): MappedTensor;
}

export class Binder {
  readonly params = new Map<string, Tensor | Weight | MappedTensor>();
  /** Linear weights that could not take `dtype` (rows not whole blocks), by parameter name. */
  readonly fallbacks = new Map<string, WeightFallback>();
  constructor(
    readonly src: TensorSource,
    private readonly backend: Backend,
    /** Weight dtype for linear layers; undefined keeps the file's. */
    private readonly dtype: WeightDType | undefined,
  ) {}

  /**
   * How host tensors (norms, biases, tables the backend cannot read in place) are allocated: a
   * backend that compiles passes reads them off the main thread, so they go in SharedArrayBuffers,
   * which JavaScript cannot detach or transfer.
   */
  private get hostOptions(): TensorOptions {
    return { shared: this.backend.compile !== undefined };
  }

  get(name: string): MappedTensor {
    if (!this.src.has(name)) throw new RangeError(`checkpoint has no tensor '${name}'`);
    return this.src.tensor(name);
  }

  expectShape(name: string, t: { shape: readonly number[] }, shape: readonly number[]): void {
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new RangeError(`checkpoint tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }

  /** A small tensor as f32 (norm weights, biases). */
  f32(param: string, name: string, shape: readonly number[]): void {
    const t = this.get(name);
    this.expectShape(name, t, shape);
    this.params.set(param, t.load().to('f32', this.hostOptions));
  }

  /** A norm weight stored as an offset from 1 (Gemma's RMSNorm multiplies by 1 + w), bound as 1 + w in f32. */
  f32PlusOne(param: string, name: string, shape: readonly number[]): void {
    const t = this.get(name);
    this.expectShape(name, t, shape);
    const w = t.load().toFloat32();
    this.params.set(param, Tensor.fromValues(w.map((v) => Math.fround(1 + v)), [...shape], 'f32', this.hostOptions));
  }

  /**
   * An embedding table (`rows`: only rows [start, end) of the stored one): f32, f16, bf16 or q8_0 as stored, any block format on backends that read
   * mapped tables (native); other formats are widened to f32.
   * Backends that read mapped tensors gather rows straight from the file, so only the rows a
   * pass looks up become resident; others get a copy. A q8_0 table stays q8_0 either way: the
   * embedding op dequantizes the rows it reads (GPT-2's f32 copy would be 147 MiB).
   */
  table(param: string, name: string, shape: readonly number[], rows?: readonly [number, number]): void {
    let t = this.get(name);
    this.expectShape(name, t, shape);
    // Rows [start, end) only (BART's learned positions begin at row 2), still in the mapping.
    if (rows !== undefined) t = Binder.rows(t, rows[0], rows[1]);
    // Every backend's gather reads f32, f16, bf16 and q8_0 rows; the native one (which reads
    // mapped tables) dequantizes rows of every block format, so a q6_k GGUF token table stays
    // q6_k there. Other formats and integers become f32.
    const fits = isWeightDType(t.dtype) && t.shape[1]! % DTYPES[t.dtype].blockSize === 0;
    const gathered = fits && (DTYPES[t.dtype].blockSize === 1 || t.dtype === 'q8_0' || this.backend.readsMapped === true);
    if (this.backend.readsMapped && t.aligned && gathered) {
      this.params.set(param, t);
      return;
    }
    const v = t.load();
    this.params.set(param, gathered ? (this.hostOptions.shared ? v.contiguous(this.hostOptions) : v) : v.to('f32', this.hostOptions));
  }

  /**
   * A table the graph reads that no checkpoint holds (scaled rotary frequencies), bound after
   * checkParameters: like Hugging Face's non-persistent buffers, it is not a parameter.
   */
  constant(param: string, values: Float32Array, shape: readonly number[] = [values.length]): void {
    this.params.set(param, Tensor.fromValues(values, [...shape], 'f32', this.hostOptions));
  }

  /** A linear weight (N, K), packed by the backend. */
  linear(param: string, w: MappedTensor | Tensor): void {
    this.params.set(param, this.pack(param, w, {}));
  }

  /**
   * A Conv1D weight stored (K, Nt) [in, out] (Hugging Face GPT-2): columns [start, end) become the
   * linear weight (end - start, K), which the backend packs by strides from the stored tensor (a
   * fused QKV weight is split this way, with no copy in JavaScript). Default: all columns.
   *   name: (K, Nt) -> param: (end - start, K)
   */
  conv1d(param: string, name: string, shape: readonly [number, number], columns?: readonly [number, number]): void {
    const t = this.get(name);
    this.expectShape(name, t, shape);
    this.params.set(param, this.pack(param, t, { transposed: true, columns: columns ?? [0, shape[1]] }));
  }

  // f32 checkpoints stay f32, the other weight formats keep their dtype, unless `dtype` says
  // otherwise. A requested block format whose block does not divide K falls back to the nearest
  // one that does (formats.ts: fittingFormat), recorded in `fallbacks`.
  private pack(param: string, w: MappedTensor | Tensor, layout: PackWeightOptions): Weight {
    let want: DType = this.dtype ?? (isWeightDType(w.dtype) ? w.dtype : 'f32');
    if (this.dtype !== undefined) {
      const k = layout.transposed ? w.shape[0]! : w.shape[1]!;
      const used = fittingFormat(this.dtype, k);
      if (used !== this.dtype) this.fallbacks.set(param, { requested: this.dtype, used, k });
      want = used;
    }
    if (w.dtype === want) return this.backend.packWeight(w, layout);
    // A conversion (to q8_0 needs whole rows of K) makes one JS copy of the (N, K) weight anyway.
    let t = w instanceof Tensor ? w : w.load();
    if (layout.transposed) {
      const [c0, c1] = layout.columns ?? [0, t.shape[1]!];
      t = t.to('f32').transpose(0, 1).slice(0, c0, c1).contiguous();
    }
    return this.backend.packWeight(t.to(want));
  }

  /** Rows [start, end) of a mapped (N, K) tensor, still in the mapping. */
  static rows(t: MappedTensor, start: number, end: number): MappedTensor {
    const k = t.shape[1]!;
    return new MappedTensor(t.file, t.byteOffset + start * byteLength(t.dtype, k), t.dtype, [end - start, k]);
  }

  /**
   * Checks what was bound against the family's parameter list: every listed parameter bound with
   * its shape, nothing bound that the list lacks. A binder that disagrees with the counter fails here.
   */
  checkParameters(expected: readonly { name: string; shape: readonly number[] }[]): void {
    const names = new Set(expected.map((p) => p.name));
    for (const name of this.params.keys()) if (!names.has(name)) throw new RangeError(`binding: parameter '${name}' is not in the family's parameter list`);
    for (const p of expected) {
      const t = this.params.get(p.name);
      if (!t) throw new RangeError(`binding: parameter '${p.name}' was not bound`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i]))
        throw new RangeError(`binding: parameter '${p.name}' has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    }
  }

  dispose(): void {
    for (const p of this.params.values()) if (!(p instanceof Tensor) && !(p instanceof MappedTensor)) p.dispose();
    this.params.clear();
    this.fallbacks.clear();
  }
}
