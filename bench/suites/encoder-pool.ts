// Encoder requests through the pool: requests/s and texts per pass for C concurrent one-text
// embed requests on one worker, with continuous batching (waiting requests share packed passes)
// and without (one request per pass), on the tiny BERT task fixture and a MiniLM-L6-shaped model
// with random weights (minilm-fixture.ts); the two modes in the same rounds. Results are checked
// against each other before timing. A scheduler benchmark, not a model one.
// A suite of the runner (it loads the built package: npm run build:ts first):
//   npm run bench -- encoder-pool [--quick]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, type InferencePool } from '../../dist/scheduler/pool.js';
import { MINILM_SHAPE, writeMiniLmShaped } from '../minilm-fixture.js';
import { defineSuite } from '../lib/suite.js';

const TINY = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'encoder-tasks', 'embed-mean');
const CONCURRENCY = [1, 8, 32];
const QUICK_CONCURRENCY = [1, 8];
/** Largest difference allowed between the modes' vectors: the same rows in passes of other sizes (see test/encoder-pool.test.ts). */
const TOL_PACKING_F32 = { atol: 1e-6, rtol: 1e-5 };

const texts = (c: number, round: number) => Array.from({ length: c }, (_, i) => `request ${i} of round ${round}: some words to embed, of a length that varies ${'x'.repeat(i % 7)}`);

async function round(pool: InferencePool, c: number, r: number): Promise<Float32Array[]> {
  const rs = await Promise.all(texts(c, r).map((t) => pool.embed([t])));
  return rs.map((x) => x.embeddings[0]!);
}

function check(a: Float32Array[], b: Float32Array[]): void {
  a.forEach((v, i) =>
    v.forEach((x, k) => {
      const y = b[i]![k]!;
      if (Math.abs(x - y) > TOL_PACKING_F32.atol + Math.abs(y) * TOL_PACKING_F32.rtol) throw new Error(`vector ${i}[${k}]: ${x} with batching, ${y} without`);
    }),
  );
}

export default defineSuite({
  name: 'encoder-pool',
  title: 'Encoder requests through the pool',
  description:
    'C concurrent one-text embed requests on one worker (1 kernel thread), with continuous batching (waiting requests share packed passes) and without (one request per pass), ' +
    'on the tiny BERT task fixture and a MiniLM-L6-shaped random model: requests/s, the two modes in the same rounds, and texts per pass. The modes\' vectors must agree first.',
  async run(ctx) {
    if (!ctx.wants({ backend: 'native', threads: 1 })) return ctx.note('runs at 1 thread on the native backend only');
    const scratch = mkdtempSync(join(tmpdir(), 'attnode-encoder-pool-'));
    writeMiniLmShaped(scratch);
    const models = { tiny: TINY, [`minilm-l6-shaped`]: scratch };
    const lines = ['| model | concurrent requests | batching | requests/s | texts per pass | ratio to no batching |', '|---|---|---|---|---|---|'];
    try {
      for (const [name, model] of Object.entries(models)) {
        const pools = { true: createPool({ model, threadsPerWorker: 1, maxBatch: 32 }), false: createPool({ model, threadsPerWorker: 1, maxBatch: 32, batching: false }) };
        try {
          await Promise.all([pools.true.ready(), pools.false.ready()]);
          for (const c of ctx.quick ? QUICK_CONCURRENCY : CONCURRENCY) {
            check(await round(pools.true, c, -1), await round(pools.false, c, -1));
            const before = { true: pools.true.metrics().batch.passes, false: pools.false.metrics().batch.passes };
            let r = 0;
            const cases = await ctx.interleave(
              ([true, false] as const).map((batching) => ({
                spec: { name: `embed, batching ${batching ? 'on' : 'off'}`, params: { backend: 'native', threads: 1, model: name, shape: `${c} concurrent` }, unit: 'requests/s', work: c, rounds: ctx.quick ? 3 : 20, minTimeMs: 0, warmupMs: 0 },
                run: () => round(pools[String(batching) as 'true' | 'false'], c, r++),
              })),
            );
            for (const [i, batching] of [true, false].entries()) {
              const k = String(batching) as 'true' | 'false';
              const calls = cases[i]!.iterations + 1; // the warm-up call counts its passes too
              cases[i]!.derived = { textsPerPass: (c * calls) / (pools[k].metrics().batch.passes - before[k]) };
            }
            cases[0]!.derived!.vsNoBatching = cases[0]!.median / cases[1]!.median;
            for (const cs of cases) lines.push(`| ${name} | ${c} | ${cs.name.endsWith('on') ? 'on' : 'off'} | ${cs.median.toFixed(0)} | ${cs.derived!.textsPerPass!.toFixed(2)} | ${(cs.median / cases[1]!.median).toFixed(2)}x |`);
          }
        } finally {
          await Promise.all([pools.true.close(), pools.false.close()]);
        }
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    ctx.section(lines.join('\n'));
    ctx.note(`tiny: the 2 x 32 task fixture; minilm-l6-shaped: ${MINILM_SHAPE.layers} layers x ${MINILM_SHAPE.hidden}, random weights`);
  },
});
