// The Mistral family: Llama's computation (RMSNorm, rotary embeddings, SwiGLU, grouped-query
// attention, the same weight names) with sliding-window attention when config.json sets
// `sliding_window`. Config and graph parts; binders and parameters are Llama's (llama.ts).
// GGUF files of Mistral models say general.architecture 'llama' and load as Llama.

import { int, type DecoderConfig } from '../config.js';
import type { ModelFamily } from './family.js';
import { llama } from './llama.js';

function configFromHF(cfg: Record<string, unknown>): DecoderConfig {
  // Llama's fields and refusals; MistralConfig has no attention or MLP bias fields.
  const base = llama.configFromHF(cfg);
  const w = cfg.sliding_window;
  return { ...base, architecture: 'mistral', ...(w === null || w === undefined ? {} : { slidingWindow: int(cfg, 'sliding_window') }) };
}

export const mistral: ModelFamily = {
  ...llama,
  name: 'mistral',
  hf: { modelTypes: ['mistral'], architectures: ['MistralForCausalLM'] },
  gguf: [],
  configFromHF,
  configFromGGUF: () => {
    throw new RangeError("gguf: Mistral files say general.architecture 'llama' and load with the Llama family");
  },
  graph: {
    ...llama.graph,
    attention: (cfg, positions, layer) => ({ ...llama.graph.attention(cfg, positions, layer), ...(cfg.slidingWindow ? { window: cfg.slidingWindow } : {}) }),
  },
};
