// Sequence state in pages (native/src/state.h), measured three ways:
//   1. bytes one GPT-2 124M-shaped sequence holds against its length, per page size, next to
//      the contiguous (capacity, Hkv, D) buffers it replaced;
//   2. a decode step's attention over 1024 cached rows read through pages of 16, 32, 64 and 1024
//      rows, next to the same op on contiguous tensors (what the page size costs the kernel);
//   3. time to first token of a request whose 512-token prefix an earlier request left in the
//      prefix cache, against the same request with the prefix cache off, on a GPT-2 124M-shaped
//      q8_0 file (written to the system's temp folder on first use).
// Results are checked before they are timed.
// A suite of the runner (it loads the built package: npm run build:ts first):
//   npm run bench -- state [--quick]

import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAddon } from '../../dist/native.js';
import { loadModel } from '../../dist/models/model.js';
import { DecoderLM } from '../../dist/generate/decoder-lm.js';
import { GPT2_124M, writeGpt2_124m } from '../gpt2-124m-fixture.js';
import { defineSuite, type SuiteContext } from '../lib/suite.js';

const addon = loadAddon();
const { layers: L, heads: H, C, ctx: CTX } = GPT2_124M;
const D = C / H;
const MiB = 2 ** 20;
/** A Float32Array over a SharedArrayBuffer (program slots must be; async ops then need no staging copy). */
function shared(n: number, f: (i: number) => number = () => 0): Float32Array {
  const a = new Float32Array(new SharedArrayBuffer(4 * n));
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
}

/** A program that writes each segment's new rows (x: (T, C)) into every layer's K and V. */
function writer(rows: number) {
  const x = shared(rows * C, (i) => ((i * 7) % 13) / 13 - 0.5);
  const steps = [];
  for (let l = 0; l < L; l++)
    for (const which of ['k', 'v'])
      steps.push({ op: 'cast', perSegment: true, args: { x: { slot: 0, shape: ['T', C] }, out: { cache: which, layer: l, rows: 'new', shape: ['T', C] } } });
  return addon.compile({ slots: [x], layers: L, steps });
}

export default defineSuite({
  name: 'state',
  title: 'Sequence state in pages',
  description:
    'K/V bytes one GPT-2 124M-shaped sequence holds against its length per page size; a decode step\'s attention over 1024 cached rows through pages of 16 to 1024 rows ' +
    'against contiguous tensors (same rounds); time to first token with a shared 512-token prefix, prefix cache on and off (interleaved).',
  run,
});

async function run(ctx: SuiteContext): Promise<void> {
  // 1. Bytes per sequence against length.
  const LENGTHS = [1, 16, 32, 100, 256, 512, 1024];
  const PAGE_SIZES = [16, 32, 64];
  const bytesRows: { length: number; contiguousMiB: number; pagedMiB: Record<number, number> }[] = [];
  {
    const w = writer(CTX);
    const contiguous = 2 * L * CTX * C * 4; // the old per-sequence buffers, whatever the length
    for (const length of LENGTHS) {
      const row = { length, contiguousMiB: contiguous / MiB, pagedMiB: {} as Record<number, number> };
      for (const pageRows of PAGE_SIZES) {
        const pool = addon.statePool({ layers: L, kvHeads: H, headDim: D, dtype: 'f32', pageRows, budgetBytes: 2 ** 32 });
        const s = pool.create();
        await w.run(new Int32Array([length, 0]), [s]);
        const st = pool.stats();
        if (st.bytesInUse !== s.bytes || s.pages !== Math.ceil(length / pageRows)) throw new Error('state bytes disagree with the page count');
        row.pagedMiB[pageRows] = s.bytes / MiB;
        s.dispose();
        pool.dispose();
      }
      bytesRows.push(row);
      for (const pageRows of PAGE_SIZES)
        ctx.record({ name: 'K/V bytes per sequence', params: { backend: 'native', dtype: 'f32', shape: `${length} rows`, pageRows }, side: 'attnode', unit: 'MiB', better: 'lower', samples: [row.pagedMiB[pageRows]!] });
    }
    w.dispose();
  }

  // 2. Decode attention through pages.
  const KEYS = 1024;
  const attnRows: { layout: string; msPerStep: number; spread: string }[] = [];
  {
    const q = shared(H * D, Math.sin);
    const x = shared(C, Math.cos);
    const out = shared(H * D);
    const steps = [
      { op: 'cast', perSegment: true, args: { x: { slot: 1, shape: ['T', C] }, out: { cache: 'k', layer: 0, rows: 'new', shape: ['T', C] } } },
      { op: 'cast', perSegment: true, args: { x: { slot: 1, shape: ['T', C] }, out: { cache: 'v', layer: 0, rows: 'new', shape: ['T', C] } } },
      {
        op: 'attention', perSegment: true,
        args: { q: { slot: 0, shape: ['T', H, D] }, k: { cache: 'k', layer: 0, rows: 'all', shape: ['S', H, D] }, v: { cache: 'v', layer: 0, rows: 'all', shape: ['S', H, D] }, causal: true, out: { slot: 2, shape: ['T', H, D] } },
      },
    ];
    // Contiguous K/V as plain tensors: the reference for the result and the time.
    const kv = shared(KEYS * C, (i) => ((i * 7) % 13) / 13 - 0.5);
    kv.set(x, (KEYS - 1) * C);
    const want = new Float32Array(H * D);
    const t = (data: Float32Array, shape: number[]) => ({ dtype: 'f32', shape, data });
    addon.op('attention', { q: t(q, [1, H, D]), k: t(kv, [KEYS, H, D]), v: t(kv, [KEYS, H, D]), causal: true, out: t(want, [1, H, D]) });
    const timing = { unit: 'ms', rounds: ctx.quick ? 3 : 5, minTimeMs: ctx.quick ? 20 : 60, warmupMs: 10 };
    const entries = [
      {
        spec: { name: 'decode attention, contiguous tensors', params: { backend: 'native', shape: `${KEYS} keys` }, ...timing },
        run: () => addon.opAsync('attention', { q: t(q, [1, H, D]), k: t(kv, [KEYS, H, D]), v: t(kv, [KEYS, H, D]), causal: true, out: t(out, [1, H, D]) }),
      },
    ];
    const disposers: (() => void)[] = [];
    for (const pageRows of [...PAGE_SIZES, 1024]) {
      const program = addon.compile({ slots: [q, x, out], layers: 1, steps });
      const pool = addon.statePool({ layers: 1, kvHeads: H, headDim: D, dtype: 'f32', pageRows, budgetBytes: 2 ** 30 });
      const s = pool.create();
      // Rows 0..1022 as the contiguous tensor has them, through a one-layer writer of the same values.
      const fill = addon.compile({
        slots: [kv], layers: 1,
        steps: ['k', 'v'].map((which) => ({ op: 'cast', perSegment: true, args: { x: { slot: 0, shape: ['T', C] }, out: { cache: which, layer: 0, rows: 'new', shape: ['T', C] } } })),
      });
      await fill.run(new Int32Array([KEYS - 1, 0]), [s]);
      await program.run(new Int32Array([1, KEYS - 1]), [s]);
      const diff = out.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
      if (diff > 1e-5) throw new Error(`paged attention (${pageRows} rows) differs from the contiguous op by ${diff}`);
      entries.push({
        spec: { name: `decode attention, pages of ${pageRows} rows`, params: { backend: 'native', shape: `${KEYS} keys` }, ...timing },
        run: () => {
          s.truncate(KEYS - 1);
          return program.run(new Int32Array([1, KEYS - 1]), [s]);
        },
      });
      disposers.push(() => (s.dispose(), pool.dispose(), program.dispose(), fill.dispose()));
    }
    for (const c of await ctx.interleave(entries)) attnRows.push({ layout: c.name.replace('decode attention, ', ''), msPerStep: c.median, spread: `${c.spread.min.toFixed(3)}-${c.spread.max.toFixed(3)} (rounds)` });
    for (const d of disposers) d();
  }

  // 3. Time to first token with a shared 512-token prefix.
  const PREFIX = 512;
  const SUFFIX = 16;
  const ROUNDS = ctx.quick ? 3 : 5;
  const ttft = { on: [] as number[], off: [] as number[], reused: 0, ranOn: 0, ranOff: 0 };
  {
    const file = join(tmpdir(), 'attnode-gpt2-124m-q8_0.gguf');
    if (!existsSync(file)) writeGpt2_124m(file, 1, 'q8_0');
    const model = await loadModel(file, { kind: 'decoder', contextLength: 1024, maxBatch: 4 });
    const on = new DecoderLM(model, [], { maxBatchTokens: 1024 });
    const off = new DecoderLM(model, [], { maxBatchTokens: 1024, prefixCache: false });
    const prefix = Array.from({ length: PREFIX }, (_, i) => (i * 7919) % 50000);
    const prompt = (r: number) => Int32Array.from([...prefix, ...Array.from({ length: SUFFIX }, (_, i) => 1000 + r * SUFFIX + i)]);
    // The first request leaves the prefix in the cache.
    const first = on.newCache();
    await on.forward(prompt(99), first);
    first.dispose();
    for (let r = 0; r < ROUNDS; r++) {
      for (const [lm, side] of [[on, ttft.on], [off, ttft.off]] as const) {
        const c = lm.newCache();
        const t0 = performance.now();
        const logits = await lm.forward(prompt(r), c);
        side.push(performance.now() - t0);
        if (!logits.every(Number.isFinite)) throw new Error('logits are not finite');
        c.dispose();
      }
    }
    // Same logits either way (checked once, outside the timing).
    const a = on.newCache();
    const b = off.newCache();
    const la = await on.forward(prompt(0), a);
    const lb = await off.forward(prompt(0), b);
    const diff = la.reduce((m, v, i) => Math.max(m, Math.abs(v - lb[i]!)), 0);
    if (diff > 1e-3) throw new Error(`logits with the prefix cache differ by ${diff}`);
    ttft.reused = on.batchStats.prefixTokens;
    ttft.ranOn = on.batchStats.tokens;
    ttft.ranOff = off.batchStats.tokens;
    model.dispose();
  }

    const ttftParams = { backend: 'native', dtype: 'q8_0', model: 'gpt2-124m', shape: `${PREFIX} + ${SUFFIX} tokens` };
    const on = ctx.record({ name: 'time to first token, prefix cache on', params: ttftParams, side: 'attnode', unit: 'ms', better: 'lower', samples: ttft.on, iterations: ROUNDS });
    const off = ctx.record({ name: 'time to first token, prefix cache off', params: ttftParams, side: 'attnode', unit: 'ms', better: 'lower', samples: ttft.off, iterations: ROUNDS });
    const md = [
      `### K/V bytes per sequence against its length (GPT-2 124M: ${L} layers, ${H} heads of ${D}, f32)`,
      '',
      `| length | contiguous (${CTX} rows) MiB | ${PAGE_SIZES.map((p) => `pages of ${p} MiB`).join(' | ')} |`,
      `|---:|---:|${PAGE_SIZES.map(() => '---:').join('|')}|`,
      ...bytesRows.map((r) => `| ${r.length} | ${r.contiguousMiB.toFixed(1)} | ${PAGE_SIZES.map((p) => r.pagedMiB[p]!.toFixed(2)).join(' | ')} |`),
      '',
      `### One decode step's attention over ${KEYS} cached rows (${H} heads of ${D}), by page size`,
      '',
      '| K/V layout | ms per step (median) | spread | ratio to contiguous |',
      '|---|---:|---:|---:|',
      ...attnRows.map((r) => `| ${r.layout} | ${r.msPerStep.toFixed(3)} | ${r.spread} | ${(r.msPerStep / attnRows[0]!.msPerStep).toFixed(2)} |`),
      '',
      `The paged rows include the pass's two row writes and the program's per-pass checks, which the contiguous op does not have.`,
      '',
      `### Time to first token with a shared ${PREFIX}-token prefix (GPT-2 124M-shaped q8_0, ${SUFFIX}-token suffix)`,
      '',
      '| prefix cache | TTFT ms (median) | spread | prompt tokens run |',
      '|---|---:|---:|---:|',
      ...(on && off
        ? [
            `| on | ${on.median.toFixed(1)} | ${on.spread.min.toFixed(2)}-${on.spread.max.toFixed(2)} | ${ttft.ranOn} (${ttft.reused} reused) |`,
            `| off | ${off.median.toFixed(1)} | ${off.spread.min.toFixed(2)}-${off.spread.max.toFixed(2)} | ${ttft.ranOff} |`,
            '',
            `Ratio off / on: ${(off.median / on.median).toFixed(1)}x, ${ROUNDS} rounds each, interleaved.`,
          ]
        : []),
    ];
    ctx.section(md.join('\n'));
}
