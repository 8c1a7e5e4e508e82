// The backends, their registry by name (backends.ts) and the op registry.
export type { Backend, BatchIO, BatchOp, OpArgs, OpName, OutArg, OutputSpec } from './backend.js';
export { ReferenceBackend } from './reference.js';
export { NativeBackend, type NativeBackendOptions } from './native.js';
// WebGPU: `webgpu` (dawn.node) is imported only when createWebGPUBackend() runs.
export { WebGPUBackend, createWebGPUBackend, GPUTensor, WebGPUError, type AdapterReport, type WebGPUBackendOptions } from './webgpu/index.js';
export { defineOp, opNames, opSpec, type OpSpec } from './registry.js';
import './ops/index.js';
export { BACKEND_NAMES, BackendUnavailableError, backendNames, backendSummary, checkBackendName, createBackend, isBackendName, type BackendName, type CreateBackendOptions } from './backends.js';
