// Every op on every available backend against the reference backend (see harness/ops-harness.ts).
// WebGPU joins when an adapter exists (lavapipe on machines without a GPU); without one it is
// skipped with the reason printed.
import { afterAll, describe, expect, it } from 'vitest';
import { NativeBackend } from '../ts/backend/native.js';
import { loadAddon } from '../ts/native.js';
import type { Backend, OpArgs } from '../ts/backend/backend.js';
import { opNames } from '../ts/backend/registry.js';
import { createWebGPUBackend, type WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { checkCase, type OpCase } from './harness/ops-harness.js';
import { opCases } from './harness/cases/index.js';

const isas = loadAddon().cpuInfo().available;
const backends: Backend[] = isas.map((isa) => new NativeBackend({ isa }));
const cases = opCases();

/** Ops without a WebGPU kernel yet (they run on the CPU backends). */
const WEBGPU_MISSING = ['attentionNaive', 'linearAttention', 'lstm', 'quantize', 'rnn', 'rowScales'];
/** Cases outside what a backend supports yet (each rejected with a clear error, tested below). */
const unsupported = (backend: Backend, c: OpCase): boolean =>
  backend.name === 'webgpu' && c.op === 'attention' && (c.args as OpArgs['attention']).q.rank === 4;

let webgpu: WebGPUBackend | undefined;
try {
  webgpu = await createWebGPUBackend();
  backends.push(webgpu);
} catch (e) {
  console.log(`webgpu backend not tested: ${(e as Error).message}`);
}
afterAll(() => webgpu?.dispose());

describe('op harness coverage', () => {
  it('has at least 12 shape sets for every op', () => {
    for (const op of opNames()) expect(cases.filter((c) => c.op === op).length, op).toBeGreaterThanOrEqual(12);
  });
  it('the webgpu backend (when present) rejects batched attention with a clear error', async () => {
    if (!webgpu) return;
    const batched = cases.filter((c) => unsupported(webgpu!, c));
    expect(batched.length).toBeGreaterThan(0);
    for (const c of batched) await expect(webgpu.run(c.op, c.args)).rejects.toThrow(/does not support a leading batch dimension/);
  });

  it('the webgpu backend (when present) implements every op but the ones listed', () => {
    if (webgpu) expect(opNames().filter((op) => !webgpu!.ops.has(op)).sort()).toEqual(WEBGPU_MISSING);
  });
});

for (const backend of backends) {
  describe(`${backend.name} vs reference`, () => {
    for (const op of opNames().filter((o) => backend.ops.has(o))) {
      describe(op, () => {
        it.each(cases.filter((c) => c.op === op && !unsupported(backend, c)).map((c) => [c.label, c] as const))('%s', async (_label, c) => {
          const r = await checkCase(backend, c);
          expect(r.message).toBe('ok');
        });
      });
    }
  });
}
