// Every op on every backend against the reference backend (see harness/ops-harness.ts): the
// native one once per instruction set this CPU has, and WebGPU when an adapter exists (lavapipe
// on machines without a GPU); without one its cases show as skipped (the setup prints why).
import { afterAll, describe, expect, it } from 'vitest';
import { NativeBackend } from '../ts/backend/native.js';
import { loadAddon } from '../ts/native.js';
import type { Backend } from '../ts/backend/backend.js';
import { opNames } from '../ts/backend/registry.js';
import type { WebGPUBackend } from '../ts/backend/webgpu/index.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';
import { checkCase } from './harness/ops-harness.js';
import { opCases } from './harness/cases/index.js';

const isas = loadAddon().cpuInfo().available;
const cases = opCases();
const webgpu: WebGPUBackend | undefined = await openWebGPU();
afterAll(() => webgpu?.dispose());
/** Each backend under test, with whether this machine can run it. */
const backends: Array<{ name: string; backend: Backend | undefined }> = [
  ...isas.map((isa) => ({ name: `native-${isa}`, backend: new NativeBackend({ isa }) as Backend })),
  { name: 'webgpu', backend: webgpu },
];

describe('op harness coverage', () => {
  it('has at least 12 shape sets for every op', () => {
    for (const op of opNames()) expect(cases.filter((c) => c.op === op).length, op).toBeGreaterThanOrEqual(12);
  });

  it('every native backend implements every op', () => {
    for (const { name, backend } of backends.filter((b) => b.name !== 'webgpu')) expect(opNames().filter((op) => !backend!.ops.has(op)), name).toEqual([]);
  });

  it.skipIf(!HAS_WEBGPU)('the webgpu backend implements every op', () => {
    expect(opNames().filter((op) => !webgpu!.ops.has(op))).toEqual([]);
  });
});

for (const { name, backend } of backends) {
  describe.skipIf(backend === undefined)(`${name} vs reference`, () => {
    for (const op of opNames()) {
      describe(op, () => {
        it.each(cases.filter((c) => c.op === op).map((c) => [c.label, c] as const))('%s', async (_label, c) => {
          const refused = c.refusedBy?.[name];
          if (refused) {
            await expect(checkCase(backend!, c)).rejects.toThrow(refused);
            return;
          }
          const r = await checkCase(backend!, c);
          expect(r.message).toBe('ok');
        });
      });
    }
  });
}
