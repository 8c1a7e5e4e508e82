// Models on the cuda backend against the native (CPU) backend: every family the CPU runs, from
// the project's fixture checkpoints. Decoders: last-position logits and greedy continuations,
// f32 and f16 K/V, safetensors and GGUF q8_0; forks and beams on device pages. Encoders: the
// last hidden state. Encoder-decoders: encoder output and decoder logits step by step.
// Without a CUDA device every case skips and the reason is printed (cudaGetDeviceCount's).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CudaBackend } from '../ts/backend/cuda.js';
import { createBackend } from '../ts/backend/backends.js';
import { loadModel, type DecoderModel } from '../ts/models/model.js';
import { Tensor } from '../ts/tensor/tensor.js';
import type { EncoderModel } from '../ts/models/encoder.js';
import type { EncoderDecoderModel } from '../ts/models/seq2seq.js';
import { cudaInfo } from '../ts/native.js';
import { MODEL_FIXTURES as FIX, greedy, maxDiff } from './helpers/decoding.js';
import { TOL_MODEL_LOGITS_F32, TOL_MODEL_LOGITS_KV_F16, TOL_MODEL_LOGITS_Q8_0 } from './harness/tolerance.js';

const info = cudaInfo();
const NO_DEVICE = info.devices === 0;
if (NO_DEVICE) console.log(`cuda model parity skipped: ${info.reason ?? 'no CUDA device'}`);
const SLOW = 300_000;
/** f32 on both sides; the CUDA kernels sum in another order (warp reductions, split-K attention). */
const F32 = 2 * TOL_MODEL_LOGITS_F32;

let cuda: CudaBackend;
beforeAll(async () => {
  if (!NO_DEVICE) cuda = (await createBackend('cuda')) as CudaBackend;
});
afterAll(() => cuda?.dispose());

const PROMPTS = [[1, 2, 3], [5, 17, 4, 9, 30, 2, 11, 8, 23, 6, 1, 13]];

const DECODERS = [
  { path: 'gpt2-tiny', tol: F32 },
  { path: 'llama-tiny', tol: F32 },
  { path: 'mistral-tiny', tol: F32 },
  { path: 'qwen2-tiny', tol: F32 },
  { path: 'qwen3-tiny', tol: F32 },
  { path: 'phi3-tiny', tol: F32 },
  { path: 'gemma2-tiny', tol: F32 },
  { path: 'gemma3-tiny', tol: F32 },
  { path: 'llama-dynamic-tiny', tol: F32 },
  { path: 'llama-yarn-tiny', tol: F32 },
  { path: 'llama-llama3-tiny', tol: F32 },
  // Both sides quantize the activations per block of 32 for q8_0 (CPU: AVX-512/VNNI, CUDA: dp4a).
  { path: 'gpt2-tiny/model-q8_0.gguf', tol: TOL_MODEL_LOGITS_Q8_0 },
  { path: 'llama-tiny/model-q8_0.gguf', tol: TOL_MODEL_LOGITS_Q8_0 },
  { path: 'llama-tiny/model-f32.gguf', tol: F32 },
];

describe.skipIf(NO_DEVICE)('decoders on cuda match native', () => {
  for (const c of DECODERS)
    for (const kvDtype of ['f32', 'f16'] as const) {
      it(`${c.path}, ${kvDtype} K/V: logits and greedy continuations`, async () => {
        const onGpu = (await loadModel(join(FIX, c.path), { kind: 'decoder', backend: cuda, kvDtype, pageRows: 4 })) as DecoderModel;
        const onCpu = (await loadModel(join(FIX, c.path), { kind: 'decoder', backend: 'native', kvDtype, pageRows: 4 })) as DecoderModel;
        try {
          let worst = 0;
          for (const p of PROMPTS) {
            worst = Math.max(worst, maxDiff(await onGpu.forward(p), await onCpu.forward(p)));
            expect(await greedy(onGpu, p, 12)).toEqual(await greedy(onCpu, p, 12));
          }
          console.log(`${c.path} ${kvDtype} K/V on cuda: max |logit diff| vs native ${worst.toExponential(2)}`);
          expect(worst).toBeLessThanOrEqual(kvDtype === 'f16' ? Math.max(c.tol, TOL_MODEL_LOGITS_KV_F16) : c.tol);
        } finally {
          onGpu.dispose();
          onCpu.dispose();
        }
      }, SLOW);
    }

  it('forks share device pages and diverge without touching each other; beams reorder page tables', async () => {
    const m = (await loadModel(join(FIX, 'llama-tiny'), { kind: 'decoder', backend: cuda, pageRows: 4 })) as DecoderModel;
    const ref = (await loadModel(join(FIX, 'llama-tiny'), { kind: 'decoder', backend: 'native', pageRows: 4 })) as DecoderModel;
    try {
      for (const model of [m, ref]) expect(model.states.stats().pagesCopied).toBe(0);
      const run = async (model: DecoderModel) => {
        const a = model.newCache();
        await model.forward([1, 2, 3, 4, 5, 6], { cache: a });
        const b = a.fork();
        const la = await model.forward([7], { cache: a });
        const lb = await model.forward([9], { cache: b });
        const la2 = await model.forward([8], { cache: a });
        a.dispose();
        b.dispose();
        return [la, lb, la2];
      };
      const got = await run(m);
      const want = await run(ref);
      got.forEach((g, i) => expect(maxDiff(g, want[i]!)).toBeLessThanOrEqual(F32));
      expect(m.states.stats().pagesCopied).toBe(ref.states.stats().pagesCopied);
      const beams = await m.generate([1, 2, 3], { numBeams: 3, maxTokens: 6 });
      const beamsRef = await ref.generate([1, 2, 3], { numBeams: 3, maxTokens: 6 });
      expect(beams.sequences.map((x) => x.ids)).toEqual(beamsRef.sequences.map((x) => x.ids));
    } finally {
      m.dispose();
      ref.dispose();
    }
  }, SLOW);

  it('weights and state live in device memory, and go back when the model is disposed', async () => {
    const before = cuda.memory().bytesLive;
    const m = (await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: cuda })) as DecoderModel;
    await m.forward([1, 2, 3]);
    expect(cuda.memory().bytesLive).toBeGreaterThan(before);
    m.dispose();
    // Programs and weights let go at dispose; the allocator keeps blocks cached, not live.
    await new Promise((r) => setTimeout(r, 10));
    expect(cuda.memory().bytesLive).toBeLessThanOrEqual(before + (1 << 20));
  }, SLOW);
});

const ENCODERS = ['bert-tiny', 'bert-tiny-mlm', 'bert-tiny-cls', 'distilbert-tiny', 'roberta-tiny', 'xlmr-tiny', 'bert-tiny.gguf'];

describe.skipIf(NO_DEVICE)('encoders on cuda match native', () => {
  for (const path of ENCODERS)
    it(`${path}: hidden states and head outputs, one input and a packed batch`, async () => {
      const onGpu = (await loadModel(join(FIX, path), { kind: 'encoder', backend: cuda })) as unknown as EncoderModel;
      const onCpu = (await loadModel(join(FIX, path), { kind: 'encoder', backend: 'native' })) as unknown as EncoderModel;
      try {
        const batch = [[2, 5, 7, 9, 3], [2, 11, 4, 3]];
        const a = await onGpu.forward(batch);
        const b = await onCpu.forward(batch);
        a.forEach((o, i) => {
          expect(maxDiff(o.lastHiddenState, b[i]!.lastHiddenState)).toBeLessThanOrEqual(F32);
          if (b[i]!.logits) expect(maxDiff(o.logits!, b[i]!.logits!)).toBeLessThanOrEqual(F32);
          if (b[i]!.pooled) expect(maxDiff(o.pooled!, b[i]!.pooled!)).toBeLessThanOrEqual(F32);
        });
      } finally {
        onGpu.dispose();
        onCpu.dispose();
      }
    }, SLOW);
});

const SEQ2SEQ = ['t5-tiny', 't5v11-tiny', 'bart-tiny', 'mbart-tiny', 'marian-tiny'];

describe.skipIf(NO_DEVICE)('encoder-decoders on cuda match native', () => {
  for (const path of SEQ2SEQ)
    it(`${path}: encoder output, decoder logits per step on device state, greedy generation`, async () => {
      const opts = { kind: 'encoder-decoder' as const, pageRows: 4, maxBatch: 4, contextLength: 32 };
      const onGpu = (await loadModel(join(FIX, path), { ...opts, backend: cuda })) as unknown as EncoderDecoderModel;
      const onCpu = (await loadModel(join(FIX, path), { ...opts, backend: 'native' })) as unknown as EncoderDecoderModel;
      try {
        const input = [5, 9, 13, 4, 2, 1];
        const [eg, ec] = [await onGpu.encode(input), await onCpu.encode(input)];
        expect(maxDiff(eg.hidden, ec.hidden)).toBeLessThanOrEqual(F32);
        const [cg, cc] = [onGpu.newCache(), onCpu.newCache()];
        const start = onCpu.decoderStartTokenId;
        for (const id of [start, 7, 3, 8]) {
          const lg = await onGpu.forward([id], { encoder: eg, cache: cg });
          const lc = await onCpu.forward([id], { encoder: ec, cache: cc });
          expect(maxDiff(lg, lc)).toBeLessThanOrEqual(F32);
        }
        for (const x of [eg, ec, cg, cc]) x.dispose();
        const g = await onGpu.generate(input, { maxTokens: 6 });
        const c = await onCpu.generate(input, { maxTokens: 6 });
        expect(g.sequences.map((x) => x.ids)).toEqual(c.sequences.map((x) => x.ids));
      } finally {
        onGpu.dispose();
        onCpu.dispose();
      }
    }, SLOW);
});

describe('the cuda backend without a device', () => {
  it.skipIf(!NO_DEVICE)('made directly, it fails each use with the reason and refuses what CUDA does not run', async () => {
    const why = /(attnode was built without CUDA support|no CUDA device \(cudaGetDeviceCount)/;
    const b = new CudaBackend();
    expect(() => b.packWeight(Tensor.zeros('f32', [4, 4]))).toThrow(why);
    expect(() => b.memory()).toThrow(why);
    expect(() => b.createStatePool({ layers: 1, kvHeads: 1, headDim: 4, dtype: 'f32' }, { capacity: 8 })).toThrow(why);
    // The executor names the slots a device copies per pass; a program without them is refused.
    expect(() => b.compile({ slots: [], layers: 0, steps: [] })).toThrow(/needs the program's inputs and outputs/);
    expect(() => b.compile({ slots: [], layers: 0, steps: [], inputs: [], outputs: [] })).toThrow(why);
    await expect(b.run('matmul', { a: Tensor.zeros('f32', [2, 2]), b: Tensor.zeros('f32', [2, 2]) })).rejects.toThrow(
      /cuda backend: op 'matmul' does not run on CUDA; it runs add, mul/,
    );
    await expect(b.run('add', { a: Tensor.zeros('f32', [2, 2]), b: Tensor.zeros('f32', [2]) })).rejects.toThrow(why);
    b.dispose();
    expect(() => b.packWeight(Tensor.zeros('f32', [4, 4]))).toThrow(/cuda backend is disposed/);
  });

  it.skipIf(!NO_DEVICE)('is refused by name with the reason, for every model kind', async () => {
    const why = /backend 'cuda': (attnode was built without CUDA support|no CUDA device)/;
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: 'cuda' })).rejects.toThrow(why);
    await expect(loadModel(join(FIX, 'bert-tiny'), { kind: 'encoder', backend: 'cuda' })).rejects.toThrow(why);
    await expect(loadModel(join(FIX, 't5-tiny'), { kind: 'encoder-decoder', backend: 'cuda' })).rejects.toThrow(why);
  });
});
