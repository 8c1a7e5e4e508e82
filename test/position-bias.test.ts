// Generated attention biases against PyTorch goldens (tools/reference/position_bias.py, written
// from HF's modeling_t5.py and BLOOM's ALiBi): T5's bucket of every relative position in
// [-400, 400] for five bucket layouts, and whole attention calls with each bias on every
// backend. The op harness (ops.test.ts) checks the backends against the reference on many more shapes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { t5Bucket } from '../ts/backend/ops/position-bias.js';
import { NativeBackend } from '../ts/backend/native.js';
import { ReferenceBackend } from '../ts/backend/reference.js';
import type { Backend } from '../ts/backend/backend.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { TOL_ATTENTION_F32 } from './harness/tolerance.js';
import { HAS_WEBGPU, openWebGPU } from './helpers/webgpu.js';

interface Call {
  positionBias: 't5' | 'alibi';
  tq: number;
  tk: number;
  heads: number;
  d: number;
  causal: boolean;
  qOffset: number;
  scale: number;
  buckets?: number;
  maxDistance?: number;
  q: number[];
  k: number[];
  v: number[];
  biasTable: number[];
  out: number[];
}
const G = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'position-bias', 'goldens.json'), 'utf8')) as {
  version: number;
  buckets: Array<{ buckets: number; maxDistance: number; bidirectional: boolean; from: number; bucket: number[] }>;
  calls: Call[];
};

const gpu = await openWebGPU();
afterAll(() => gpu?.dispose());

describe('T5 relative-position buckets', () => {
  it('reads golden layout version 1', () => expect(G.version).toBe(1));
  for (const b of G.buckets)
    it(`equal PyTorch's for ${b.buckets} buckets to ${b.maxDistance}, ${b.bidirectional ? 'bidirectional' : 'causal'}`, () => {
      const ours = b.bucket.map((_, i) => t5Bucket(b.from + i, b.buckets, b.maxDistance, b.bidirectional));
      expect(ours).toEqual(b.bucket);
    });
});

const BACKENDS: Array<[string, Backend | undefined]> = [['native', new NativeBackend()], ['reference', new ReferenceBackend()], ['webgpu', gpu]];
for (const [name, backend] of BACKENDS)
  describe.skipIf(backend === undefined || (name === 'webgpu' && !HAS_WEBGPU))(`attention with a generated bias on ${name}`, () => {
    for (const c of G.calls)
      it(`${c.positionBias}: Tq=${c.tq} Tk=${c.tk} H=${c.heads} ${c.causal ? 'causal' : 'bidirectional'} qOffset=${c.qOffset} equals PyTorch`, async () => {
        const t = (v: number[], shape: number[]) => Tensor.fromValues(v, shape);
        const biasTable = c.positionBias === 't5' ? t(c.biasTable, [c.buckets!, c.heads]) : t(c.biasTable, [c.heads]);
        const got = await backend!.run('attention', {
          q: t(c.q, [c.tq, c.heads, c.d]), k: t(c.k, [c.tk, c.heads, c.d]), v: t(c.v, [c.tk, c.heads, c.d]),
          causal: c.causal, qOffset: c.qOffset, scale: c.scale, positionBias: c.positionBias, biasTable,
          ...(c.positionBias === 't5' ? { maxDistance: c.maxDistance!, bidirectional: !c.causal } : {}),
        });
        const g = got.toFloat32();
        expect(g.length).toBe(c.out.length);
        for (let i = 0; i < c.out.length; i++)
          expect(Math.abs(g[i]! - c.out[i]!), `value ${i}`).toBeLessThanOrEqual(TOL_ATTENTION_F32.atol + TOL_ATTENTION_F32.rtol * Math.abs(c.out[i]!));
      });
  });
