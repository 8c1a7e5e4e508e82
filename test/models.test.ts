// GPT-2 and Llama against PyTorch goldens (tools/reference/make_models.py): last-position logits
// for prompts of 1, 7 and 33 tokens, greedy continuations of 16 tokens, KV-cache decoding equal
// to full recomputation, and the same checkpoints as GGUF f32 / q8_0 and sharded safetensors.

import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { LanguageModel } from '../ts/generate/model.js';
import { GOLDENS, MODEL_FIXTURES as FIX, greedy, maxDiff } from './helpers/decoding.js';
import { TOL_MODEL_LOGITS_BF16_WEIGHTS, TOL_MODEL_LOGITS_F16_WEIGHTS, TOL_MODEL_LOGITS_F32, TOL_MODEL_LOGITS_Q8_0 } from './harness/tolerance.js';

interface Case { name: string; path: string; golden: string; backend: 'native' | 'reference'; tol: number; greedy: boolean }
const CASES: Case[] = [
  { name: 'gpt2 safetensors native', path: 'gpt2-tiny', golden: 'gpt2-tiny', backend: 'native', tol: TOL_MODEL_LOGITS_F32, greedy: true },
  { name: 'gpt2 safetensors reference', path: 'gpt2-tiny', golden: 'gpt2-tiny', backend: 'reference', tol: TOL_MODEL_LOGITS_F32, greedy: false },
  { name: 'gpt2 gguf f32', path: 'gpt2-tiny/model-f32.gguf', golden: 'gpt2-tiny', backend: 'native', tol: TOL_MODEL_LOGITS_F32, greedy: true },
  { name: 'gpt2 gguf q8_0 reference', path: 'gpt2-tiny/model-q8_0.gguf', golden: 'gpt2-tiny-q8_0', backend: 'reference', tol: TOL_MODEL_LOGITS_F32, greedy: false },
  { name: 'gpt2 gguf q8_0 native', path: 'gpt2-tiny/model-q8_0.gguf', golden: 'gpt2-tiny-q8_0', backend: 'native', tol: TOL_MODEL_LOGITS_Q8_0, greedy: false },
  { name: 'llama safetensors native', path: 'llama-tiny', golden: 'llama-tiny', backend: 'native', tol: TOL_MODEL_LOGITS_F32, greedy: true },
  { name: 'llama safetensors reference', path: 'llama-tiny', golden: 'llama-tiny', backend: 'reference', tol: TOL_MODEL_LOGITS_F32, greedy: false },
  { name: 'llama sharded', path: 'llama-tiny-sharded', golden: 'llama-tiny', backend: 'native', tol: TOL_MODEL_LOGITS_F32, greedy: true },
  { name: 'llama gguf f32', path: 'llama-tiny/model-f32.gguf', golden: 'llama-tiny', backend: 'native', tol: TOL_MODEL_LOGITS_F32, greedy: true },
  { name: 'llama gguf q8_0 reference', path: 'llama-tiny/model-q8_0.gguf', golden: 'llama-tiny-q8_0', backend: 'reference', tol: TOL_MODEL_LOGITS_F32, greedy: false },
  { name: 'llama gguf q8_0 native', path: 'llama-tiny/model-q8_0.gguf', golden: 'llama-tiny-q8_0', backend: 'native', tol: TOL_MODEL_LOGITS_Q8_0, greedy: false },
  // A sliding window of 8: the 33-token prompt and the continuations run past it.
  { name: 'mistral (sliding window) native', path: 'mistral-tiny', golden: 'mistral-tiny', backend: 'native', tol: TOL_MODEL_LOGITS_F32, greedy: true },
  { name: 'mistral (sliding window) reference', path: 'mistral-tiny', golden: 'mistral-tiny', backend: 'reference', tol: TOL_MODEL_LOGITS_F32, greedy: false },
  // Qwen2: q/k/v bias, tied head; Qwen3: per-head q/k RMSNorm, head_dim 24 apart from hidden / heads.
  { name: 'qwen2 native', path: 'qwen2-tiny', golden: 'qwen2-tiny', backend: 'native', tol: TOL_MODEL_LOGITS_F32, greedy: true },
  { name: 'qwen2 reference', path: 'qwen2-tiny', golden: 'qwen2-tiny', backend: 'reference', tol: TOL_MODEL_LOGITS_F32, greedy: false },
  { name: 'qwen3 native', path: 'qwen3-tiny', golden: 'qwen3-tiny', backend: 'native', tol: TOL_MODEL_LOGITS_F32, greedy: true },
  { name: 'qwen3 reference', path: 'qwen3-tiny', golden: 'qwen3-tiny', backend: 'reference', tol: TOL_MODEL_LOGITS_F32, greedy: false },
];

describe('mistral: the sliding window', () => {
  it('is read from config.json, and without it the same weights give other logits past the window', async () => {
    const m = await loadModel(join(FIX, 'mistral-tiny'), { kind: 'decoder' });
    expect(m.config.architecture).toBe('mistral');
    expect(m.config.slidingWindow).toBe(8);
    m.dispose();
    const dir = mkdtempSync(join(tmpdir(), 'attnode-mistral-'));
    const cfg = JSON.parse(readFileSync(join(FIX, 'mistral-tiny', 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, sliding_window: null }));
    symlinkSync(join(FIX, 'mistral-tiny', 'model.safetensors'), join(dir, 'model.safetensors'));
    const full = await loadModel(dir, { kind: 'decoder' });
    const p = GOLDENS.models['mistral-tiny']!.prompts[2]!; // 33 tokens
    expect(maxDiff(await full.forward(p.prompt), p.logits)).toBeGreaterThan(100 * TOL_MODEL_LOGITS_F32);
    // Within the window both agree: the 7-token prompt sees no key the window hides.
    const short = GOLDENS.models['mistral-tiny']!.prompts[1]!;
    expect(maxDiff(await full.forward(short.prompt), short.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
    full.dispose();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, sliding_window: 0 }));
    await expect(loadModel(dir, { kind: 'decoder' })).rejects.toThrow(/'sliding_window' must be a positive integer, got 0/);
  });
});

describe.each(CASES)('$name', (c) => {
  let model: DecoderModel;
  beforeAll(async () => {
    model = await loadModel(join(FIX, c.path), { kind: 'decoder', backend: c.backend });
  });
  afterAll(() => model?.dispose());
  const golden = GOLDENS.models[c.golden]!;

  it('matches the PyTorch last-position logits for prompts of 1, 7 and 33 tokens', async () => {
    expect(golden.prompts.map((p) => p.prompt.length)).toEqual([1, 7, 33]);
    for (const p of golden.prompts) {
      const logits = await model.forward(p.prompt);
      expect(maxDiff(logits, p.logits)).toBeLessThanOrEqual(c.tol);
    }
  });

  // Greedy paths are checked where logits match to f32 rounding: the fixtures' smallest top-2
  // gap (0.01) is below the q8_0 budget, and the reference backend is checked on logits alone.
  if (c.greedy)
    it('continues greedily exactly as PyTorch for 16 tokens', async () => {
      for (const p of golden.prompts) expect(await greedy(model, p.prompt, 16)).toEqual(p.greedy);
    });

  it('decodes with the KV cache as full recomputation does', async () => {
    const p = golden.prompts[1]!;
    const seq = [...p.prompt, ...p.greedy];
    const cache = model.newCache();
    await model.forward(seq.slice(0, 5), { cache });
    await model.forward(seq.slice(5, 9), { cache });
    for (let i = 9; i < seq.length; i++) {
      const inc = await model.forward([seq[i]!], { cache });
      const full = await model.forward(seq.slice(0, i + 1));
      expect(maxDiff(inc, full)).toBeLessThanOrEqual(c.tol === TOL_MODEL_LOGITS_F32 ? TOL_MODEL_LOGITS_F32 : TOL_MODEL_LOGITS_Q8_0);
    }
    expect(cache.length).toBe(seq.length);
  });
});

describe('weights converted at load (dtype option)', () => {
  for (const dir of ['gpt2-tiny', 'llama-tiny'])
    for (const [dtype, tol] of [['f16', TOL_MODEL_LOGITS_F16_WEIGHTS], ['bf16', TOL_MODEL_LOGITS_BF16_WEIGHTS]] as const)
      it(`${dir} with ${dtype} linear weights stays within its budget of the f32 goldens`, async () => {
        const m = await loadModel(join(FIX, dir), { kind: 'decoder', dtype });
        for (const p of GOLDENS.models[dir]!.prompts) expect(maxDiff(await m.forward(p.prompt), p.logits)).toBeLessThanOrEqual(tol);
        m.dispose();
      });
});

describe('model errors', () => {
  it('names bad arguments', async () => {
    const m = await loadModel(join(FIX, 'llama-tiny'), { kind: 'decoder', contextLength: 40 });
    await expect(m.forward([])).rejects.toThrow(/at least one token/);
    await expect(m.forward([256])).rejects.toThrow(/ids\[0\] = 256 is outside \[0, 256\)/);
    await expect(m.forward(new Array(41).fill(1))).rejects.toThrow(/exceed/);
    m.dispose();
    await expect(m.forward([1])).rejects.toThrow(/disposed/);
    await expect(loadModel(join(FIX, 'nope'), { kind: 'decoder' })).rejects.toThrow(/does not exist/);
    await expect(loadModel(join(FIX, 'goldens.json'), { kind: 'decoder' })).rejects.toThrow(/neither a checkpoint directory nor a \.gguf file/);
    await expect(loadModel(join(FIX, 'llama-tiny'), { kind: 'decoder', dtype: 'f64' as never })).rejects.toThrow(/'dtype' must be one of/);
  });

  it('refuses option names it does not take, rather than ignoring them', async () => {
    const dir = join(FIX, 'llama-tiny');
    await expect(loadModel(dir, { kind: 'decoder', kvDtyp: 'f16' } as never)).rejects.toThrow(new TypeError("loadModel: unknown option 'kvDtyp'; did you mean 'kvDtype'?; options: backend, dtype, threads, contextLength, maxBatch, kvDtype, outputs, stateBudget, pageRows, kind"));
    await expect(loadModel(dir, { kind: 'decoder', maxTokens: 40 } as never)).rejects.toThrow(/loadModel: 'maxTokens' is now 'contextLength'/);
    await expect(loadModel(dir, null as never)).rejects.toThrow(/loadModel: options must be an object/);
    await expect(LanguageModel.load(undefined, { contextLenght: 64 } as never)).rejects.toThrow(/load: unknown option 'contextLenght'; did you mean 'contextLength'\?/);
    await expect(LanguageModel.load(undefined, { maxTokens: 12 } as never)).rejects.toThrow(/load: 'maxTokens' is a generation option/);
    const lm = await LanguageModel.load(undefined, { contextLength: 16 });
    try {
      // The prompt and the generated tokens fed back fill the 16 positions; the last sampled token needs none.
      const r = await lm.generate('Once upon a time', { maxTokens: 64, ignoreEos: true, temperature: 0 });
      expect(r.timings.promptTokens + r.ids.length - 1).toBe(16);
      expect(r.finishReason).toBe('length');
    } finally {
      lm.dispose();
    }
  });
  it('names the tensor when a config and its checkpoint disagree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnode-model-'));
    try {
      const cfg = JSON.parse(readFileSync(join(FIX, 'gpt2-tiny', 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_embd: 32 }));
      copyFileSync(join(FIX, 'gpt2-tiny', 'model.safetensors'), join(dir, 'model.safetensors'));
      await expect(loadModel(dir, { kind: 'decoder' })).rejects.toThrow(/'wte.weight' has shape \[256, 64\], expected \[256, 32\]/);
      // A model type no family claims (BERT is an encoder now: test/encoder.test.ts).
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'electra', architectures: [] }));
      await expect(loadModel(dir, { kind: 'decoder' })).rejects.toThrow(/model_type 'electra'.*supported: gpt2, llama/);
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'bert', architectures: [] }));
      await expect(loadModel(dir, { kind: 'decoder' })).rejects.toThrow(/encoder checkpoint \(model_type 'bert'\); pass \{ kind: 'encoder' \}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('decoder outputs', () => {
  for (const dir of ['gpt2-tiny', 'llama-tiny'])
    it(`${dir}: logits and hidden states of every position, planned only when asked for`, async () => {
      const all = await loadModel(join(FIX, dir), { kind: 'decoder', outputs: ['lastLogits', 'logits', 'hidden'], contextLength: 64 });
      const onlyLast = await loadModel(join(FIX, dir), { kind: 'decoder', contextLength: 64 });
      const onRef = await loadModel(join(FIX, dir), { kind: 'decoder', outputs: ['hidden'], contextLength: 64, backend: 'reference' });
      try {
        const { vocabSize: V, hidden: C } = all.config;
        const golden = GOLDENS.models[dir]!.prompts[0]!;
        const cache = all.newCache();
        const o = await all.forwardOutputs(golden.prompt, { cache });
        expect(o.logits!.length).toBe(golden.prompt.length * V);
        expect(o.hidden!.length).toBe(golden.prompt.length * C);
        // Row k of the per-position logits is the last logits of the prefix of k + 1 tokens.
        for (let k = 0; k < golden.prompt.length; k++)
          expect(maxDiff(o.logits!.subarray(k * V, (k + 1) * V), await onlyLast.forward(golden.prompt.slice(0, k + 1)))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
        expect(maxDiff(o.lastLogits!, golden.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
        expect(maxDiff(o.logits!.subarray((golden.prompt.length - 1) * V), golden.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
        // Hidden states: the reference backend computes them op by op in TypeScript.
        expect(maxDiff(o.hidden!, (await onRef.forwardOutputs(golden.prompt)).hidden!)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
        // A continuation's rows are its new tokens only.
        const next = await all.forwardOutputs([3, 4], { cache });
        expect(next.logits!.length).toBe(2 * V);
        expect(maxDiff(next.lastLogits!, await onlyLast.forward([...golden.prompt, 3, 4]))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
        // What was not planned is not there, and forward() says why it cannot serve.
        expect(Object.keys(await onRef.forwardOutputs([1, 2]))).toEqual(['hidden']);
        await expect(onRef.forward([1, 2])).rejects.toThrow(/without 'lastLogits'; use forwardOutputs/);
        expect(Object.keys(onlyLast.plan.graph.outputs)).toEqual(['lastLogits']);
        expect(Object.keys(all.plan.graph.outputs)).toEqual(['lastLogits', 'logits', 'hidden']);
        await expect(loadModel(join(FIX, dir), { kind: 'decoder', outputs: ['logits', 'logits'] })).rejects.toThrow(/'outputs' must be a non-empty list of distinct names/);
        await expect(loadModel(join(FIX, dir), { kind: 'decoder', outputs: ['pooled' as never] })).rejects.toThrow(/lastLogits, logits, hidden/);
      } finally {
        all.dispose();
        onlyLast.dispose();
        onRef.dispose();
      }
    });
});
