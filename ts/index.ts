// attnode's public API.
export { Tensor, contiguousStrides, type Shape, type TensorOptions } from './tensor/tensor.js';
export { DTYPES, type DType, type TypedArray, byteLength, storageLength, isDType } from './tensor/dtype.js';
export { f32ToF16, f16ToF32, f32ToBf16, bf16ToF32 } from './tensor/half.js';
export { quantizeQ8_0, dequantizeQ8_0, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from './tensor/q8.js';
export * from './backend/index.js';
export { cpuInfo, cudaInfo, setThreads, loadAddon, type CpuInfo, type CudaInfo, type NativeAddon } from './native.js';
export * from './generate/index.js';
export { PRESETS, type Preset } from './models/presets.js';
export { loadModel, DecoderModel, KVCache, type LoadModelOptions, type ModelKindOption, type ForwardOptions, type Model } from './models/model.js';
export { loadSeq2Seq, EncoderDecoderModel, EncoderState, Seq2SeqCache, type Seq2SeqLoadOptions, type Seq2SeqCounters, type Seq2SeqForwardOptions, type Seq2SeqBatchItem } from './models/seq2seq.js';
export { SEQ2SEQ_FAMILIES, SEQ2SEQ_MODEL_TYPES, type Seq2SeqConfig, type Seq2SeqFamily, type Seq2SeqParts, type Seq2SeqArchitecture } from './models/families/seq2seq.js';
export type { WeightFallback } from './models/weights.js';
export { loadEncoder, EncoderModel, type LoadEncoderOptions, type EncodeOptions, type EncoderOutput, type EncoderConfig, type EncoderTask, type EncoderArchitecture, type EncoderPooling, type ProblemType, type BertArchitecture, ENCODER_MODEL_TYPES, ENCODER_GGUF_ARCHITECTURES } from './models/encoder.js';
export * from './encoder/index.js';
export type { KVDType } from './graph/ir.js';
export { countParameters, inspect, matrixAccounting, parameterTable, totalParameters, kvCacheBytes, BYTES_PER_PARAM, type MatrixAccounting, type ParamReport, type ParamRow } from './models/params.js';
export type { DecoderConfig, Architecture } from './models/config.js';
export {
  FAMILIES, configFromHF, configFromGGUF, decoderGraph, family, familyOfHF, familyOfGGUF, supportedArchitectures, type ModelFamily, type ParamTensor, type ParamComponent,
} from './models/families/index.js';
export { SafetensorsFile, SafetensorsCheckpoint, type SafetensorsEntry } from './io/safetensors.js';
export { GGUFFile, type GGUFValue, type GGUFTensorInfo } from './io/gguf.js';
export { MappedFile, MappedTensor } from './io/mapped.js';
export { readConfig } from './io/config.js';
export * from './tokenizer/index.js';
export { createPool, InferencePool, MAX_TIMEOUT_MS, type PoolOptions, type RequestOptions, type ChatRequestOptions, type PoolResult, type StreamChunk } from './scheduler/pool.js';
export { QueueFullError, PoolClosedError, WorkerCrashedError, RequestTimeoutError } from './scheduler/errors.js';
export { ModelFileChangedError } from './io/files.js';
export type { PoolMetrics } from './scheduler/metrics.js';
export {
  RequestAbortedError, type ModelInfo, type ModelKind, type EmbedInput, type PoolEmbedOptions, type PoolRerankOptions, type PoolClassifyOptions, type EncoderRequestOptions,
  type EmbedResult, type RerankPoolResult, type ClassifyPoolResult,
} from './scheduler/encoder-requests.js';
