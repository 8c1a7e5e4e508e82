// Every op on every available backend against the reference backend (see harness/ops-harness.ts).
import { describe, expect, it } from 'vitest';
import { NativeBackend } from '../ts/backend/native.js';
import { loadAddon } from '../ts/native.js';
import type { Backend } from '../ts/backend/backend.js';
import { opNames } from '../ts/backend/registry.js';
import { checkCase } from './harness/ops-harness.js';
import { opCases } from './harness/cases/index.js';

const isas = loadAddon().cpuInfo().available;
const backends: Backend[] = isas.map((isa) => new NativeBackend({ isa }));
const cases = opCases();

describe('op harness coverage', () => {
  it('has at least 12 shape sets for every op', () => {
    for (const op of opNames()) expect(cases.filter((c) => c.op === op).length, op).toBeGreaterThanOrEqual(12);
  });
});

for (const backend of backends) {
  describe(`${backend.name} vs reference`, () => {
    for (const op of opNames()) {
      describe(op, () => {
        it.each(cases.filter((c) => c.op === op).map((c) => [c.label, c] as const))('%s', async (_label, c) => {
          const r = await checkCase(backend, c);
          expect(r.message).toBe('ok');
        });
      });
    }
  });
}
