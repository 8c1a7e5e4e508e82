// `attnode convert` and `attnode quantize` against llama.cpp: the files attnode writes are byte for
// byte the ones llama.cpp's goldens were recorded on (tools/llamacpp/make-convert-goldens.mjs), so
// llama.cpp loaded them and produced those logits; attnode agrees with them within the format
// budgets; the mix rules give llama.cpp's own per-tensor types. llama.cpp is not needed here.

import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../ts/cli.js';
import { convertHFToGGUF } from '../ts/convert/hf-to-gguf.js';
import { MIXES, planTypes } from '../ts/convert/mixes.js';
import { quantizeGGUF } from '../ts/convert/quantize.js';
import { GGUFFile } from '../ts/io/gguf.js';
import { loadModel } from '../ts/models/model.js';
import { WEIGHT_DTYPES, WEIGHT_FORMATS } from '../ts/tensor/formats.js';
import { tokenizerFromGGUF, tokenizerFromJSON } from '../ts/tokenizer/index.js';
import { TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';
import { GOLDENS, MODEL_FIXTURES, maxDiff } from './helpers/decoding.js';
import { LLAMACPP_DIR, LLAMACPP_GOLDENS, comparePrompts, logitBudget, type LlamaCppFile } from './helpers/llamacpp.js';

interface TinyGolden {
  tokenizer: string; sha256: string; architecture: string;
  prompts: { prompt_length: number; max_abs_diff_vs_torch: number; greedy: number[]; torch_greedy: number[]; logits: number[] }[];
}
const CONVERT = JSON.parse(readFileSync(join(MODEL_FIXTURES, 'convert-goldens.json'), 'utf8')) as {
  k256: Record<string, Omit<LlamaCppFile, 'bytes' | 'tensor_types'>>;
  tiny: Record<string, TinyGolden>;
};
/**
 * llama.cpp against PyTorch on the converted tiny fixtures: f32 everywhere, so per-op rounding
 * only (measured up to 8.0e-5, Qwen2); GPT-2's GELU comes from ggml's f16 lookup table, which
 * moves its logits by up to 4.3e-3 (measured).
 */
const TOL_LLAMACPP_TORCH_F32 = TOL_MODEL_LOGITS_F32 * 2;
const TOL_LLAMACPP_TORCH_GPT2 = 1e-2;

const work = mkdtempSync(join(tmpdir(), 'attnode-convert-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('mix rules', () => {
  // The shapes and file order of the model's tensors, from the committed f16 file.
  const g = new GGUFFile(join(LLAMACPP_DIR, 'model-f16.gguf'));
  const tensors = [...g.tensors.values()].map((t) => ({ name: t.name, shape: t.shape }));
  g.dispose();
  for (const [file, f] of Object.entries(LLAMACPP_GOLDENS.files)) {
    if (f.type === 'F32' || f.type === 'F16') continue;
    it(`${f.type.toLowerCase()} gives every tensor of llama-k256 the type llama.cpp gave it (${file})`, () => {
      const plan = planTypes(f.type.toLowerCase(), tensors, 2, 2);
      const want = Object.fromEntries(Object.entries(f.tensor_types).map(([k, v]) => [k, v.toUpperCase()]));
      expect(Object.fromEntries(plan)).toEqual(want);
    });
  }
  it('covers every type of the fixture set', () => {
    const mixes = Object.values(LLAMACPP_GOLDENS.files).map((f) => f.type.toLowerCase());
    for (const m of mixes) expect(Object.keys(MIXES)).toContain(m);
  });
});

describe('convert and quantize llama-k256', () => {
  const cases: Array<[string, () => string]> = [
    ['convert f32', () => out('k256-f32.gguf', (p) => convertHFToGGUF(LLAMACPP_DIR, p, { type: 'f32', name: 'llama-k256' }))],
    ['convert f16', () => out('k256-f16.gguf', (p) => convertHFToGGUF(LLAMACPP_DIR, p, { type: 'f16', name: 'llama-k256' }))],
    ['convert q8_0', () => out('k256-q8_0.gguf', (p) => convertHFToGGUF(LLAMACPP_DIR, p, { type: 'q8_0', name: 'llama-k256' }))],
    ['quantize f32 q8_0', () => out('k256-requant-q8_0.gguf', (p) => quantizeGGUF(join(work, 'k256-f32.gguf'), p, 'q8_0'))],
    // attnode's block quantizers: llama.cpp loaded these very bytes (tools/llamacpp/make-convert-goldens.mjs).
    ...['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k_m', 'q4_k_m', 'q5_k_m', 'q6_k', 'iq4_nl', 'iq4_xs'].map((t) =>
      [`quantize f32 ${t}`, () => out(`k256-requant-${t}.gguf`, (p) => quantizeGGUF(join(work, 'k256-f32.gguf'), p, t))] as [string, () => string]),
  ];
  function out(name: string, write: (p: string) => unknown): string {
    const p = join(work, name);
    write(p);
    return p;
  }
  for (const [what, make] of cases) {
    it(`${what}: the bytes llama.cpp was measured on, and attnode's logits within the ${CONVERT.k256[what]!.type} budget of llama.cpp's`, async () => {
      const golden = CONVERT.k256[what]!;
      const path = make();
      expect(sha256(path)).toBe(golden.sha256);
      const m = await loadModel(path, { kind: 'decoder', outputs: ['logits', 'lastLogits'] });
      try {
        const r = await comparePrompts(m, { ...golden, bytes: 0, tensor_types: {} });
        console.log(`${what}: max |attnode - llama.cpp| / spread = ${r.maxRel.toExponential(2)} (budget ${logitBudget(golden.type)})`);
        expect(r.maxRel).toBeLessThanOrEqual(logitBudget(golden.type));
        for (const g of r.greedy) expect(g.got, g.what).toEqual(g.want);
      } finally {
        m.dispose();
      }
    });
  }

  it('writes the tokenizer and chat template llama.cpp reads, and attnode tokenizes the same from either file', () => {
    const g = new GGUFFile(join(work, 'k256-f32.gguf'));
    try {
      const tc = JSON.parse(readFileSync(join(LLAMACPP_DIR, 'tokenizer_config.json'), 'utf8')) as { chat_template: string };
      expect(g.get('general.architecture')).toBe('llama');
      expect(g.get('tokenizer.ggml.model')).toBe('llama');
      expect(g.get('tokenizer.chat_template')).toBe(tc.chat_template);
      expect([g.get('tokenizer.ggml.bos_token_id'), g.get('tokenizer.ggml.eos_token_id'), g.get('tokenizer.ggml.unknown_token_id')]).toEqual([1, 2, 0]);
      expect(g.get('llama.attention.head_count_kv')).toBe(2);
      const fromGGUF = tokenizerFromGGUF(Object.fromEntries(g.metadata));
      const fromJSON = tokenizerFromJSON(readFileSync(join(LLAMACPP_DIR, 'tokenizer.json'), 'utf8'));
      for (const text of ['The quick brown fox jumps over the lazy dog.', 'it is 3:45pm -- done', 'ünïcödé ✓']) {
        expect(fromGGUF.encode(text), text).toEqual(fromJSON.encode(text));
      }
    } finally {
      g.dispose();
    }
  });

});

describe('convert the tiny fixtures of every family', () => {
  for (const [name, golden] of Object.entries(CONVERT.tiny)) {
    it(`${name}: the bytes llama.cpp loaded as '${golden.architecture}', whose logits match PyTorch's`, () => {
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(MODEL_FIXTURES, name, f), join(dir, f));
      copyFileSync(join(MODEL_FIXTURES, '..', 'tokenizers', golden.tokenizer), join(dir, 'tokenizer.json'));
      convertHFToGGUF(dir, join(work, `${name}.gguf`), { type: 'f32', name });
      expect(sha256(join(work, `${name}.gguf`))).toBe(golden.sha256);
      const torch = GOLDENS.models[name]!.prompts;
      const window = name === 'mistral-tiny' ? 8 : Infinity;
      for (const [i, p] of golden.prompts.entries()) {
        // llama.cpp's 'llama' architecture has no sliding window: Mistral agrees only within it.
        if (p.prompt_length > window) continue;
        const tol = name === 'gpt2-tiny' ? TOL_LLAMACPP_TORCH_GPT2 : TOL_LLAMACPP_TORCH_F32;
        expect(maxDiff(p.logits, torch[i]!.logits), `${p.prompt_length}-token prompt`).toBeLessThanOrEqual(tol);
        if (p.prompt_length + p.greedy.length <= window) expect(p.greedy).toEqual(torch[i]!.greedy);
      }
    });
  }

  // Every family, Mistral past its window included: attnode reads the window the file carries.
  it('attnode loads every converted file and matches PyTorch, Mistral past its window too', async () => {
    for (const name of Object.keys(CONVERT.tiny)) {
      const m = await loadModel(join(work, `${name}.gguf`), { kind: 'decoder' });
      try {
        for (const p of GOLDENS.models[name]!.prompts) expect(maxDiff(await m.forward(p.prompt), p.logits), name).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      } finally {
        m.dispose();
      }
    }
  });
});

// Phi-3: attnode convert writes what tools/reference/make_families_gguf.py writes in llama.cpp's
// layout (fused attn_qkv / ffn_up, rope_factors_long / short, phi3.* keys), so the committed file's
// llama.cpp goldens speak for it; attnode reads it back as the Hugging Face checkpoint.
describe('convert Phi-3', () => {
  const FAM = JSON.parse(readFileSync(join(MODEL_FIXTURES, 'families-goldens.json'), 'utf8')) as { models: Record<string, { prompts: { prompt: number[]; logits: number[] }[] }> };
  const dir = join(work, 'phi3-tiny');
  const out = join(work, 'phi3-tiny.gguf');

  it("writes the reference converter's tensors and phi3.* keys", () => {
    mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(MODEL_FIXTURES, 'phi3-tiny', f), join(dir, f));
    copyFileSync(join(MODEL_FIXTURES, '..', 'tokenizers', 'stand-in-spm-256.json'), join(dir, 'tokenizer.json'));
    convertHFToGGUF(dir, out, { type: 'f32', name: 'tiny-p3' });
    const mine = new GGUFFile(out);
    const ref = new GGUFFile(join(MODEL_FIXTURES, 'phi3-tiny', 'model-f32.gguf'));
    try {
      expect(mine.get('general.architecture')).toBe('phi3');
      expect([...mine.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
      for (const name of ref.tensors.keys()) {
        const a = mine.tensor(name);
        const b = ref.tensor(name);
        expect(a.shape, name).toEqual(b.shape);
        expect(Buffer.compare(a.file.read(a.byteOffset, a.byteLength), b.file.read(b.byteOffset, b.byteLength)), name).toBe(0);
      }
      const keys = [...ref.metadata.keys()].filter((k) => k.startsWith('phi3.'));
      expect(keys.length).toBe(12);
      for (const k of keys) expect(mine.get(k), k).toEqual(ref.get(k));
    } finally {
      mine.dispose();
      ref.dispose();
    }
  });

  it('attnode loads the converted file and matches PyTorch for every prompt, past the window too', async () => {
    const m = await loadModel(out, { kind: 'decoder' });
    try {
      for (const p of FAM.models['phi3-tiny']!.prompts) expect(maxDiff(await m.forward(p.prompt), p.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    } finally {
      m.dispose();
    }
  });

  it('refuses dynamic NTK, which GGUF cannot say', () => {
    const bad = join(work, 'llama-dynamic');
    mkdirSync(bad, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(MODEL_FIXTURES, 'llama-dynamic-tiny', f), join(bad, f));
    copyFileSync(join(MODEL_FIXTURES, '..', 'tokenizers', 'stand-in-spm-256.json'), join(bad, 'tokenizer.json'));
    expect(() => convertHFToGGUF(bad, join(work, 'bad.gguf'), { type: 'f32' })).toThrow(/rope_scaling: .*"dynamic".* is not converted \(llama and mistral: linear, yarn, llama3/);
  });

  it('refuses a rope_scaling Phi-3 does not have', () => {
    const bad = join(work, 'phi3-bad');
    mkdirSync(bad, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(MODEL_FIXTURES, 'phi3-tiny', 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, rope_scaling: { rope_type: 'yarn', factor: 4 } }));
    copyFileSync(join(MODEL_FIXTURES, 'phi3-tiny', 'model.safetensors'), join(bad, 'model.safetensors'));
    copyFileSync(join(MODEL_FIXTURES, '..', 'tokenizers', 'stand-in-spm-256.json'), join(bad, 'tokenizer.json'));
    expect(() => convertHFToGGUF(bad, join(work, 'bad.gguf'), { type: 'f32' })).toThrow(/rope_scaling: .* is not converted for Phi-3 \(only LongRoPE\)/);
  });
});

// Llama with rope_scaling: the same keys and tensors as tools/reference/make_families_gguf.py
// writes (whose llama.cpp goldens test/gguf-families.test.ts holds), read back as PyTorch computes.
describe.each(['linear', 'yarn', 'llama3'])('convert Llama with rope_scaling %s', (kind) => {
  const FAM = JSON.parse(readFileSync(join(MODEL_FIXTURES, 'families-goldens.json'), 'utf8')) as { models: Record<string, { prompts: { prompt: number[]; logits: number[] }[] }> };
  const name = `llama-${kind}-tiny`;
  it("writes the reference converter's rope keys and tensors, and loads as PyTorch computes it", async () => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(MODEL_FIXTURES, name, f), join(dir, f));
    copyFileSync(join(MODEL_FIXTURES, '..', 'tokenizers', 'stand-in-spm-256.json'), join(dir, 'tokenizer.json'));
    const out = join(work, `${name}.gguf`);
    convertHFToGGUF(dir, out, { type: 'f32', name });
    const mine = new GGUFFile(out);
    const ref = new GGUFFile(join(MODEL_FIXTURES, name, 'model-f32.gguf'));
    try {
      expect([...mine.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
      for (const t of ref.tensors.keys()) {
        const a = mine.tensor(t).load().toFloat32();
        const b = ref.tensor(t).load().toFloat32();
        // rope_freqs is computed, in float arithmetic of its own on each side; the rest is copied.
        if (t === 'rope_freqs.weight') for (const [i, v] of b.entries()) expect(a[i]).toBeCloseTo(v, 6);
        else expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)), t).toBe(0);
      }
      const keys = [...ref.metadata.keys()].filter((k) => k.startsWith('llama.rope.'));
      expect(keys.length).toBe(kind === 'llama3' ? 2 : kind === 'linear' ? 4 : 7);
      for (const k of keys) expect(mine.get(k), k).toEqual(ref.get(k));
    } finally {
      mine.dispose();
      ref.dispose();
    }
    const m = await loadModel(out, { kind: 'decoder' });
    try {
      for (const p of FAM.models[name]!.prompts) expect(maxDiff(await m.forward(p.prompt), p.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    } finally {
      m.dispose();
    }
  });
});

describe('errors', () => {
  it('names an unsupported model_type and a missing tokenizer.json', () => {
    expect(() => convertHFToGGUF(join(MODEL_FIXTURES, 'bert-tiny'), join(work, 'x.gguf'))).toThrow(/model_type: 'bert' is not converted/);
    expect(() => convertHFToGGUF(join(MODEL_FIXTURES, 'llama-tiny'), join(work, 'x.gguf'))).toThrow(/tokenizer\.json is missing/);
  });
  it('the CLI rejects a missing --type for quantize and an unknown type', async () => {
    expect(await main(['quantize', join(work, 'a.gguf'), join(work, 'b.gguf')])).toBe(2);
    expect(await main(['convert', LLAMACPP_DIR, join(work, 'b.gguf'), '--type', 'q9_9'])).toBe(2);
  });
});
