// The backend registry: every backend attnode knows, by name, whether or not this build has it.
// A backend that was not built in (or has no kernels yet) is still listed and fails with an
// error that says so; nothing falls back silently. Not the op registry (registry.ts), which
// every backend imports; keeping this table apart keeps those imports acyclic.

import { cudaInfo, type CudaInfo } from '../native.js';
import type { Backend } from './backend.js';
import { CudaBackend } from './cuda.js';
import { NativeBackend } from './native.js';
import { ReferenceBackend } from './reference.js';
import { createWebGPUBackend } from './webgpu/index.js';

export const BACKEND_NAMES = ['native', 'webgpu', 'cuda', 'reference'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface CreateBackendOptions {
  /** Intra-op threads of the native backend (the addon's pool); ignored by the others. */
  threads?: number;
}

/** A backend the registry lists but cannot create here; `backend` says which. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    message: string,
  ) {
    super(`backend '${backend}': ${message}`);
    this.name = 'BackendUnavailableError';
  }
}

interface BackendEntry {
  /** One line for help texts. */
  readonly summary: string;
  create(options: CreateBackendOptions): Promise<Backend>;
}

// The CUDA kernels (native/src/cuda) are compiled when nvcc is found; the backend needs one
// device too. Without either, creating it says why, and never runs anything on the CPU instead.
async function createCuda(): Promise<Backend> {
  const info = cudaInfo();
  if (!info.compiled || info.devices === 0) throw new BackendUnavailableError('cuda', cudaUnavailableReason(info));
  return new CudaBackend();
}

/** Why the cuda backend cannot be created with what cudaInfo() reports. */
export function cudaUnavailableReason(info: CudaInfo): string {
  if (!info.compiled) return 'attnode was built without CUDA support (the build compiles native/src/cuda when nvcc is found)';
  if (info.devices === 0) return `no CUDA device (${info.reason ?? 'cudaGetDeviceCount found none'})`;
  return `found ${info.names.join(', ')}`;
}

const BACKENDS: Readonly<Record<BackendName, BackendEntry>> = {
  native: { summary: 'C++ kernels on the CPU', create: async (o) => new NativeBackend(o.threads === undefined ? {} : { threads: o.threads }) },
  webgpu: { summary: 'WGSL kernels through dawn.node (npm webgpu, optional)', create: () => createWebGPUBackend() },
  cuda: { summary: 'CUDA kernels on an NVIDIA GPU (compiled with nvcc; weights and state on the device)', create: createCuda },
  reference: { summary: 'plain TypeScript, slow; what the others are tested against', create: async () => new ReferenceBackend() },
};

/** Every name the registry holds, built here or not. */
export function backendNames(): BackendName[] {
  return [...BACKEND_NAMES];
}

export function isBackendName(name: unknown): name is BackendName {
  return typeof name === 'string' && (BACKEND_NAMES as readonly string[]).includes(name);
}

/** `name` as a BackendName, else a RangeError (TypeError for a non-string) from `fn` listing the names. */
export function checkBackendName(name: unknown, fn: string, what = "'backend'"): BackendName {
  if (isBackendName(name)) return name;
  const list = BACKEND_NAMES.join(', ');
  if (typeof name !== 'string') throw new TypeError(`${fn}: ${what} must be a backend name (${list}) or a Backend, got ${typeof name}`);
  throw new RangeError(`${fn}: ${what} must be one of ${list}, got '${name}'`);
}

/** The one-line summary of a backend, for help texts. */
export function backendSummary(name: BackendName): string {
  return BACKENDS[name].summary;
}

/**
 * Creates a backend by name. 'webgpu' opens a device (dawn.node is imported only now); 'cuda'
 * rejects with a BackendUnavailableError when it was not built or finds no device.
 */
export async function createBackend(name: BackendName, options: CreateBackendOptions = {}): Promise<Backend> {
  return BACKENDS[checkBackendName(name, 'createBackend', "'name'")].create(options);
}
