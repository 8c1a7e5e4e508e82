// WebGPU device setup on dawn.node (npm package `webgpu`, an optional dependency imported lazily),
// and the errors a device can raise. Not the op scheduling: see backend.ts.

import type {} from 'webgpu';

/** Spec values of GPUBufferUsage / GPUMapMode, so nothing here needs the package's globals. */
export const USAGE = { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;
export const MAP_READ = 1;

export interface WebGPUBackendOptions {
  /** Adapter preference passed to requestAdapter; default: let the implementation choose. */
  powerPreference?: 'low-power' | 'high-performance';
  /** Flags for dawn.node's create(), e.g. 'backend=vulkan'. Default: none. */
  dawnFlags?: string[];
  /** Ask for shader-f16 when the adapter has it (f16 weights read as f16 in WGSL). Default true. */
  f16?: boolean;
  /**
   * Kernel style for linear (M > 4) and attention: 'shared' (workgroup-shared tiles and
   * reductions, for GPUs) or 'blocked' (no barriers, for adapters that run shaders on the CPU).
   * Default: 'blocked' on CPU adapters (lavapipe, SwiftShader), 'shared' elsewhere.
   */
  tiles?: 'shared' | 'blocked';
  /**
   * How rnn and lstm walk time: 'loop' (one workgroup per sequence loops over the steps inside
   * one dispatch) or 'steps' (one dispatch per step over every sequence and unit). Default: 'loop'
   * for small steps (gates * H * H <= 8192 multiply-adds per sequence), else 'steps', as measured
   * on lavapipe.
   */
  recurrence?: 'loop' | 'steps';
}

/** What the adapter reported: for logs, bench reports and the parity notes. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
}

export interface OpenedDevice {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
  hasF16: boolean;
}

interface WebGPUModule {
  create(flags: string[]): GPU;
}

async function importWebGPU(): Promise<WebGPUModule> {
  try {
    // A variable specifier keeps bundlers and tsc from requiring the optional package.
    const name = 'webgpu';
    return (await import(name)) as WebGPUModule;
  } catch (err) {
    const e = new Error(
      "webgpu backend: the optional package 'webgpu' (dawn.node) could not be loaded; install it with `npm install webgpu` " +
        '(it ships prebuilt binaries for linux-x64, darwin and win32)',
    );
    (e as Error & { cause?: unknown }).cause = err;
    throw e;
  }
}

function limitsOf(l: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // The limits object exposes its values as prototype getters, so walk them with for...in.
  for (const k in l) {
    const v = (l as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

/** Opens an adapter and a device, or throws an Error that says what is missing. */
export async function openDevice(options: WebGPUBackendOptions = {}): Promise<OpenedDevice> {
  const mod = await importWebGPU();
  const noAdapter = (detail: string, cause?: unknown) => {
    const e = new Error(
      `webgpu backend: no WebGPU adapter was found (${detail}); a GPU driver with Vulkan, Metal or D3D12 is needed ` +
        '(on Linux without a GPU, Mesa lavapipe: the mesa-vulkan-drivers package)',
    );
    if (cause !== undefined) (e as Error & { cause?: unknown }).cause = cause;
    return e;
  };
  let gpu: GPU;
  let adapter: GPUAdapter | null;
  try {
    gpu = mod.create(options.dawnFlags ?? []);
    adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : undefined);
  } catch (err) {
    // dawn.node throws (rather than resolving null) when a requested backend or adapter is absent.
    throw noAdapter(err instanceof Error ? err.message.split('\n')[0]! : String(err), err);
  }
  if (!adapter) throw noAdapter('requestAdapter() returned null');
  const hasF16 = (options.f16 ?? true) && adapter.features.has('shader-f16');
  const limits = limitsOf(adapter.limits);
  // Ask for the adapter's own buffer limits: the defaults (128 MiB bindings) are too small for
  // embedding tables and unembedding weights.
  const device = await adapter.requestDevice({
    requiredFeatures: hasF16 ? ['shader-f16'] : [],
    requiredLimits: {
      maxBufferSize: limits.maxBufferSize ?? 268435456,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize ?? 134217728,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize ?? 16384,
      // Views into larger buffers (a KV cache's new rows) bind in place when their offset is a
      // multiple of this; a smaller value than the default 256 lets more of them.
      minStorageBufferOffsetAlignment: limits.minStorageBufferOffsetAlignment ?? 256,
    },
  });
  const info = adapter.info;
  return {
    gpu,
    adapter,
    device,
    hasF16,
    report: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      features: [...adapter.features].map(String).sort(),
      limits,
    },
  };
}

/** A GPU error (validation, out-of-memory, internal) or a lost device, as one Error type. */
export class WebGPUError extends Error {
  constructor(
    message: string,
    readonly kind: 'out-of-memory' | 'validation' | 'internal' | 'device-lost',
  ) {
    super(message);
    this.name = 'WebGPUError';
  }
}
