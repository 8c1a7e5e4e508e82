// The GPT-2 family: learned positions, LayerNorm, GELU (tanh), fused QKV in the files, tied
// unembedding. Config from config.json and GGUF, binders for Hugging Face checkpoints (Conv1D
// weights stored [in, out]) and llama.cpp GGUF files ([out, in]), graph parts, parameter list.
// Not the shared blocks (../blocks.ts) nor the family table (index.ts).

import type { GGUFFile } from '../../io/gguf.js';
import { mlpGelu } from '../blocks.js';
import { checkHeads, ggufFields, ggufTokenIds, ggufVocab, hfTokenIds, int, num, refuse, type DecoderConfig } from '../config.js';
import { Binder } from '../weights.js';
import type { ModelFamily, ParamTensor } from './family.js';

function check(c: DecoderConfig): DecoderConfig {
  if (!Number.isInteger(c.headDim) || c.hidden !== c.heads * c.headDim) throw new RangeError(`config: hidden size ${c.hidden} is not heads (${c.heads}) x head size`);
  return checkHeads(c);
}

/** config.json fields of GPT2Config that change the computation; refused unless at the value implemented. */
function refuseUnimplemented(cfg: Record<string, unknown>): void {
  const act = cfg.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') refuse('GPT-2', 'activation_function', act, 'gelu_new and gelu_pytorch_tanh are');
  if (cfg.scale_attn_weights === false) refuse('GPT-2', 'scale_attn_weights', false, 'attention always scales by 1/sqrt(head size)');
  if (cfg.scale_attn_by_inverse_layer_idx === true) refuse('GPT-2', 'scale_attn_by_inverse_layer_idx', true, 'no per-layer attention scale is implemented');
  if (cfg.add_cross_attention === true) refuse('GPT-2', 'add_cross_attention', true, 'decoder-only: no cross-attention');
  if (cfg.tie_word_embeddings === false) refuse('GPT-2', 'tie_word_embeddings', false, 'the unembedding is always the token embedding');
}

function configFromHF(cfg: Record<string, unknown>): DecoderConfig {
  refuseUnimplemented(cfg);
  const hidden = int(cfg, 'n_embd');
  const heads = int(cfg, 'n_head');
  return check({
    architecture: 'gpt2', vocabSize: int(cfg, 'vocab_size'), hidden, layers: int(cfg, 'n_layer'), heads, kvHeads: heads,
    headDim: hidden / heads, ffn: cfg.n_inner == null ? 4 * hidden : int(cfg, 'n_inner'), maxPositions: int(cfg, 'n_positions'),
    normEps: num(cfg, 'layer_norm_epsilon', 1e-5), ropeTheta: 0, ropeInterleaved: false, tiedEmbeddings: true,
    ...hfTokenIds(cfg),
  });
}

const GGUF_KEYS = ['context_length', 'embedding_length', 'feed_forward_length', 'block_count', 'attention.head_count', 'attention.layer_norm_epsilon', 'vocab_size'];

function configFromGGUF(g: GGUFFile): DecoderConfig {
  const md = ggufFields(g, GGUF_KEYS);
  const hidden = int(md, 'embedding_length');
  const heads = int(md, 'attention.head_count');
  return check({
    architecture: 'gpt2', vocabSize: ggufVocab(g, md), hidden, layers: int(md, 'block_count'), heads, kvHeads: heads, headDim: hidden / heads,
    ffn: int(md, 'feed_forward_length', 4 * hidden), maxPositions: int(md, 'context_length'), normEps: num(md, 'attention.layer_norm_epsilon', 1e-5),
    ropeTheta: 0, ropeInterleaved: false, tiedEmbeddings: !g.tensors.has('output.weight'), ...ggufTokenIds(g),
  });
}

/** Every parameter of the graph: C = hidden, F = ffn, V = vocab, P = positions. */
function parameters(cfg: DecoderConfig): ParamTensor[] {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  const out: ParamTensor[] = [
    { name: 'embed', shape: [V, C], component: 'embedding' }, // (V, C)
    { name: 'positions', shape: [cfg.maxPositions, C], component: 'positions' }, // (P, C)
  ];
  for (let layer = 0; layer < cfg.layers; layer++) {
    const l = `l${layer}`;
    const add = (name: string, shape: number[], component: ParamTensor['component']) => out.push({ name: `${l}.${name}`, shape, component, layer });
    add('norm1.w', [C], 'norms');
    add('norm1.b', [C], 'norms');
    for (const n of ['q', 'k', 'v'] as const) {
      add(n, [C, C], `attention.${n}`); // (C, C)
      add(`${n}.b`, [C], `attention.${n}`);
    }
    add('o', [C, C], 'attention.o');
    add('o.b', [C], 'attention.o');
    add('norm2.w', [C], 'norms');
    add('norm2.b', [C], 'norms');
    add('up', [F, C], 'mlp.up'); // (F, C)
    add('up.b', [F], 'mlp.up');
    add('down', [C, F], 'mlp.down'); // (C, F)
    add('down.b', [C], 'mlp.down');
  }
  out.push({ name: 'final.w', shape: [C], component: 'final.norm' }, { name: 'final.b', shape: [C], component: 'final.norm' });
  out.push({ name: 'unembed', shape: [V, C], component: 'unembedding', ...(cfg.tiedEmbeddings ? { tiedTo: 'embed' } : {}) });
  return out;
}

/** Hugging Face names, with or without the 'transformer.' prefix of GPT2LMHeadModel. */
function bindHF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  const pre = b.src.has('transformer.wte.weight') ? 'transformer.' : '';
  b.table('embed', `${pre}wte.weight`, [V, C]);
  b.table('positions', `${pre}wpe.weight`, [cfg.maxPositions, C]);
  // Conv1D: y = x W + b with W (in, out); the backend packs it as (out, in) by strides.
  for (let i = 0; i < cfg.layers; i++) {
    const p = `${pre}h.${i}.`;
    const l = `l${i}`;
    b.f32(`${l}.norm1.w`, `${p}ln_1.weight`, [C]);
    b.f32(`${l}.norm1.b`, `${p}ln_1.bias`, [C]);
    const qkvBias = b.get(`${p}attn.c_attn.bias`).load().to('f32');
    b.expectShape(`${p}attn.c_attn.bias`, qkvBias, [3 * C]);
    (['q', 'k', 'v'] as const).forEach((n, j) => {
      b.conv1d(`${l}.${n}`, `${p}attn.c_attn.weight`, [C, 3 * C], [j * C, (j + 1) * C]);
      b.params.set(`${l}.${n}.b`, qkvBias.slice(0, j * C, (j + 1) * C).contiguous());
    });
    b.conv1d(`${l}.o`, `${p}attn.c_proj.weight`, [C, C]);
    b.f32(`${l}.o.b`, `${p}attn.c_proj.bias`, [C]);
    b.f32(`${l}.norm2.w`, `${p}ln_2.weight`, [C]);
    b.f32(`${l}.norm2.b`, `${p}ln_2.bias`, [C]);
    b.conv1d(`${l}.up`, `${p}mlp.c_fc.weight`, [C, F]);
    b.f32(`${l}.up.b`, `${p}mlp.c_fc.bias`, [F]);
    b.conv1d(`${l}.down`, `${p}mlp.c_proj.weight`, [F, C]);
    b.f32(`${l}.down.b`, `${p}mlp.c_proj.bias`, [C]);
  }
  b.f32('final.w', `${pre}ln_f.weight`, [C]);
  b.f32('final.b', `${pre}ln_f.bias`, [C]);
  b.linear('unembed', b.get(`${pre}wte.weight`));
}

/** llama.cpp's GPT-2 GGUF names: blk.N.attn_qkv (3C, C), token_embd, position_embd, output_norm. */
function bindGGUF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V } = cfg;
  b.table('embed', 'token_embd.weight', [V, C]);
  b.table('positions', 'position_embd.weight', [cfg.maxPositions, C]);
  const lin = (param: string, name: string, n: number, k: number) => {
    const t = b.get(name);
    b.expectShape(name, t, [n, k]);
    b.linear(param, t);
  };
  for (let i = 0; i < cfg.layers; i++) {
    const p = `blk.${i}.`;
    const l = `l${i}`;
    b.f32(`${l}.norm1.w`, `${p}attn_norm.weight`, [C]);
    b.f32(`${l}.norm1.b`, `${p}attn_norm.bias`, [C]);
    const qkv = b.get(`${p}attn_qkv.weight`);
    b.expectShape(`${p}attn_qkv.weight`, qkv, [3 * C, C]);
    const qkvBias = b.get(`${p}attn_qkv.bias`).load().to('f32');
    (['q', 'k', 'v'] as const).forEach((n, j) => {
      b.linear(`${l}.${n}`, Binder.rows(qkv, j * C, (j + 1) * C));
      b.params.set(`${l}.${n}.b`, qkvBias.slice(0, j * C, (j + 1) * C).contiguous());
    });
    lin(`${l}.o`, `${p}attn_output.weight`, C, C);
    b.f32(`${l}.o.b`, `${p}attn_output.bias`, [C]);
    b.f32(`${l}.norm2.w`, `${p}ffn_norm.weight`, [C]);
    b.f32(`${l}.norm2.b`, `${p}ffn_norm.bias`, [C]);
    lin(`${l}.up`, `${p}ffn_up.weight`, F, C);
    b.f32(`${l}.up.b`, `${p}ffn_up.bias`, [F]);
    lin(`${l}.down`, `${p}ffn_down.weight`, C, F);
    b.f32(`${l}.down.b`, `${p}ffn_down.bias`, [C]);
  }
  b.f32('final.w', 'output_norm.weight', [C]);
  b.f32('final.b', 'output_norm.bias', [C]);
  b.linear('unembed', b.get(b.src.has('output.weight') ? 'output.weight' : 'token_embd.weight'));
}

export const gpt2: ModelFamily = {
  name: 'gpt2',
  hf: { modelTypes: ['gpt2'], architectures: ['GPT2LMHeadModel'] },
  gguf: ['gpt2'],
  configFromHF,
  configFromGGUF,
  bindHF,
  bindGGUF,
  graph: {
    norm: 'layerNorm',
    // x + wpe[positions]
    addPositions: (g, cfg, x, positions) =>
      g.op('add', { a: x, b: g.op('embedding', { table: g.param('positions'), ids: positions }, ['T', cfg.hidden], 'positions') }, ['T', cfg.hidden], 'embed.sum'),
    attention: () => ({ bias: true }),
    mlp: mlpGelu,
  },
  parameters,
};
