// The Gemma 2 and Gemma 3 (text) families (Hugging Face modeling_gemma2, modeling_gemma3):
// embeddings times sqrt(hidden), RMSNorm by (1 + w) before and after attention and the MLP,
// GeGLU, query scale query_pre_attn_scalar^-0.5, local (sliding) and global layers; Gemma 2 adds
// attention and final logit soft-capping, Gemma 3 per-head q/k norms and a local rope base.
// Config, binders, graph parts and parameters, for Hugging Face directories and llama.cpp GGUF
// files (general.architecture 'gemma2' / 'gemma3'), read as llama.cpp reads them.

import type { GGUFFile } from '../../io/gguf.js';
import { mlpGeGLU } from '../blocks.js';
import { checkHeads, ggufFields, ggufTokenIds, ggufVocab, hfTokenIds, int, num, refuse, type DecoderConfig } from '../config.js';
import { ropeScalingFromHF } from '../rope.js';
import type { Binder } from '../weights.js';
import type { ModelFamily, ParamTensor } from './family.js';
import { llama } from './llama.js';

type Gemma = 'gemma2' | 'gemma3';
const NAME: Record<Gemma, string> = { gemma2: 'Gemma 2', gemma3: 'Gemma 3' };

/** A positive number field, or undefined when absent or null (soft-capping off). */
function optionalNumber(cfg: Record<string, unknown>, key: string): number | undefined {
  const v = cfg[key];
  return v === undefined || v === null ? undefined : num(cfg, key, 1);
}

/**
 * Which layers are local: `layer_types` when given, else Gemma 2's even layers, or Gemma 3's
 * all but every sliding_window_pattern-th.
 */
function layerTypes(cfg: Record<string, unknown>, arch: Gemma, layers: number): ('sliding' | 'full')[] {
  const given = cfg.layer_types;
  if (given !== undefined && given !== null) {
    if (!Array.isArray(given) || given.length !== layers || given.some((t) => t !== 'sliding_attention' && t !== 'full_attention'))
      refuse(NAME[arch], 'layer_types', given, `expected ${layers} entries of 'sliding_attention' or 'full_attention'`);
    return given.map((t) => (t === 'sliding_attention' ? 'sliding' : 'full'));
  }
  if (arch === 'gemma2') return Array.from({ length: layers }, (_, i) => (i % 2 === 0 ? 'sliding' : 'full'));
  const pattern = int(cfg, 'sliding_window_pattern', 6);
  return Array.from({ length: layers }, (_, i) => ((i + 1) % pattern !== 0 ? 'sliding' : 'full'));
}

function configFromHF(cfg: Record<string, unknown>, arch: Gemma): DecoderConfig {
  const family = NAME[arch];
  const act = cfg.hidden_activation ?? cfg.hidden_act ?? 'gelu_pytorch_tanh';
  if (act !== 'gelu_pytorch_tanh' && act !== 'gelu_new') refuse(family, 'hidden_activation', act, 'the MLP is GeGLU with the tanh approximation of gelu');
  if (cfg.attention_bias === true) refuse(family, 'attention_bias', true, 'projections have no bias');
  if (cfg.rope_parameters !== undefined) refuse(family, 'rope_parameters', cfg.rope_parameters, 'read rope_theta, rope_local_base_freq and rope_scaling');
  if (arch === 'gemma3' && cfg.attn_logit_softcapping != null) refuse(family, 'attn_logit_softcapping', cfg.attn_logit_softcapping, 'Gemma 3 has no attention soft-capping');
  if (arch === 'gemma3' && cfg.final_logit_softcapping != null) refuse(family, 'final_logit_softcapping', cfg.final_logit_softcapping, 'Gemma 3 has no final soft-capping');
  const hidden = int(cfg, 'hidden_size');
  const heads = int(cfg, 'num_attention_heads');
  const layers = int(cfg, 'num_hidden_layers');
  const headDim = int(cfg, 'head_dim', 256);
  const ropeTheta = num(cfg, 'rope_theta', arch === 'gemma3' ? 1_000_000 : 10000);
  const ropeScaling = ropeScalingFromHF(cfg, family, ropeTheta, headDim);
  if (ropeScaling?.dynamic || ropeScaling?.invFreqLong) refuse(family, 'rope_scaling', cfg.rope_scaling, 'length-dependent scalings are not implemented for Gemma');
  const types = layerTypes(cfg, arch, layers);
  const attnSoftcap = arch === 'gemma2' ? optionalNumber(cfg, 'attn_logit_softcapping') : undefined;
  const finalSoftcap = arch === 'gemma2' ? optionalNumber(cfg, 'final_logit_softcapping') : undefined;
  const c: DecoderConfig = {
    architecture: arch, vocabSize: int(cfg, 'vocab_size'), hidden, layers, heads, kvHeads: int(cfg, 'num_key_value_heads', heads), headDim,
    ffn: int(cfg, 'intermediate_size'), maxPositions: int(cfg, 'max_position_embeddings'), normEps: num(cfg, 'rms_norm_eps', 1e-6),
    ropeTheta, ropeInterleaved: false, tiedEmbeddings: cfg.tie_word_embeddings !== false,
    layerTypes: types, ...(types.includes('sliding') ? { localWindow: int(cfg, 'sliding_window', 4096) } : {}),
    ...(arch === 'gemma3' ? { ropeLocalTheta: num(cfg, 'rope_local_base_freq', 10000) } : {}),
    // modeling_gemma2: scaling = query_pre_attn_scalar ** -0.5.
    attnScale: num(cfg, 'query_pre_attn_scalar', 256) ** -0.5,
    ...(attnSoftcap !== undefined ? { attnSoftcap } : {}), ...(finalSoftcap !== undefined ? { finalSoftcap } : {}),
    ...(ropeScaling ? { ropeScaling } : {}), ...hfTokenIds(cfg),
  };
  if (headDim % 2 !== 0) throw new RangeError(`config: rotary embeddings need an even head size, got ${headDim}`);
  return checkHeads(c);
}

function parameters(cfg: DecoderConfig): ParamTensor[] {
  const out: ParamTensor[] = [];
  for (const t of llama.parameters(cfg)) {
    out.push(t);
    const l = t.layer;
    if (l === undefined) continue;
    if (t.name.endsWith('.o')) out.push({ name: `l${l}.postAttn.w`, shape: [cfg.hidden], component: 'norms', layer: l });
    if (t.name.endsWith('.down')) out.push({ name: `l${l}.postMlp.w`, shape: [cfg.hidden], component: 'norms', layer: l });
    if (cfg.architecture === 'gemma3' && t.name.endsWith('.v'))
      out.push(
        { name: `l${l}.qnorm.w`, shape: [cfg.headDim], component: 'norms', layer: l },
        { name: `l${l}.knorm.w`, shape: [cfg.headDim], component: 'norms', layer: l },
      );
  }
  return out;
}

function bindHF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V, heads: H, kvHeads: KV, headDim: D } = cfg;
  const lin = (param: string, name: string, n: number, k: number) => {
    const t = b.get(name);
    b.expectShape(name, t, [n, k]);
    b.linear(param, t);
  };
  b.table('embed', 'model.embed_tokens.weight', [V, C]);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `model.layers.${i}.`;
    const l = `l${i}`;
    b.f32PlusOne(`${l}.norm1.w`, `${p}input_layernorm.weight`, [C]);
    lin(`${l}.q`, `${p}self_attn.q_proj.weight`, H * D, C);
    lin(`${l}.k`, `${p}self_attn.k_proj.weight`, KV * D, C);
    lin(`${l}.v`, `${p}self_attn.v_proj.weight`, KV * D, C);
    lin(`${l}.o`, `${p}self_attn.o_proj.weight`, C, H * D);
    if (cfg.architecture === 'gemma3') {
      b.f32PlusOne(`${l}.qnorm.w`, `${p}self_attn.q_norm.weight`, [D]);
      b.f32PlusOne(`${l}.knorm.w`, `${p}self_attn.k_norm.weight`, [D]);
    }
    b.f32PlusOne(`${l}.postAttn.w`, `${p}post_attention_layernorm.weight`, [C]);
    b.f32PlusOne(`${l}.norm2.w`, `${p}pre_feedforward_layernorm.weight`, [C]);
    lin(`${l}.gate`, `${p}mlp.gate_proj.weight`, F, C);
    lin(`${l}.up`, `${p}mlp.up_proj.weight`, F, C);
    lin(`${l}.down`, `${p}mlp.down_proj.weight`, C, F);
    b.f32PlusOne(`${l}.postMlp.w`, `${p}post_feedforward_layernorm.weight`, [C]);
  }
  b.f32PlusOne('final.w', 'model.norm.weight', [C]);
  lin('unembed', cfg.tiedEmbeddings || !b.src.has('lm_head.weight') ? 'model.embed_tokens.weight' : 'lm_head.weight', V, C);
}

const GGUF_KEYS = [
  'context_length', 'embedding_length', 'feed_forward_length', 'block_count', 'attention.head_count', 'attention.head_count_kv',
  'attention.key_length', 'attention.value_length', 'attention.layer_norm_rms_epsilon', 'rope.freq_base', 'attention.sliding_window',
  'attention.sliding_window_pattern', 'attn_logit_softcapping', 'final_logit_softcapping', 'rope.scaling.type', 'rope.scaling.factor', 'vocab_size',
];

/**
 * llama.cpp's reading (llama-model.cpp): its layer pattern (Gemma 2 every other layer, Gemma 3
 * five local of six, the local base 10000 and unscaled), its query scale 1/sqrt(head size) (the
 * 27B shapes, 46 or 62 layers, 1/sqrt(hidden / heads)); query_pre_attn_scalar is not stored.
 */
function configFromGGUF(g: GGUFFile, arch: Gemma): DecoderConfig {
  const md = ggufFields(g, GGUF_KEYS);
  const F = `${arch} GGUF`;
  const hidden = int(md, 'embedding_length');
  const heads = int(md, 'attention.head_count');
  const layers = int(md, 'block_count');
  const headDim = int(md, 'attention.key_length', 256);
  const vl = md['attention.value_length'];
  if (vl !== undefined && vl !== headDim) refuse(F, `${arch}.attention.value_length`, vl, `values must have the key size ${headDim}`);
  const pattern = arch === 'gemma2' ? 2 : int(md, 'attention.sliding_window_pattern', 6);
  const types = Array.from({ length: layers }, (_, i) => (i % pattern < pattern - 1 ? 'sliding' : 'full') as 'sliding' | 'full');
  const ropeTheta = num(md, 'rope.freq_base', 10000);
  const st = md['rope.scaling.type'];
  const factor = md['rope.scaling.factor'];
  let ropeScaling: DecoderConfig['ropeScaling'];
  if (st === 'linear' && typeof factor === 'number' && factor !== 1) ropeScaling = ropeScalingFromHF({ rope_scaling: { rope_type: 'linear', factor } }, F, ropeTheta, headDim);
  else if (st !== undefined && st !== 'none' && st !== 'linear') refuse(F, `${arch}.rope.scaling.type`, st, 'only linear scaling is implemented for Gemma');
  const big = (arch === 'gemma2' && layers === 46) || (arch === 'gemma3' && layers === 62);
  const attnSoftcap = arch === 'gemma2' ? (md.attn_logit_softcapping as number | undefined) : undefined;
  const finalSoftcap = arch === 'gemma2' ? (md.final_logit_softcapping as number | undefined) : undefined;
  return checkHeads({
    architecture: arch, vocabSize: ggufVocab(g, md), hidden, layers, heads, kvHeads: int(md, 'attention.head_count_kv', heads), headDim,
    ffn: int(md, 'feed_forward_length'), maxPositions: int(md, 'context_length'), normEps: num(md, 'attention.layer_norm_rms_epsilon', 1e-6),
    ropeTheta, ropeInterleaved: false, tiedEmbeddings: !g.tensors.has('output.weight'),
    layerTypes: types, localWindow: int(md, 'attention.sliding_window', 4096), ...(arch === 'gemma3' ? { ropeLocalTheta: 10000 } : {}),
    attnScale: 1 / Math.sqrt(big ? hidden / heads : headDim),
    ...(attnSoftcap ? { attnSoftcap } : {}), ...(finalSoftcap ? { finalSoftcap } : {}), ...(ropeScaling ? { ropeScaling } : {}), ...ggufTokenIds(g),
  });
}

/** llama.cpp's tensor names; the converter stored the norms as 1 + w already. */
function bindGGUF(b: Binder, cfg: DecoderConfig): void {
  const { hidden: C, ffn: F, vocabSize: V, heads: H, kvHeads: KV, headDim: D } = cfg;
  const lin = (param: string, name: string, n: number, k: number) => {
    const t = b.get(name);
    b.expectShape(name, t, [n, k]);
    b.linear(param, t);
  };
  b.table('embed', 'token_embd.weight', [V, C]);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `blk.${i}.`;
    const l = `l${i}`;
    b.f32(`${l}.norm1.w`, `${p}attn_norm.weight`, [C]);
    lin(`${l}.q`, `${p}attn_q.weight`, H * D, C);
    lin(`${l}.k`, `${p}attn_k.weight`, KV * D, C);
    lin(`${l}.v`, `${p}attn_v.weight`, KV * D, C);
    lin(`${l}.o`, `${p}attn_output.weight`, C, H * D);
    if (cfg.architecture === 'gemma3') {
      b.f32(`${l}.qnorm.w`, `${p}attn_q_norm.weight`, [D]);
      b.f32(`${l}.knorm.w`, `${p}attn_k_norm.weight`, [D]);
    }
    b.f32(`${l}.postAttn.w`, `${p}post_attention_norm.weight`, [C]);
    b.f32(`${l}.norm2.w`, `${p}ffn_norm.weight`, [C]);
    lin(`${l}.gate`, `${p}ffn_gate.weight`, F, C);
    lin(`${l}.up`, `${p}ffn_up.weight`, F, C);
    lin(`${l}.down`, `${p}ffn_down.weight`, C, F);
    b.f32(`${l}.postMlp.w`, `${p}post_ffw_norm.weight`, [C]);
  }
  b.f32('final.w', 'output_norm.weight', [C]);
  lin('unembed', b.src.has('output.weight') ? 'output.weight' : 'token_embd.weight', V, C);
}

function family(arch: Gemma, architectures: string[], modelTypes: string[]): ModelFamily {
  return {
    name: arch,
    hf: { modelTypes, architectures },
    gguf: [arch],
    configFromHF: (cfg) => configFromHF(cfg, arch),
    configFromGGUF: (g) => configFromGGUF(g, arch),
    bindHF,
    bindGGUF,
    graph: {
      norm: 'rmsNorm',
      attention: (cfg, positions, layer) => {
        const local = cfg.layerTypes?.[layer] === 'sliding';
        // Gemma 3's local layers rotate with their own base and no scaling; Gemma 2's share one rotation.
        const ownBase = local && cfg.ropeLocalTheta !== undefined;
        return {
          bias: false,
          rope: { positions, theta: ownBase ? cfg.ropeLocalTheta! : cfg.ropeTheta, interleaved: false, scaling: ownBase ? undefined : cfg.ropeScaling },
          ...(local ? { window: cfg.localWindow } : {}),
          ...(cfg.attnScale !== undefined ? { scale: cfg.attnScale } : {}),
          ...(cfg.attnSoftcap !== undefined ? { softcap: cfg.attnSoftcap } : {}),
          ...(cfg.architecture === 'gemma3' ? { qkNorm: cfg.normEps } : {}),
        };
      },
      mlp: mlpGeGLU,
      // modeling_gemma2: hidden * torch.tensor(hidden_size ** 0.5, dtype=hidden.dtype).
      embedScale: (cfg) => Math.fround(Math.sqrt(cfg.hidden)),
      postNorms: true,
      finalSoftcap: (cfg) => cfg.finalSoftcap,
    },
    parameters,
  };
}

export const gemma2 = family('gemma2', ['Gemma2ForCausalLM'], ['gemma2']);
export const gemma3 = family('gemma3', ['Gemma3ForCausalLM'], ['gemma3_text']);
