// The Backend contract: every backend runs the same ops on Tensors with the same semantics.
// Models never name a backend; the op harness checks each backend against the reference.

import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Arguments of each op, by name. Each op family declares its members in its own file under
 * ops/ (TypeScript module augmentation), next to the op's checks and reference code.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface OpArgs {}

export type OpName = keyof OpArgs & string;

/** Where an op writes: a preallocated tensor of the op's output shape and dtype. */
export interface OutArg {
  out?: Tensor;
}

/**
 * A linear layer's weight W (N out-features, K in-features) prepared once for a backend: native
 * backends copy it into native memory in their kernels' layout. Free it with dispose().
 */
export interface Weight {
  readonly dtype: DType;
  /** [N, K] */
  readonly shape: readonly [number, number];
  /** Bytes the backend holds for it. */
  readonly bytes: number;
  /** Name of the backend that packed it; a weight only works on that backend. */
  readonly backend: string;
  readonly disposed: boolean;
  dispose(): void;
}

export interface PackWeightOptions {
  /** i8 weights: one f32 scale per output row, shape [N]. */
  scales?: Tensor;
  /** f32 weights: 'packed' (default, the fast GEMM layout) or 'reference' (plain loops). */
  layout?: 'packed' | 'reference';
  /**
   * The tensor is stored transposed, (K, Nt) [in, out] as Hugging Face Conv1D weights are: the
   * packer reads W[n, k] at element k * Nt + n, with no copy in JavaScript. Element formats only
   * (f32, f16, bf16, i8); block formats keep their blocks along K and cannot be transposed.
   */
  transposed?: boolean;
  /**
   * With `transposed`: the output features [start, end) of the stored Nt columns (a fused QKV
   * weight split by column ranges). Default: all of them. The packed weight is (end - start, K).
   */
  columns?: readonly [number, number];
}

/**
 * A weight that still lies in a mapped checkpoint file (io/mapped.ts MappedTensor): the native
 * backend packs it straight from the mapping when it is aligned; other backends load() a copy.
 */
export interface MappedWeightSource {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Whether native code can read it in place. */
  readonly aligned: boolean;
  /** The descriptor the addon reads ({ dtype, shape, file, byteOffset }). */
  native(): object;
  /** A JS copy. */
  load(): Tensor;
}

/**
 * Rows [from, to) of one layer's K or V in a sequence state that a device backend owns (WebGPU):
 * the executor names them in a batch op instead of a host tensor, and the backend binds its own
 * pages. Its dtype, shape and rank are those of the rows' view, so the ops' checks read it as a
 * tensor. A batch that writes rows of a state's part appends them: that part's length (length or
 * staticLength) becomes their end once the batch is done.
 */
export interface StateRowsArg {
  readonly kind: 'stateRows';
  readonly state: SequenceState;
  /** The self part (self-attention K/V) or the static part (cross-attention K/V). */
  readonly part: 'self' | 'static';
  readonly layer: number;
  readonly which: 'k' | 'v';
  readonly from: number;
  readonly to: number;
  readonly dtype: 'f32' | 'f16';
  /** e.g. (to - from, Hkv, D) or (to - from, Hkv * D) */
  readonly shape: readonly number[];
  readonly rank: number;
}

/** One op of a batch: its name and arguments with a preallocated `out` (or state rows to write). */
export interface BatchOp {
  readonly op: OpName;
  readonly args: Readonly<Record<string, unknown>> & { readonly out: Tensor | StateRowsArg };
}

/** K and V buffers (capacity, Hkv, D) f32 of every layer, for one sequence (host state). */
export interface KVBuffers {
  readonly k: readonly Tensor[];
  readonly v: readonly Tensor[];
  readonly capacity: number;
}

/** What one sequence's state holds per position: every layer's K and V rows of Hkv x D. */
export interface StateLayout {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtype: 'f32' | 'f16';
}

export interface StatePoolOptions {
  /** Rows per page (a power of two); default 32. */
  readonly pageRows?: number;
  /** Most bytes of pages in use at once (sequences and prefix cache); default: half of the machine's memory. */
  readonly budgetBytes?: number;
  /** Most rows one sequence holds (host state allocates this many per sequence). */
  readonly capacity: number;
}

/**
 * One sequence's state, owned by the backend: JavaScript holds the handle, never the rows.
 * Rows [0, length) are filled; a pass appends rows. dispose() returns its pages at once.
 */
export interface SequenceState {
  /** Rows of the self part (self-attention K/V). */
  readonly length: number;
  /** Rows of the static part (cross-attention K/V an encoder's plan wrote; 0 for decoders). */
  readonly staticLength: number;
  /** Pages it holds (host state: 1, its whole capacity). */
  readonly pages: number;
  /** Bytes of the pages it holds. */
  readonly bytes: number;
  readonly disposed: boolean;
  /** A state with the same rows; pages are shared until one side writes (copy-on-write). */
  fork(): SequenceState;
  /** Keeps rows [0, n) (a rollback); pages past them are returned. n must be at least `forgotten`. */
  truncate(n: number): void;
  /**
   * Lets go of the whole pages before row `rows`, which no later query reads (every layer
   * attends over a sliding window); `length` is unchanged. Host state keeps its buffers.
   */
  forget(rows: number): void;
  /** Rows whose pages were let go by forget() (0 for host state). */
  readonly forgotten: number;
  dispose(): void;
}

export interface StatePoolStats {
  readonly pageRows: number;
  readonly pageBytes: number;
  readonly budgetPages: number;
  readonly pagesInUse: number;
  readonly bytesInUse: number;
  readonly peakPages: number;
  /** Pages handed out since the pool was made. */
  readonly pagesTaken: number;
  /** Shared pages copied before a write (copy-on-write). */
  readonly pagesCopied: number;
  /** Of those, pages whose every row was filled (beam selection and forks copy none). */
  readonly fullPagesCopied: number;
  /** Pages the prefix cache holds. */
  readonly prefixPages: number;
  /** Prompt rows attached from the prefix cache instead of being computed. */
  readonly prefixTokensReused: number;
}

/** The pages of one model's sequence states, under one budget. */
export interface StatePool {
  readonly layout: StateLayout;
  /** Rows per page; prefixes are shared in whole pages. */
  readonly pageRows: number;
  /** Whether attachPrefix can share pages (host state cannot: it returns 0). */
  readonly sharesPrefixes: boolean;
  create(): SequenceState;
  /**
   * Beam selection: states[i] takes the rows states[parents[i]] had before the call. Page
   * tables move; no full page is copied.
   */
  reorder(states: readonly SequenceState[], parents: readonly number[]): void;
  /**
   * Attaches the cached pages of the longest cached whole-page prefix of `ids` to an empty
   * state, leaving at least one id to run; returns the rows attached.
   */
  attachPrefix(state: SequenceState, ids: Int32Array): number;
  /** Caches the full pages of `state` that `ids` (its first rows) cover. */
  publishPrefix(state: SequenceState, ids: Int32Array): void;
  clearPrefix(): void;
  stats(): StatePoolStats;
  dispose(): void;
}

/**
 * One sequence of a pass: its new tokens `t` after `p` cached rows, and its state (absent in
 * graphs without cache operands, such as an encoder's, where `p` is 0).
 */
export interface PassSegment {
  readonly t: number;
  readonly p: number;
  readonly state?: SequenceState;
}

/** A view of a planned slot; shape symbols as in graph/ir.ts ('T', 'S', 'B', 'E'). */
export interface SlotOperand {
  readonly kind: 'slot';
  readonly slot: number;
  readonly shape: readonly (number | 'T' | 'S' | 'B' | 'E')[];
}

/** Rows of one layer's K or V in a segment's state part: 'new' [P, P+T) or 'all' [0, P+T) ('static' part: [0, E)). */
export interface CacheSliceOperand {
  readonly kind: 'cache';
  readonly part: 'self' | 'static';
  readonly layer: number;
  readonly which: 'k' | 'v';
  readonly rows: 'new' | 'all';
  readonly shape: readonly (number | 'T' | 'S' | 'B' | 'E')[];
  /** Element type of the cache buffers: every cache passed to run() holds this dtype. */
  readonly dtype: 'f32' | 'f16';
}

/** One step of a compiled pass; perSegment steps run once per segment on its rows. */
export interface ProgramStep {
  readonly op: OpName;
  readonly perSegment: boolean;
  readonly args: Readonly<Record<string, unknown>> & { readonly out: SlotOperand | CacheSliceOperand };
}

/** A planned forward pass for Backend.compile: its slot buffers and steps. */
export interface PassProgram {
  readonly slots: readonly Tensor[];
  readonly layers: number;
  readonly steps: readonly ProgramStep[];
  /**
   * The slot views the caller writes before each run (the graph's inputs) and reads after it
   * (its outputs): what a device backend (CUDA) copies up and back per pass. Host backends ignore them.
   */
  readonly inputs?: readonly SlotOperand[];
  readonly outputs?: readonly SlotOperand[];
}

/** A pass compiled by a backend: each run costs one call, with no per-op work in JavaScript. */
export interface CompiledPass {
  /** Runs every step for these segments; the caller has written the inputs into their slots. */
  run(segments: readonly PassSegment[]): Promise<void>;
  dispose(): void;
}

/**
 * What a batch moves between host and device, for backends that keep copies of host tensors on a
 * device (WebGPU). Backends that compute in host memory ignore it.
 */
export interface BatchIO {
  /** Host tensors the caller wrote since the previous batch (token ids, positions): uploaded again. */
  readonly inputs?: readonly Tensor[];
  /** Tensors the caller reads after the batch (the logits): brought back to the host. */
  readonly outputs?: readonly Tensor[];
}

export interface Backend {
  /** e.g. 'reference', 'native', 'native-avx2', 'webgpu'. */
  readonly name: string;
  /**
   * Whether ops read MappedWeightSource tensors in place (for example an embedding table that
   * stays in the mapped checkpoint). Backends without it get load()ed copies.
   */
  readonly readsMapped?: boolean;
  /** Ops this backend implements. */
  readonly ops: ReadonlySet<OpName>;
  /**
   * Runs one op. The result is `args.out` when given (it must have the output shape and
   * dtype), else a new tensor. Work happens off the main thread where the backend can do so.
   */
  run<K extends OpName>(op: K, args: OpArgs[K] & OutArg): Promise<Tensor>;
  /**
   * Runs ops in order, each writing its `out`, in one trip off the main thread where the backend
   * can (planned forward passes). Optional: callers fall back to run() op by op. With `io`, a
   * device backend keeps its copies of the tensors resident between batches and moves only what
   * `io` names; without it, every op's inputs go to the device and every `out` comes back.
   */
  runBatch?(ops: readonly BatchOp[], io?: BatchIO): Promise<void>;
  /**
   * Compiles a planned pass once, so that later passes skip per-op argument work in
   * JavaScript. Optional: the executor falls back to runBatch / run.
   */
  compile?(program: PassProgram): CompiledPass;
  /**
   * Drops any device copies the backend keeps of these host tensors' memory (a disposed KV cache
   * or model). Optional; a no-op for tensors it never saw.
   */
  release?(tensors: readonly Tensor[]): void;
  /**
   * A pool of sequence state for graphs with cache operands. Optional: the executor falls back
   * to host state (ts/backend/host-state.ts), one contiguous buffer per layer per sequence.
   * States of a pool whose backend has runBatch but no compile (WebGPU) reach runBatch as
   * StateRowsArg operands.
   */
  createStatePool?(layout: StateLayout, options: StatePoolOptions): StatePool;
  /** Prepares a weight matrix (N, K) for `linear` on this backend (from memory or a mapped file). */
  packWeight(weight: Tensor | MappedWeightSource, options?: PackWeightOptions): Weight;
  /** Frees the backend's resources; further calls reject. */
  dispose(): void;
}

/** Output dtype and shape of an op, with the argument checks every backend shares. */
export interface OutputSpec {
  dtype: DType;
  shape: number[];
}
