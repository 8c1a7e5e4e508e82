// Text generation: logits processors, the per-request RNG, the loop, and the default model.
export * from './processors.js';
export * from './sampler.js';
export { Rng, randomSeed } from './rng.js';
export * from './generate.js';
export { GeneratedText } from './text.js';
export { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';
export { readGGUF, type GGUFFile, type GGUFTensorInfo, type GGUFValue } from './gguf.js';
export { Gpt2Model, GPT2_DTYPES, type Gpt2Config, type Gpt2DType } from './gpt2.js';
export { Gpt2Tokenizer } from './tokenizer.js';
export { LanguageModel, defaultModelPath, readGenerationConfigEos, BACKENDS, type BackendName, type LoadOptions } from './model.js';
