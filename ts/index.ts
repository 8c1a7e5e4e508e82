// attnode's public API.
export { Tensor, contiguousStrides, type Shape, type TensorOptions } from './tensor/tensor.js';
export { DTYPES, type DType, type TypedArray, byteLength, storageLength, isDType } from './tensor/dtype.js';
export { f32ToF16, f16ToF32, f32ToBf16, bf16ToF32 } from './tensor/half.js';
export { quantizeQ8_0, dequantizeQ8_0, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from './tensor/q8.js';
export * from './backend/index.js';
export { cpuInfo, setThreads, loadAddon, type CpuInfo, type NativeAddon } from './native.js';
export { loadModel, DecoderModel, KVCache, type LoadModelOptions, type ForwardOptions } from './models/model.js';
export { inspect, type ParamReport } from './models/params.js';
export { configFromHF, configFromGGUF, type DecoderConfig, type Architecture } from './models/config.js';
export { SafetensorsFile, SafetensorsCheckpoint, type SafetensorsEntry } from './io/safetensors.js';
export { GGUFFile, type GGUFValue, type GGUFTensorInfo } from './io/gguf.js';
export { MappedFile, MappedTensor } from './io/mapped.js';
export { readConfig } from './io/config.js';
