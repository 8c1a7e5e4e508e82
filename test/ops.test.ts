// Every op on every available backend against the reference backend (see harness/ops-harness.ts).
// WebGPU joins when an adapter exists (lavapipe on machines without a GPU); without one it is
// skipped with the reason printed.
import { afterAll, describe, expect, it } from 'vitest';
import { NativeBackend } from '../ts/backend/native.js';
import { loadAddon } from '../ts/native.js';
import type { Backend } from '../ts/backend/backend.js';
import { opNames } from '../ts/backend/registry.js';
import { createWebGPUBackend, type WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { checkCase } from './harness/ops-harness.js';
import { opCases } from './harness/cases/index.js';

const isas = loadAddon().cpuInfo().available;
const backends: Backend[] = isas.map((isa) => new NativeBackend({ isa }));
const cases = opCases();

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

  it('every backend, webgpu included when present, implements every op', () => {
    for (const b of backends) expect(opNames().filter((op) => !b.ops.has(op)), b.name).toEqual([]);
  });
});

for (const backend of backends) {
  describe(`${backend.name} vs reference`, () => {
    for (const op of opNames().filter((o) => backend.ops.has(o))) {
      describe(op, () => {
        it.each(cases.filter((c) => c.op === op).map((c) => [c.label, c] as const))('%s', async (_label, c) => {
          const r = await checkCase(backend, c);
          expect(r.message).toBe('ok');
        });
      });
    }
  });
}
