// Text generation: logits processors, the per-request RNG, the loop, and the default model.
export {
  Temperature, TopK, TopP, MinP, TypicalP, RepetitionPenalty, PresenceFrequencyPenalty, LogitBias, BadWords, ForcedTokens,
  NoRepeatNGram, MinNewTokens, ProcessorChain, type LogitsProcessor, type ProcessContext,
} from './processors.js';
export { buildProcessors, sampleNext, sampleNextAsync, type SampledToken } from './sampler.js';
export {
  validateGenerateOptions, GENERATE_OPTION_NAMES, type GenerateOptions, type SamplingOptions, type CheckedGenerateOptions, type WireGenerateOptions,
  type ValidateContext,
} from './options.js';
export { Rng, randomSeed } from './rng.js';
export {
  generate, generateTokens, stream, type CausalLM, type KVCache as RequestCache, type TextTokenizer, type GenerationResult,
  type GenerationChunk, type GenerationStream, type GenerationTimings, type FinishReason,
} from './generate.js';
export { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';
export { DecoderLM, DEFAULT_MAX_BATCH_TOKENS, type DecoderLMOptions, type BatchStats } from './decoder-lm.js';
export { LanguageModel, defaultModelPath, readGenerationConfigEos, BACKENDS, DTYPES as MODEL_DTYPES, type BackendName, type LoadOptions } from './model.js';
export { beamSearch, beamSettings, DEFAULT_BEAM_MAX_TOKENS, type BeamStepper, type BeamSearchResult, type ScoredSequence } from './beam-search.js';
export { BeamHypotheses, topCandidates, processCandidates, type EarlyStopping, type Hypothesis, type Candidate, type StepChoice } from './beam-scorer.js';
export { DecoderModelBeams, PagedBeams, CausalLMBeams, isBeamCausalLM, type BeamCausalLM, type BeamCache, type PagedBeamModel } from './beam-steppers.js';
export type { TextSequence } from './beam-text.js';
