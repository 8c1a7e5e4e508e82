// The backend registry: every name resolves to its backend or fails with an error that says
// why (cuda: not built, or no device); an unknown name lists the registry's names wherever
// a backend is chosen by name (createBackend, loadModel, LanguageModel.load, createPool, CLI).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, backendNames, checkBackendName, createBackend, cudaUnavailableReason } from '../ts/backend/backends.js';
import { CudaBackend } from '../ts/backend/cuda.js';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import { WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { LanguageModel, defaultModelPath } from '../ts/generate/model.js';
import { loadModel } from '../ts/models/model.js';
import { cpuInfo, cudaInfo } from '../ts/native.js';
import { createPool } from '../ts/scheduler/pool.js';
import { main } from '../ts/cli.js';
import { HAS_WEBGPU } from './helpers/webgpu.js';
import { TOL_MODEL_LOGITS_F32 } from './harness/tolerance.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const NAMES = /must be one of native, webgpu, cuda, reference, got 'gpu'/;

describe('backend registry', () => {
  it('holds every backend, built here or not', () => {
    expect(backendNames()).toEqual(['native', 'webgpu', 'cuda', 'reference']);
  });

  it('creates native and reference by name', async () => {
    const n = await createBackend('native');
    expect(n).toBeInstanceOf(NativeBackend);
    n.dispose();
    const r = await createBackend('reference');
    expect(r).toBeInstanceOf(ReferenceBackend);
    r.dispose();
  });

  // This build's own reason: not compiled (no nvcc), or compiled and no device (these machines).
  it.skipIf(cudaInfo().devices > 0)('cuda without a device fails with why: not built, or no device', async () => {
    const info = cudaInfo();
    expect(info.compiled).toBe(cpuInfo().cuda);
    expect(info.names).toHaveLength(info.devices);
    expect(info.reason).toMatch(info.compiled ? /cudaGetDeviceCount/ : /built without CUDA support/);
    const why = `backend 'cuda': ${cudaUnavailableReason(info)}`;  // toThrow(string): the message contains it
    expect(cudaUnavailableReason(info)).toMatch(info.compiled ? /^no CUDA device/ : /^attnode was built without CUDA support/);
    await expect(createBackend('cuda')).rejects.toThrow(BackendUnavailableError);
    await expect(createBackend('cuda')).rejects.toThrow(why);
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: 'cuda' })).rejects.toThrow(why);
    await expect(LanguageModel.load(defaultModelPath(), { backend: 'cuda' })).rejects.toThrow(why);
  });

  it.skipIf(cudaInfo().devices === 0)('creates cuda by name where a device exists', async () => {
    const c = await createBackend('cuda');
    expect(c).toBeInstanceOf(CudaBackend);
    c.dispose();
  });

  it('the cuda reasons: a build without nvcc, a build without a device', () => {
    expect(cudaUnavailableReason({ compiled: false, devices: 0, names: [], reason: 'attnode was built without CUDA support' })).toMatch(
      /^attnode was built without CUDA support/,
    );
    expect(
      cudaUnavailableReason({ compiled: true, devices: 0, names: [], reason: 'cudaGetDeviceCount: cudaErrorNoDevice: no CUDA-capable device is detected' }),
    ).toBe('no CUDA device (cudaGetDeviceCount: cudaErrorNoDevice: no CUDA-capable device is detected)');
    expect(cudaUnavailableReason({ compiled: true, devices: 1, names: ['NVIDIA H200 (sm_90, 132 SMs, 139 GiB)'] })).toMatch(
      /^found NVIDIA H200 \(sm_90, 132 SMs, 139 GiB\)$/,
    );
  });

  it.skipIf(!HAS_WEBGPU)('creates webgpu by name (dawn.node opened only then)', async () => {
    const g = await createBackend('webgpu');
    expect(g).toBeInstanceOf(WebGPUBackend);
    g.dispose();
  });

  it('an unknown name lists the registry, wherever a backend is named', async () => {
    await expect(createBackend('gpu' as never)).rejects.toThrow(/createBackend: 'name' must be one of native, webgpu, cuda, reference, got 'gpu'/);
    expect(() => checkBackendName(7, 'f')).toThrow(TypeError);
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: 'gpu' as never })).rejects.toThrow(RangeError);
    await expect(loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: 'gpu' as never })).rejects.toThrow(NAMES);
    await expect(LanguageModel.load(defaultModelPath(), { backend: 'gpu' as never })).rejects.toThrow(NAMES);
    expect(() => createPool({ backend: 'gpu' as never })).toThrow(NAMES);
  });

  it.skipIf(cudaInfo().devices > 0)('the CLI takes the registry names: cuda gets through the flag check and fails with its reason', async () => {
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
    try {
      expect(await main(['generate', '--backend', 'cuda', '--max-tokens', '1', 'hi'])).toBe(1);
      expect(await main(['serve', '--backend', 'gpu'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(err.join('')).toMatch(/backend 'cuda': (attnode was built without CUDA support|no CUDA device \(.+\))/);
    expect(err.join('')).toMatch(/--backend must be one of native, webgpu, cuda, reference, got 'gpu'/);
  });
});

describe.skipIf(!HAS_WEBGPU)('webgpu by name', () => {
  it('loadModel(path, { backend: "webgpu" }) gives the logits of the native backend', async () => {
    const onGpu = await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: 'webgpu' });
    const onCpu = await loadModel(join(FIX, 'gpt2-tiny'), { kind: 'decoder', backend: 'native' });
    try {
      expect(onGpu.backend).toBeInstanceOf(WebGPUBackend);
      const a = await onGpu.forward([1, 2, 3]);
      const b = await onCpu.forward([1, 2, 3]);
      expect(a.length).toBe(b.length);
      // The budget webgpu-models.test.ts allows between the two backends in f32.
      expect(a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0)).toBeLessThanOrEqual(2 * TOL_MODEL_LOGITS_F32);
    } finally {
      onGpu.dispose();
      onCpu.dispose();
    }
  });

  it('LanguageModel.load(path, { backend: "webgpu" }) generates', async () => {
    const lm = await LanguageModel.load(defaultModelPath(), { backend: 'webgpu' });
    try {
      expect(lm.backend).toBeInstanceOf(WebGPUBackend);
      const r = await lm.generate('Once upon a time', { maxTokens: 4, temperature: 0 });
      expect(r.ids.length).toBeGreaterThan(0);
    } finally {
      lm.dispose();
    }
  });
});
