// BERT from a GGUF file as llama.cpp's convert_hf_to_gguf.py writes it (general.architecture
// 'bert'): its EncoderConfig from the bert.* keys and the binding of llama.cpp's tensor names
// (token_embd, token_types, blk.N.attn_q, ...). Not the HF reader (bert.ts) nor the tokenizer.

import type { GGUFFile } from '../../io/gguf.js';
import { ggufFields, ggufVocab, int, num, refuse } from '../config.js';
import { encoderBinding } from '../encoder-graph.js';
import type { Binder } from '../weights.js';
import type { EncoderConfig, EncoderPooling } from './encoder-config.js';

/** GGUF general.architecture values loaded as encoders. */
export const ENCODER_GGUF_ARCHITECTURES: readonly string[] = ['bert'];

const KEYS = ['context_length', 'embedding_length', 'feed_forward_length', 'block_count', 'attention.head_count', 'attention.layer_norm_epsilon', 'attention.causal', 'pooling_type'];
const POOLING: readonly EncoderPooling[] = ['none', 'mean', 'cls', 'last', 'rank'];

/**
 * EncoderConfig of a GGUF BERT. llama.cpp drops the pooler and keeps no head, so the model is the
 * bare encoder (task 'none', no pooled output); its activation is erf gelu, as llama.cpp assumes.
 */
export function bertConfigFromGGUF(g: GGUFFile): EncoderConfig {
  const md = ggufFields(g, KEYS);
  if (md['attention.causal'] !== undefined && md['attention.causal'] !== false) refuse('bert', 'bert.attention.causal', md['attention.causal'], 'the encoder attends both ways');
  const hidden = int(md, 'embedding_length');
  const heads = int(md, 'attention.head_count');
  if (hidden % heads !== 0) throw new RangeError(`gguf: 'bert.embedding_length' ${hidden} is not a multiple of 'bert.attention.head_count' ${heads}`);
  const types = g.tensors.get('token_types.weight');
  const maxPositions = int(md, 'context_length');
  const pt = md.pooling_type;
  if (pt !== undefined && !(typeof pt === 'number' && Number.isInteger(pt) && pt >= 0 && pt < POOLING.length))
    refuse('bert', 'bert.pooling_type', pt, `one of 0..${POOLING.length - 1} (${POOLING.join(', ')})`);
  return {
    architecture: 'bert',
    hfArchitecture: 'BertModel',
    task: 'none',
    vocabSize: ggufVocab(g, md),
    hidden,
    layers: int(md, 'block_count'),
    heads,
    headDim: hidden / heads,
    ffn: int(md, 'feed_forward_length', 4 * hidden),
    maxPositions,
    maxSequence: maxPositions,
    positions: 'index',
    typeVocabSize: types ? int({ rows: types.shape[0] }, 'rows') : 2,
    normEps: num(md, 'attention.layer_norm_epsilon', 1e-12),
    activation: 'gelu',
    mlmActivation: 'gelu',
    sequenceHead: 'pooler',
    numLabels: 2,
    tiedEmbeddings: true,
    ...(typeof pt === 'number' ? { pooling: POOLING[pt]! } : {}),
  };
}

/** Binds llama.cpp's BERT tensor names to the canonical names of the shared encoder graph. */
export function bindBertGGUF(b: Binder, cfg: EncoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  const { ln, linear } = encoderBinding(b, C);
  b.table('embed', 'token_embd.weight', [V, C]);
  b.table('embed.pos', 'position_embd.weight', [cfg.maxPositions, C]);
  b.table('embed.type', 'token_types.weight', [cfg.typeVocabSize, C]);
  ln('embed.norm', 'token_embd_norm');
  for (let i = 0; i < cfg.layers; i++) {
    const p = `blk.${i}.`;
    linear(`l${i}.q`, `${p}attn_q`, [C, C]);
    linear(`l${i}.k`, `${p}attn_k`, [C, C]);
    linear(`l${i}.v`, `${p}attn_v`, [C, C]);
    linear(`l${i}.o`, `${p}attn_output`, [C, C]);
    ln(`l${i}.norm1`, `${p}attn_output_norm`);
    linear(`l${i}.up`, `${p}ffn_up`, [F, C]);
    linear(`l${i}.down`, `${p}ffn_down`, [C, F]);
    ln(`l${i}.norm2`, `${p}layer_output_norm`);
  }
}
