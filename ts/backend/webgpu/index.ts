// The WebGPU backend's public surface: ops as WGSL kernels on dawn.node (npm `webgpu`, optional).
// Not loaded by the package root: importing this module does not import `webgpu` until
// createWebGPUBackend() runs.
//
//   const gpu = await createWebGPUBackend();
//   const w = gpu.packWeight(weightTensor);                 // W (N, K): f32, f16, bf16, i8 + scales, q8_0
//   const x = gpu.upload(hidden);                           // (T, K) f32 on the device
//   const h = gpu.record('linear', { x, weight: w, activation: 'gelu' });   // recorded, not submitted
//   const y = gpu.record('layerNorm', { x: h, weight: g, bias: b });
//   h.dispose();                                            // buffer back to the pool
//   const out = await gpu.read(y);                          // one submit, one read-back
//
// gpu.run(op, args) is the one-op form of the Backend contract (upload, kernel, read-back);
// gpu.runBatch(ops, io) runs a planned pass over host tensors in one command buffer, keeping
// device copies of them between passes, and over rows of sequence state that lives in device
// pages (gpu.createStatePool): what loadModel(path, { backend: gpu }) uses.
export { WebGPUBackend, createWebGPUBackend, type GpuOpArgs } from './backend.js';
export { GPUTensor } from './buffers.js';
export { WebGPUWeight } from './weight.js';
export { WebGPUError, type AdapterReport, type WebGPUBackendOptions } from './device.js';
