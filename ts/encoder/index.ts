// Public surface of the text-level encoder tasks: the Encoder facade, its option and result
// types, and cosine similarity. Not the low-level EncoderModel (models/encoder.ts).
export {
  Encoder, type EncoderLoadOptions, type EmbedOptions, type RerankOptions, type RerankResult, type ClassifyOptions, type ClassifyFunction, type LabelScore,
  type ForwardTextOptions, type TextOutput,
} from './encoder.js';
export type { PoolingMode, SentenceRecipe } from './files.js';
export type { Aggregation, TokenClassifyOptions, TokenEntity } from './token-classify.js';
export type { FillMaskOptions, FillMaskResult } from './fill-mask.js';
export { cosineSimilarity } from './math.js';
