// Public surface of the tokenizer package: the Tokenizer and its constructors.
// Not the components (normalizers, models ...), which stay internal.
export { Tokenizer, type EncodeOptions, type EncodeResult, type DecodeOptions } from './tokenizer.js';
export type { TruncationOptions, TruncationStrategy } from './truncation.js';
export { StreamDecoder } from './stream.js';
export { TokenizerFormatError } from './json.js';
export type { Encoding } from './postprocessors.js';
export { GGUF_TOKEN_TYPE, ggufMetadataFromTokenizer, tokenizerFromGGUF, type GGUFMetadata } from './gguf.js';
export { tokenizerFromGPT2, parseMergesText } from './gpt2.js';
export { tokenizerFromJSON } from './load.js';
export { tokenizerFromSentencePiece, type SentencePieceOptions } from './spm.js';
export { tokenizerFromMarian, type MarianFiles } from './marian.js';
