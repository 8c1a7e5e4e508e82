// Parameter accounting from a config alone (no weights): counts per component, as PyTorch's
// sum(p.numel() for p in model.parameters()) reports them (tied weights counted once), and the
// memory they take per weight dtype.

import { configFromHF, type DecoderConfig } from './config.js';
import { WEIGHT_FORMATS, bytesPerValue } from '../tensor/formats.js';

export interface ParamReport {
  architecture: string;
  /** Parameters per component, summed over layers. */
  components: Record<string, number>;
  total: number;
  /** Bytes of all parameters stored as each dtype (q8_0: 34 bytes per 32 values). */
  bytes: { f32: number; f16: number; bf16: number; q8_0: number };
}

/** Accepts a Hugging Face config.json object or a DecoderConfig. */
export function inspect(config: DecoderConfig | Record<string, unknown>): ParamReport {
  const c = 'architecture' in config && 'hidden' in config ? (config as DecoderConfig) : configFromHF(config as Record<string, unknown>);
  const { hidden: C, layers: L, heads: H, kvHeads: KV, headDim: D, ffn: F, vocabSize: V } = c;
  const gpt2 = c.architecture === 'gpt2';
  const bias = (n: number) => (gpt2 ? n : 0);
  const comp: Record<string, number> = {
    embedding: V * C,
    positions: gpt2 ? c.maxPositions * C : 0,
    'attention.q': L * (C * H * D + bias(H * D)),
    'attention.k': L * (C * KV * D + bias(KV * D)),
    'attention.v': L * (C * KV * D + bias(KV * D)),
    'attention.o': L * (H * D * C + bias(C)),
    'mlp.up': L * (C * F + bias(F)),
    'mlp.gate': gpt2 ? 0 : L * C * F,
    'mlp.down': L * (F * C + bias(C)),
    // GPT-2 LayerNorms have weight and bias; Llama RMSNorms a weight only. Two per layer + final.
    norms: (2 * L + 1) * C * (gpt2 ? 2 : 1),
    unembedding: c.tiedEmbeddings ? 0 : V * C,
  };
  for (const k of Object.keys(comp)) if (comp[k] === 0 && k !== 'unembedding') delete comp[k];
  const total = Object.values(comp).reduce((a, b) => a + b, 0);
  return { architecture: c.architecture, components: comp, total, bytes: { f32: total * bytesPerValue('f32'), f16: total * bytesPerValue('f16'), bf16: total * bytesPerValue('bf16'), q8_0: Math.ceil(total / WEIGHT_FORMATS.q8_0.blockSize) * WEIGHT_FORMATS.q8_0.blockBytes } };
}
