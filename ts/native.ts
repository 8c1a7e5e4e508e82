// Loads the native addon. An installed package uses its prebuilt binary (prebuilds/<platform>-<arch>,
// found by node-gyp-build) unless it was built from source; a source checkout (with .git) uses
// its own fresh build in build/Release first, so native edits are never shadowed by an old prebuild.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CpuInfo {
  arch: 'x64' | 'arm64' | 'other';
  /** The instruction set whose kernels ops use now. */
  isa: string;
  /** Instruction sets this build can run on this CPU, best first. */
  available: string[];
  features: Record<string, boolean>;
  cores: number;
  threads: number;
  /** Kernel variant per op family. */
  kernels: Record<string, string>;
  /** Whether the CUDA kernels were compiled in. */
  cuda: boolean;
}

/** What the addon's CUDA part finds (native/src/cuda/device.cu, or the stub without nvcc). */
export interface CudaInfo {
  /** Whether the CUDA kernels were compiled in. */
  compiled: boolean;
  /** Devices visible to this process (cudaGetDeviceCount); 0 without a driver. */
  devices: number;
  /** One line per device: name, compute capability, SMs, memory. */
  names: string[];
  /** Why `devices` is 0: not built with CUDA, or the runtime's error (no driver, no device). */
  reason?: string;
}

/** A tensor as the addon sees it: contiguous storage with its dtype and shape. */
export interface NativeTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: ArrayBufferView;
}

export interface NativeProgram {
  /** segments: [t0, p0, t1, p1, ...]; states: one SequenceState of a statePool() (or null) per segment. */
  run(segments: Int32Array, states: readonly (NativeSequenceState | null)[]): Promise<void>;
  dispose(): void;
  readonly steps: number;
}

/** A sequence's state in native pages (native/src/state_js.cc). */
export interface NativeSequenceState {
  readonly length: number;
  readonly staticLength: number;
  readonly pages: number;
  readonly bytes: number;
  readonly capacity: number;
  readonly disposed: boolean;
  readonly busy: boolean;
  fork(): NativeSequenceState;
  truncate(n: number): void;
  forget(rows: number): void;
  readonly forgotten: number;
  dispose(): void;
}

export interface NativeStatePool {
  create(): NativeSequenceState;
  reorder(states: readonly NativeSequenceState[], parents: Int32Array): void;
  attachPrefix(state: NativeSequenceState, ids: Int32Array): number;
  publishPrefix(state: NativeSequenceState, ids: Int32Array): void;
  clearPrefix(): void;
  stats(): {
    pageRows: number; pageBytes: number; budgetPages: number; pagesInUse: number; bytesInUse: number; peakPages: number;
    pagesTaken: number; pagesCopied: number; fullPagesCopied: number; prefixPages: number; prefixLookups: number; prefixTokensReused: number;
  };
  dispose(): void;
}

export interface NativeAddon {
  /** A pool of pages for sequence state (native/src/state_js.cc). */
  statePool(desc: { layers: number; kvHeads: number; headDim: number; dtype: 'f32' | 'f16'; pageRows: number; budgetBytes: number; device?: 'host' | 'cuda' }): NativeStatePool;
  /** The cuda backend's entry points (native/src/cuda_bridge.h); each throws in a build without CUDA. */
  cudaPackWeight?(args: Record<string, unknown>): unknown;
  cudaCompile?(desc: {
    slots: readonly ArrayBufferView[];
    layers: number;
    steps: readonly { op: string; perSegment: boolean; args: Record<string, unknown> }[];
    inputs: readonly { slot: number; shape: readonly (number | string)[] }[];
    outputs: readonly { slot: number; shape: readonly (number | string)[] }[];
  }): NativeProgram;
  cudaStats?(): { bytesLive: number; bytesCached: number; totalMemory: number };
  cpuInfo(): CpuInfo;
  /** Absent from binaries built before the CUDA runtime layer. */
  cudaInfo?(): CudaInfo;
  setThreads(threads: number): void;
  /** The calling thread's nice value + step (Linux); the new value, or null elsewhere. */
  lowerThreadPriority(step: number): number | null;
  /** Raises the soft RLIMIT_NOFILE to the hard limit; the limits after, or null without one. */
  raiseFileLimit(): { soft: number; hard: number } | null;
  getThreads(): number;
  setIsa(isa: string): void;
  opNames(): string[];
  /** Runs an op on the calling thread. Throws TypeError/RangeError naming a bad argument. */
  op(name: string, args: Record<string, unknown>): void;
  /** Validates synchronously, then runs off the main thread. */
  opAsync(name: string, args: Record<string, unknown>): Promise<void>;
  /** Validates every op synchronously, then runs them in order in one trip off the main thread. */
  opsAsync(ops: readonly { op: string; args: Record<string, unknown> }[]): Promise<void>;
  /** A planned pass compiled once (native/src/program.cc); run(segments, states) per pass. */
  compile(desc: { slots: readonly ArrayBufferView[]; layers: number; steps: readonly { op: string; perSegment: boolean; args: Record<string, unknown> }[] }): NativeProgram;
  /** Copies a weight (N, K) into native memory in its format's layout; returns a handle with dispose(). */
  packWeight(args: Record<string, unknown>): unknown;
  /** The C++ weight-format table (native/src/formats.h), for tests holding it against ts/tensor/formats.ts. */
  formats(): { name: string; ggufType: number; safetensors: string | null; blockSize: number; blockBytes: number; align: number; reference: boolean }[];
  /** The C++ scalar reference dequantize of a format: whole blocks -> f32 values. */
  formatDequantize(name: string, bytes: Uint8Array): Float32Array;
  /** Maps a file read-only; returns a handle with size, read(offset, length) and dispose(). */
  mapFile(path: string): unknown;
  /**
   * The most scratch memory (bytes) ops held at once since the last reset, process-wide: the
   * workspace an op allocates beyond its inputs and output. `reset` starts a new measurement.
   */
  peakScratchBytes(reset?: boolean): number;
  /**
   * This thread's kernel runs since it loaded the addon, by the thread each ran on: its own
   * JavaScript thread (sync `op`) or the addon's dispatch thread (every async path).
   */
  kernelThreads(): { jsThread: number; otherThreads: number };
}

/** The package root: one level above this file (ts/ in a checkout, dist/ when installed). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let cached: NativeAddon | undefined;

/** Loads the addon from `root` (default: this package). */
export function loadAddon(root: string = packageRoot): NativeAddon {
  if (root === packageRoot && cached) return cached;
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => unknown;
  let addon: NativeAddon;
  try {
    const local = join(root, 'build', 'Release', 'attnode.node');
    addon = (existsSync(join(root, '.git')) && existsSync(local) ? require(local) : load(root)) as NativeAddon;
  } catch (err) {
    const hasGit = existsSync(join(root, '.git'));
    const hint = hasGit
      ? 'run `npm run build:native` (needs cmake and a C++17 compiler) in the checkout'
      : 'reinstall attnode so its prebuilt binary is present, or build from source with `npm rebuild attnode` (needs cmake and a C++17 compiler)';
    const e = new Error(
      `attnode: no native addon for ${process.platform}-${process.arch} was found in ${join(root, 'prebuilds')} or ${join(root, 'build', 'Release')}; ${hint}`,
    );
    (e as Error & { cause?: unknown }).cause = err;
    throw e;
  }
  if (root === packageRoot) cached = addon;
  return addon;
}

/** CPU features, the kernel variant each op family uses, and the thread count. */
export function cpuInfo(): CpuInfo {
  return loadAddon().cpuInfo();
}

/** The CUDA devices this build can use; `compiled: false` when it was built without nvcc. */
export function cudaInfo(): CudaInfo {
  const addon = loadAddon();
  if (!addon.cudaInfo) return { compiled: false, devices: 0, names: [], reason: 'attnode was built without CUDA support' };
  return addon.cudaInfo();
}

/** Sets the size of the addon's intra-op thread pool for this thread's addon instance. */
export function setThreads(threads: number): void {
  loadAddon().setThreads(threads);
}
