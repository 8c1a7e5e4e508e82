// The GPT-2 byte-level BPE tokenizer for GGUF files whose embedded vocabulary is GPT-2's, via
// js-tiktoken's r50k_base (byte-identical to GPT-2). Not a general GGUF tokenizer: other
// vocabularies are refused with a clear error until the tokenizer line's Tokenizer.fromGGUF lands.

import { getEncoding, type Tiktoken } from 'js-tiktoken';
import type { TextTokenizer } from './generate.js';
import type { GGUFFile } from './gguf.js';

// A few ids whose strings identify GPT-2's vocabulary (byte-level: 'Ġ' is a leading space).
const GPT2_PROBES: readonly [number, string][] = [[0, '!'], [262, 'Ġthe'], [464, 'The'], [50256, '<|endoftext|>']];

export class Gpt2Tokenizer implements TextTokenizer {
  private readonly enc: Tiktoken = getEncoding('r50k_base');
  readonly vocabSize = 50257;

  /** Checks that a GGUF file embeds the GPT-2 vocabulary, then returns the tokenizer. */
  static fromGGUF(f: GGUFFile): Gpt2Tokenizer {
    const model = f.metadata.get('tokenizer.ggml.model');
    const tokens = f.metadata.get('tokenizer.ggml.tokens');
    if (model !== 'gpt2' || !Array.isArray(tokens) || tokens.length !== 50257 || GPT2_PROBES.some(([i, s]) => tokens[i] !== s))
      throw new RangeError(`GGUF tokenizer is not GPT-2's byte-level BPE (tokenizer.ggml.model = '${String(model)}', ${Array.isArray(tokens) ? tokens.length : 0} tokens)`);
    return new Gpt2Tokenizer();
  }

  /** Special tokens written in the text (e.g. <|endoftext|>) become their ids. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TypeError("encode: 'text' must be a string");
    return this.enc.encode(text, 'all');
  }

  /** Bytes of an unfinished UTF-8 character decode to U+FFFD until the rest arrives. */
  decode(ids: readonly number[]): string {
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`decode: ids must be in [0, ${this.vocabSize}), got ${String(id)}`);
    return this.enc.decode([...ids]);
  }
}
