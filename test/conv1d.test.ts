// Conv1D weights (Hugging Face GPT-2 stores attention and MLP weights as (K, N), [in, out]) packed
// by strides with packWeight's `transposed` / `columns`: the same linear outputs as the old
// transposed JS copy and as a plain reference matmul, for f32 and f16, fused QKV split included;
// an f16 GPT-2 checkpoint loads with f16 weights.

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, PackWeightOptions } from '../ts/backend/backend.js';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { SafetensorsFile } from '../ts/io/safetensors.js';
import { loadModel } from '../ts/models/model.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { WEIGHT_FORMATS } from '../ts/tensor/formats.js';
import { safetensorsBytes } from './helpers/checkpoint-writers.js';
import { GOLDENS, MODEL_FIXTURES as FIX, maxDiff } from './helpers/decoding.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { normals } from './harness/rng.js';
import { TOL_EXACT, TOL_GEMM_F32, TOL_LINEAR_HALF, TOL_MODEL_LOGITS_F16_WEIGHTS, TOL_MODEL_LOGITS_F32, type Tolerance } from './harness/tolerance.js';

const dir = mkdtempSync(join(tmpdir(), 'attnode-conv1d-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Awkward sizes: K and the fused width are not multiples of any panel or tile.
const M = 5, K = 33, C = 17, NT = 3 * C;

/** y(M, N) = x(M, K) . W[:, c0:c1] with W stored (K, NT), in f64 from the values W holds. */
function referenceMatmul(x: Float32Array, w: Float32Array, c0: number, c1: number): Float32Array {
  const y = new Float32Array(M * (c1 - c0));
  for (let i = 0; i < M; i++)
    for (let n = c0; n < c1; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[i * K + k]! * w[k * NT + n]!;
      y[i * (c1 - c0) + n - c0] = acc;
    }
  return y;
}

function within(got: Float32Array, want: Float32Array, tol: Tolerance): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) - (tol.atol + tol.rtol * Math.abs(want[i]!)));
  expect(worst).toBeLessThanOrEqual(0);
}

async function linear(be: Backend, x: Tensor, w: Tensor | ReturnType<SafetensorsFile['tensor']>, options: PackWeightOptions): Promise<Float32Array> {
  const weight = be.packWeight(w, options);
  try {
    return (await be.run('linear', { x, weight })).toFloat32();
  } finally {
    weight.dispose();
  }
}

const backends: [string, () => Promise<Backend | undefined>][] = [
  ['native', async () => new NativeBackend()],
  ['reference', async () => new ReferenceBackend()],
  ['webgpu', () => openWebGPU()],
];

describe.each(['f32', 'f16'] as const)('Conv1D (K, 3N) %s weights packed by strides', (dtype) => {
  const wf = normals(K * NT, 3, 1 / Math.sqrt(K));
  const stored = Tensor.fromValues(wf, [K, NT]).to(dtype);
  const values = stored.toFloat32(); // what the weights hold after rounding to dtype
  const x = Tensor.fromValues(normals(M * K, 4), [M, K]);
  const path = join(dir, `c_attn-${dtype}.safetensors`);
  writeFileSync(path, safetensorsBytes({ w: { dtype: WEIGHT_FORMATS[dtype].safetensors!, shape: [K, NT], bytes: new Uint8Array(stored.storage.buffer, stored.storage.byteOffset, stored.storage.byteLength) } }));
  const tol = dtype === 'f32' ? TOL_GEMM_F32 : TOL_LINEAR_HALF;

  for (const [name, open] of backends)
    it.skipIf(name === 'webgpu' && !HAS_WEBGPU)(`${name}: q, k, v column ranges and the whole weight match a reference matmul and the transposed copy`, async () => {
      const be = (await open())!;
      const file = new SafetensorsFile(path);
      try {
        for (const [c0, c1] of [[0, C], [C, 2 * C], [2 * C, NT], [0, NT]] as const) {
          const want = referenceMatmul(x.toFloat32(), values, c0, c1);
          // The old path: a contiguous (N, K) copy made in JavaScript.
          const copy = await linear(be, x, stored.transpose(0, 1).slice(0, c0, c1).contiguous(), {});
          const fromTensor = await linear(be, x, stored, { transposed: true, columns: [c0, c1] });
          const fromFile = await linear(be, x, file.tensor('w'), { transposed: true, columns: [c0, c1] });
          within(fromTensor, want, tol);
          // Same weights in the same packed layout: the kernels see identical bytes.
          within(fromTensor, copy, TOL_EXACT);
          within(fromFile, copy, TOL_EXACT);
        }
      } finally {
        file.dispose();
        be.dispose();
      }
    });

  it('refuses bad layouts with errors that name the option', async () => {
    const be = new NativeBackend();
    expect(() => be.packWeight(stored, { transposed: true, columns: [0, NT + 1] })).toThrow(/'columns' must be \[start, end\)/);
    expect(() => be.packWeight(stored, { columns: [0, 3] })).toThrow(/'columns' needs 'transposed': true/);
    const q = Tensor.fromValues(normals(64 * 2, 1), [2, 64]).to('q8_0');
    expect(() => be.packWeight(q, { transposed: true })).toThrow(TypeError);
    expect(() => new ReferenceBackend().packWeight(stored, { transposed: 1 as unknown as boolean })).toThrow(/'transposed' must be a boolean/);
    be.dispose();
  });
});

describe('an f16 GPT-2 checkpoint', () => {
  // gpt2-tiny with every tensor stored as f16, as `model.half().save_pretrained()` writes it.
  const src = new SafetensorsFile(join(FIX, 'gpt2-tiny', 'model.safetensors'));
  const tensors = Object.fromEntries(src.names.map((n) => {
    const t = src.tensor(n).load().to('f16');
    return [n, { dtype: 'F16', shape: [...t.shape], bytes: new Uint8Array(t.storage.buffer, t.storage.byteOffset, t.storage.byteLength) }];
  }));
  src.dispose();
  const make = () => {
    const out = mkdtempSync(join(dir, 'gpt2-f16-'));
    writeFileSync(join(out, 'model.safetensors'), safetensorsBytes(tensors));
    copyFileSync(join(FIX, 'gpt2-tiny', 'config.json'), join(out, 'config.json'));
    return out;
  };

  it('loads with f16 linear weights and stays within the f16 budget of the f32 goldens', async () => {
    const path = make();
    const m = await loadModel(path, { kind: 'decoder' });
    const half = await loadModel(path, { kind: 'decoder', dtype: 'f32' });
    try {
      const dtypes = [...m.weightDTypes().values()];
      expect(dtypes.length).toBe(3 * 6 + 1);
      expect(new Set(dtypes)).toEqual(new Set(['f16']));
      expect(new Set(half.weightDTypes().values())).toEqual(new Set(['f32']));
      for (const p of GOLDENS.models['gpt2-tiny']!.prompts) {
        const logits = await m.forward(p.prompt);
        expect(maxDiff(logits, p.logits)).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F16_WEIGHTS);
        // The same f16 values widened to f32 at load: only the kernels' summation order differs.
        expect(maxDiff(logits, await half.forward(p.prompt))).toBeLessThanOrEqual(TOL_MODEL_LOGITS_F32);
      }
    } finally {
      m.dispose();
      half.dispose();
    }
  });

  it('an f32 checkpoint still packs f32 weights', async () => {
    const m = await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder' });
    expect(new Set(m.weightDTypes().values())).toEqual(new Set(['f32']));
    m.dispose();
  });
});
