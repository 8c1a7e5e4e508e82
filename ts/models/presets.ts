// Well-known configurations for `attnode inspect --config`, written as the config.json each
// model ships and read through its family, so they are counted by the one counter (params.ts).
// Not checkpoints: no weights exist for them here.

import type { DecoderConfig } from './config.js';
import { configFromHF } from './families/index.js';

export interface Preset extends DecoderConfig {
  /** What inspect prints as the model's name. */
  readonly title: string;
}

const preset = (title: string, hf: Record<string, unknown>): Preset => ({ title, ...configFromHF(hf) });

export const PRESETS: Readonly<Record<string, Preset>> = {
  'gpt2': preset('GPT-2 small (124M)', { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 }),
  'gpt2-xl': preset('GPT-2 XL (1.5B)', { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 1600, n_layer: 48, n_head: 25 }),
  // Brown et al. 2020, Table 2.1: n_layers 96, d_model 12288, n_heads 96, d_head 128, n_ctx 2048.
  // GPT-3's alternating sparse attention has no parameters of its own, so GPT-2's layout counts it.
  'gpt3-175b': preset('GPT-3 175B', { model_type: 'gpt2', vocab_size: 50257, n_positions: 2048, n_embd: 12288, n_layer: 96, n_head: 96 }),
  'llama2-7b': preset('Llama 2 7B', {
    model_type: 'llama', vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 32, max_position_embeddings: 4096, tie_word_embeddings: false,
  }),
};
