// The WebGPU backend's public surface.
export { WebGPUBackend, createWebGPUBackend, type GpuOpArgs } from './backend.js';
export { GPUTensor } from './buffers.js';
export { WebGPUWeight } from './weight.js';
export { WebGPUError, type AdapterReport, type WebGPUBackendOptions } from './device.js';
