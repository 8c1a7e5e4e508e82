// attnode's public API.
export { Tensor, contiguousStrides, type Shape, type TensorOptions } from './tensor/tensor.js';
export { DTYPES, type DType, type TypedArray, byteLength, storageLength, isDType } from './tensor/dtype.js';
export { f32ToF16, f16ToF32, f32ToBf16, bf16ToF32 } from './tensor/half.js';
export { quantizeQ8_0, dequantizeQ8_0, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from './tensor/q8.js';
export * from './backend/index.js';
export { cpuInfo, setThreads, loadAddon, type CpuInfo, type NativeAddon } from './native.js';
export * from './tokenizer/index.js';
