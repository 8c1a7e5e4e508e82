// Encoder requests through the pool: requests/s and texts per pass for C concurrent one-text
// embed requests on one worker, with continuous batching (waiting requests share packed passes)
// and without (one request per pass), on the tiny BERT task fixture and a MiniLM-L6-shaped model
// with random weights (minilm-fixture.ts); the fastest of 20 rounds. Results are checked against
// each other before timing. A scheduler benchmark, not a model one.
//
// npm run build:ts && npx tsx bench/encoder-pool.bench.ts   (writes bench/results/encoder-pool.{json,md})

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, type InferencePool } from '../dist/scheduler/pool.js';
import { MINILM_SHAPE, writeMiniLmShaped } from './minilm-fixture.js';

const TINY = join(import.meta.dirname, '..', 'test', 'fixtures', 'encoder-tasks', 'embed-mean');
const scratch = mkdtempSync(join(tmpdir(), 'attnode-encoder-pool-'));
writeMiniLmShaped(scratch);
const MODELS = { 'tiny (2 x 32)': TINY, [`MiniLM-L6-shaped (${MINILM_SHAPE.layers} x ${MINILM_SHAPE.hidden})`]: scratch };
const ROUNDS = 20;
const CONCURRENCY = [1, 8, 32];
/** Largest difference allowed between the modes' vectors: the same rows in passes of other sizes (see test/encoder-pool.test.ts). */
const TOL_PACKING_F32 = { atol: 1e-6, rtol: 1e-5 };

const texts = (c: number, round: number) => Array.from({ length: c }, (_, i) => `request ${i} of round ${round}: some words to embed, of a length that varies ${'x'.repeat(i % 7)}`);

interface Row {
  model: string;
  concurrency: number;
  batching: boolean;
  requestsPerSecond: number;
  textsPerPass: number;
}

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

const rows: Row[] = [];
for (const [name, model] of Object.entries(MODELS)) {
  const pools = { true: createPool({ model, threadsPerWorker: 1, maxBatch: 32 }), false: createPool({ model, threadsPerWorker: 1, maxBatch: 32, batching: false }) };
  await Promise.all([pools.true.ready(), pools.false.ready()]);
  for (const c of CONCURRENCY) {
    check(await round(pools.true, c, -1), await round(pools.false, c, -1));
    for (const batching of [true, false]) {
      const pool = pools[String(batching) as 'true' | 'false'];
      await round(pool, c, -2);
      const before = pool.metrics().batch;
      // The fastest round: these machines are shared and noisy, and the minimum is the least disturbed.
      let best = Infinity;
      for (let r = 0; r < ROUNDS; r++) {
        const t0 = performance.now();
        await round(pool, c, r);
        best = Math.min(best, (performance.now() - t0) / 1000);
      }
      const passes = pool.metrics().batch.passes - before.passes;
      rows.push({ model: name, concurrency: c, batching, requestsPerSecond: c / best, textsPerPass: (c * ROUNDS) / passes });
    }
  }
  await Promise.all([pools.true.close(), pools.false.close()]);
}
rmSync(scratch, { recursive: true, force: true });

const md = [
  `# Encoder pool: ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg()[0]!.toFixed(2)}`,
  '',
  '| model | concurrent requests | batching | requests/s | texts per pass | ratio to no batching |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const base = rows.find((x) => x.model === r.model && x.concurrency === r.concurrency && !x.batching)!;
    return `| ${r.model} | ${r.concurrency} | ${r.batching ? 'on' : 'off'} | ${r.requestsPerSecond.toFixed(0)} | ${r.textsPerPass.toFixed(2)} | ${(r.requestsPerSecond / base.requestsPerSecond).toFixed(2)}x |`;
  }),
].join('\n');
console.log(md);
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'encoder-pool.json'), JSON.stringify({ rows }, null, 2));
writeFileSync(join(out, 'encoder-pool.md'), `${md}\n`);
