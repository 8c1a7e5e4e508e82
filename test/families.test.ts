// The model-family table: which family a config.json or GGUF file names, the config fields each
// family refuses rather than ignores, and the parameter list that the counter sums and the
// binders are checked against.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GGUFFile } from '../ts/io/gguf.js';
import { SafetensorsCheckpoint } from '../ts/io/safetensors.js';
import { configFromGGUF, configFromHF, family, familyOfHF, FAMILIES, supportedArchitectures } from '../ts/models/families/index.js';
import { loadModel } from '../ts/models/model.js';
import { countParameters } from '../ts/models/params.js';
import { PRESETS } from '../ts/models/presets.js';
import { Binder } from '../ts/models/weights.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { f32Bytes, ggufBytes, type GgufKV } from './helpers/checkpoint-writers.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const TMP = mkdtempSync(join(tmpdir(), 'attnode-families-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const GPT2 = JSON.parse(readFileSync(join(FIX, 'gpt2-tiny', 'config.json'), 'utf8')) as Record<string, unknown>;
const LLAMA = JSON.parse(readFileSync(join(FIX, 'llama-tiny', 'config.json'), 'utf8')) as Record<string, unknown>;

// GGUF metadata value types (the GGUF spec's gguf_metadata_value_type).
const U32 = 4;
const F32 = 6;
const STR = 8;

/** A GGUF file holding only metadata (and one tensor, token_embd, plus any f32 vectors given), opened. */
function gguf(name: string, kv: Record<string, GgufKV>, vectors: Record<string, number[]> = {}): GGUFFile {
  const p = join(TMP, name);
  const extra = Object.fromEntries(Object.entries(vectors).map(([n, v]) => [n, { shape: [v.length], type: 0, bytes: f32Bytes(v) }]));
  writeFileSync(p, ggufBytes(kv, { 'token_embd.weight': { shape: [4, 8], type: 0, bytes: f32Bytes(new Array<number>(32).fill(0)) }, ...extra }));
  return new GGUFFile(p);
}

const LLAMA_GGUF: Record<string, GgufKV> = {
  'general.architecture': [STR, 'llama'], 'llama.context_length': [U32, 16], 'llama.embedding_length': [U32, 8], 'llama.feed_forward_length': [U32, 16],
  'llama.block_count': [U32, 1], 'llama.attention.head_count': [U32, 2], 'llama.rope.dimension_count': [U32, 4],
};

describe('family table', () => {
  it('lists the supported names of each format', () => {
    expect(supportedArchitectures()).toEqual({
      families: ['gpt2', 'llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'], hfModelTypes: ['gpt2', 'llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3_text'],
      hfArchitectures: ['GPT2LMHeadModel', 'LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'Phi3ForCausalLM', 'Gemma2ForCausalLM', 'Gemma3ForCausalLM'], gguf: ['gpt2', 'llama', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'],
    });
    for (const [name, f] of Object.entries(FAMILIES)) expect(f.name).toBe(name);
  });

  it('Qwen refuses what it does not implement, naming the field', () => {
    const q = JSON.parse(readFileSync(join(FIX, 'qwen2-tiny', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(() => configFromHF({ ...q, use_sliding_window: true })).toThrow(/use_sliding_window/);
    expect(() => configFromHF({ ...q, model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], attention_bias: true })).toThrow(/attention_bias/);
    expect(configFromHF(q).architecture).toBe('qwen2');
  });

  it('picks the family by model_type, else by architectures', () => {
    expect(familyOfHF(GPT2).name).toBe('gpt2');
    expect(familyOfHF({ architectures: ['LlamaForCausalLM'] }).name).toBe('llama');
  });

  it('an unknown config.json model_type or architectures entry lists the supported ones', async () => {
    const msg = /model_type 'mamba' \(architectures \["MambaForCausalLM"\]\) is not supported; supported: gpt2, llama, mistral, qwen2, qwen3, phi3, gemma2, gemma3_text \(model_type\), GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM \(architectures\)/;
    expect(() => configFromHF({ model_type: 'mamba', architectures: ['MambaForCausalLM'] })).toThrow(msg);
    const dir = mkdtempSync(join(TMP, 'hf-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...LLAMA, model_type: 'mamba', architectures: ['MambaForCausalLM'] }));
    await expect(loadModel(dir, { kind: 'decoder', backend: 'reference' })).rejects.toThrow(msg);
    expect(() => family('bert' as never)).toThrow(/architecture 'bert' is not supported; supported: gpt2, llama/);
  });

  it('an unknown GGUF general.architecture lists the supported ones', async () => {
    const g = gguf('mamba.gguf', { ...LLAMA_GGUF, 'general.architecture': [STR, 'mamba'] });
    try {
      expect(() => configFromGGUF(g)).toThrow(/general.architecture 'mamba' is not supported; supported: gpt2, llama/);
    } finally {
      g.dispose();
    }
    await expect(loadModel(join(TMP, 'mamba.gguf'), { kind: 'decoder', backend: 'reference' })).rejects.toThrow(/general.architecture 'mamba' is not supported; supported: gpt2, llama/);
  });
});

describe('config fields that change the computation and are not implemented', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['llama', { rope_scaling: { type: 'ntk', factor: 2 } }, /Llama 'rope_scaling.rope_type' = "ntk" is not supported/],
    ['llama', { partial_rotary_factor: 0.5 }, /Llama 'partial_rotary_factor' = 0.5 is not supported/],
    ['llama', { attention_bias: true }, /Llama 'attention_bias' = true is not supported/],
    ['llama', { mlp_bias: true }, /Llama 'mlp_bias' = true is not supported/],
    ['llama', { hidden_act: 'gelu' }, /Llama 'hidden_act' = "gelu" is not supported/],
    ['gpt2', { activation_function: 'relu' }, /GPT-2 'activation_function' = "relu" is not supported/],
    ['gpt2', { scale_attn_weights: false }, /GPT-2 'scale_attn_weights' = false is not supported/],
    ['gpt2', { scale_attn_by_inverse_layer_idx: true }, /GPT-2 'scale_attn_by_inverse_layer_idx' = true is not supported/],
    ['gpt2', { add_cross_attention: true }, /GPT-2 'add_cross_attention' = true is not supported/],
    ['gpt2', { tie_word_embeddings: false }, /GPT-2 'tie_word_embeddings' = false is not supported/],
  ];
  for (const [fam, extra, msg] of cases)
    it(`${fam} config.json ${Object.keys(extra)[0]}`, () => {
      expect(() => configFromHF({ ...(fam === 'gpt2' ? GPT2 : LLAMA), ...extra })).toThrow(RangeError);
      expect(() => configFromHF({ ...(fam === 'gpt2' ? GPT2 : LLAMA), ...extra })).toThrow(msg);
    });

  it('GPT-2 heads must divide the hidden size', () => {
    expect(() => configFromHF({ ...GPT2, n_head: 3 })).toThrow(/hidden size 64 is not heads \(3\) x head size/);
  });

  it('the values that are implemented still load (the fixtures spell several out)', () => {
    expect(configFromHF({ ...LLAMA, rope_scaling: null, attention_bias: false, mlp_bias: false, hidden_act: 'silu' }).architecture).toBe('llama');
    expect(configFromHF({ ...GPT2, scale_attn_weights: true, activation_function: 'gelu_pytorch_tanh' }).architecture).toBe('gpt2');
  });

  const gg: [string, Record<string, GgufKV>, RegExp][] = [
    ['rope scaling', { 'llama.rope.scaling.type': [STR, 'longrope'] }, /'llama.rope.scaling.type' = "longrope" is not supported \(supported: none, linear, yarn/],
    ['rope scale factor', { 'llama.rope.scaling.factor': [F32, 0.5] }, /'llama.rope.scaling.factor' = 0.5 is not supported \(expected a number >= 1\)/],
    ['yarn ext factor', { 'llama.rope.scaling.type': [STR, 'yarn'], 'llama.rope.scaling.factor': [F32, 4], 'llama.rope.scaling.yarn_ext_factor': [F32, 0.5] }, /'llama.rope.scaling.yarn_ext_factor' = 0.5 is not supported/],
    ['yarn log multiplier', { 'llama.rope.scaling.yarn_log_multiplier': [F32, 0.5] }, /'llama.rope.scaling.yarn_log_multiplier' = 0.5 is not supported/],
    ['yarn without a factor', { 'llama.rope.scaling.type': [STR, 'yarn'] }, /'llama.rope.scaling.factor' = undefined is not supported \(rope.scaling.type 'yarn' needs a number >= 1\)/],
    ['attention factor without LongRoPE', { 'llama.rope.scaling.attn_factor': [F32, 2] }, /'llama.rope.scaling.attn_factor' = 2 is not supported/],
    ['mixture of experts', { 'llama.expert_count': [U32, 8] }, /'llama.expert_count' = 8 is not supported/],
    ['partial rotary', { 'llama.attention.key_length': [U32, 4], 'llama.rope.dimension_count': [U32, 2] }, /'llama.rope.dimension_count' = 2 is not supported/],
  ];
  for (const [what, kv, msg] of gg)
    it(`llama GGUF ${what}`, () => {
      const g = gguf(`${what.replace(/ /g, '-')}.gguf`, { ...LLAMA_GGUF, ...kv });
      try {
        expect(() => configFromGGUF(g)).toThrow(msg);
      } finally {
        g.dispose();
      }
    });

  it('GGUF rope factor tensors: rope_freqs divides each pair\'s frequency; wrong lengths and half a LongRoPE pair are refused', () => {
    const ok = gguf('freqs.gguf', LLAMA_GGUF, { 'rope_freqs.weight': [1, 8] });
    const short = gguf('freqs-short.gguf', LLAMA_GGUF, { 'rope_freqs.weight': [1, 8, 8] });
    const half = gguf('half-longrope.gguf', { ...LLAMA_GGUF, 'llama.rope.scaling.original_context_length': [U32, 8] }, { 'rope_factors_long.weight': [1, 2] });
    try {
      const s = configFromGGUF(ok).ropeScaling;
      expect(s?.type).toBe('freq_factors');
      expect(s?.invFreq).toEqual([1, Math.fround(Math.fround(1 / 100) / 8)]);
      expect(() => configFromGGUF(short)).toThrow(/'rope_freqs.weight' must hold 2 positive numbers \(one per rotated pair\), got 3/);
      expect(() => configFromGGUF(half)).toThrow(/LongRoPE needs both 'rope_factors_short.weight' and 'rope_factors_long.weight'/);
    } finally {
      for (const g of [ok, short, half]) g.dispose();
    }
  });

  it('GGUF rope scaling: a factor without a type is linear (as llama.cpp reads it)', () => {
    const g = gguf('linear.gguf', { ...LLAMA_GGUF, 'llama.rope.scaling.factor': [F32, 4] });
    try {
      const s = configFromGGUF(g).ropeScaling;
      expect(s?.type).toBe('linear');
      expect(s?.invFreq?.[0]).toBe(Math.fround(0.25));
    } finally {
      g.dispose();
    }
  });

  it('GGUF rope scaling type none is unscaled', () => {
    const g = gguf('none.gguf', { ...LLAMA_GGUF, 'llama.rope.scaling.type': [STR, 'none'], 'llama.rope.scaling.factor': [F32, 4] });
    try {
      expect(configFromGGUF(g).headDim).toBe(4);
    } finally {
      g.dispose();
    }
  });
});

describe('parameter lists', () => {
  it('name every parameter the graph reads; loadModel checks the bound shapes against them', async () => {
    for (const path of ['gpt2-tiny', 'llama-tiny', 'gpt2-tiny/model-f32.gguf', 'llama-tiny/model-q8_0.gguf']) {
      const m = await loadModel(join(FIX, path), { kind: 'decoder', backend: 'reference' });
      const listed = family(m.config.architecture).parameters(m.config).map((p) => p.name).sort();
      const read = new Set<string>();
      for (const n of m.plan.graph.nodes) for (const a of Object.values(n.args)) if (typeof a === 'object' && a.kind === 'param') read.add(a.name);
      expect(listed).toEqual([...read].sort());
      m.dispose();
    }
  });

  it('sum to the numbers stored in the checkpoints', () => {
    for (const dir of ['gpt2-tiny', 'llama-tiny']) {
      const st = new SafetensorsCheckpoint(join(FIX, dir));
      const stored = st.names.reduce((a, n) => a + st.tensor(n).numel, 0);
      st.dispose();
      expect(countParameters(configFromHF(dir === 'gpt2-tiny' ? GPT2 : LLAMA)).total).toBe(stored);
    }
  });

  it('a binding that disagrees with the list is an error naming the parameter', () => {
    const b = new Binder({ has: () => false, tensor: () => { throw new Error('none'); } }, new ReferenceBackend(), undefined);
    expect(() => b.checkParameters([{ name: 'embed', shape: [4, 8] }])).toThrow(/parameter 'embed' was not bound/);
    b.params.set('embed', Tensor.zeros('f32', [4, 8]));
    expect(() => b.checkParameters([{ name: 'embed', shape: [4, 16] }])).toThrow(/parameter 'embed' has shape \[4, 8\], expected \[4, 16\]/);
    expect(() => b.checkParameters([])).toThrow(/parameter 'embed' is not in the family's parameter list/);
  });

  it('presets are configs of a family, counted by the same counter', () => {
    const p = PRESETS['llama2-7b']!;
    expect(p.architecture).toBe('llama');
    const listed = family(p.architecture).parameters(p).reduce((a, t) => a + (t.tiedTo ? 0 : t.shape.reduce((x, y) => x * y, 1)), 0);
    expect(countParameters(p).total).toBe(listed);
  });
});
