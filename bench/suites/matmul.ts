// f32 GEMM: attnode's matmul / linear against this machine's FMA peak and DRAM bandwidth (the
// runner's calibration) and a system OpenBLAS side by side. Results are checked before timing.
// A suite of the runner: npm run bench -- matmul [--quick] [--threads 1]
//
// Cases: square A (S, S) . B (S, S) through `matmul` (B packed per call, as OpenBLAS does), and
// the GPT-2-124M projections x (M, K) . W^T through `linear` with W (N, K) packed once at load
// (OpenBLAS gets W as (N, K) with transB, sgemv for M = 1). M = 1 is timed twice: with W
// cache-resident (one weight reused) and streamed from DRAM (rotating over copies much larger
// than the last-level cache). Kernels are called synchronously so the figures measure the
// kernel, not the hop to a libuv thread. OpenBLAS is loaded with dlopen when present.
import { loadAddon } from '../../ts/native.js';
import { NativeBackend, NativeWeight } from '../../ts/backend/native.js';
import { Tensor } from '../../ts/tensor/tensor.js';
import { calibrate } from '../lib/machine.js';
import { defineSuite, type Side, type SuiteContext } from '../lib/suite.js';

const MiB = 1 << 20;
type NT = { dtype: 'f32'; shape: number[]; data: Float32Array };
const nt = (shape: number[], data?: Float32Array): NT => ({ dtype: 'f32', shape, data: data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)) });

function randomF32(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 8) / 16777216 - 0.5) * 2 * scale;
  }
  return out;
}

/** Compares 64 sampled entries of C with f64 dot products: |err| <= 1e-5 * sum |a b| + 1e-6. */
function check(label: string, a: Float32Array, b: Float32Array, transB: boolean, m: number, k: number, n: number, c: Float32Array): void {
  let s = 12345;
  for (let t = 0; t < 64; t++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const i = s % m;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % n;
    let acc = 0;
    let mag = 0;
    for (let p = 0; p < k; p++) {
      const prod = a[i * k + p]! * b[transB ? j * k + p : p * n + j]!;
      acc += prod;
      mag += Math.abs(prod);
    }
    const err = Math.abs(c[i * n + j]! - acc);
    if (!(err <= 1e-5 * mag + 1e-6)) throw new Error(`${label}: C[${i},${j}] = ${c[i * n + j]} but the f64 dot product is ${acc}`);
  }
}

type Mode = 'square' | 'prefill' | 'decode-cache' | 'decode-dram';
interface Cal { threads: number; fmaGflops: number; readGBs: number }

export default defineSuite({
  name: 'matmul',
  title: 'f32 GEMM: attnode against OpenBLAS',
  description:
    'Square `matmul` and the GPT-2-124M projections through `linear` (weights packed once), M = 1 with the weight in cache and streamed from DRAM, ' +
    'against a system OpenBLAS in interleaved rounds. One thread is timed on the process CPU clock (other processes do not count against it), ' +
    'two on the wall clock (a CPU clock would hide load imbalance and OpenBLAS spin-waiting). % of peak and of bandwidth are against the calibration in the header.',
  async run(ctx: SuiteContext) {
    const addon = loadAddon();
    const info = addon.cpuInfo();
    const quick = ctx.quick;
    let haveBlas = true;
    try {
      addon.op('openblas', { a: nt([1, 1]), b: nt([1, 1]), out: nt([1, 1]) });
      ctx.peerPresent('openblas', 'system libopenblas (dlopen)');
    } catch (e) {
      haveBlas = false;
      ctx.peerAbsent('openblas', (e as Error).message);
    }
    const native = new NativeBackend();
    const clockFor = (t: number) => (t === 1 ? ('cpu' as const) : ('wall' as const));
    const timing = (t: number) => ({ clock: clockFor(t), rounds: quick ? 3 : 5, minTimeMs: quick ? 40 : 150, warmupMs: quick ? 10 : 30 });

    const derive = (cal: Cal, flopsPerCall: number, weightBytes: number | undefined, gflops: number): Record<string, number> => {
      const d: Record<string, number> = { pctPeak: (100 * gflops) / cal.fmaGflops };
      if (weightBytes !== undefined) {
        const msPerCall = flopsPerCall / (gflops * 1e6);
        d.GBs = weightBytes / (msPerCall * 1e6);
        d.pctBw = (100 * d.GBs) / cal.readGBs;
      }
      return d;
    };

    async function square(s: number, cal: Cal): Promise<void> {
      const T = cal.threads;
      const params = { backend: 'native', threads: T, dtype: 'f32', shape: `${s}x${s}x${s}`, mode: 'square' };
      if (!ctx.wants(params)) return;
      addon.setThreads(T);
      const a = randomF32(s * s, 1, 1);
      const b = randomF32(s * s, 2, 1);
      const args = { a: nt([s, s], a), b: nt([s, s], b), out: nt([s, s]) };
      const bargs = { ...args, out: nt([s, s]), threads: T };
      const sides: Record<string, Side> = {
        attnode: { check: () => (addon.op('matmul', args), check(`matmul ${s}`, a, b, false, s, s, s, args.out.data)), run: () => addon.op('matmul', args) },
      };
      if (haveBlas) sides.openblas = { check: () => (addon.op('openblas', bargs), check(`openblas ${s}`, a, b, false, s, s, s, bargs.out.data)), run: () => addon.op('openblas', bargs) };
      const flops = 2 * s * s * s;
      for (const c of await ctx.measure({ name: 'matmul', params, unit: 'GFLOP/s', work: flops / 1e9, ...timing(T) }, sides)) c.derived = derive(cal, flops, undefined, c.median);
    }

    async function linear(m: number, k: number, n: number, cal: Cal, mode: Mode): Promise<void> {
      const T = cal.threads;
      const params = { backend: 'native', threads: T, dtype: 'f32', shape: `${m}x${k}x${n}`, mode };
      if (!ctx.wants(params)) return;
      addon.setThreads(T);
      const wBytes = 4 * n * k;
      // DRAM mode: enough distinct copies that each call finds its weight evicted from every cache.
      const copies = mode === 'decode-dram' ? Math.max(2, Math.ceil(((quick ? 128 : 256) * MiB) / wBytes)) : 1;
      const w = randomF32(n * k, 3 + k + n, 1 / Math.sqrt(k));
      const x = randomF32(m * k, 4, 1);
      const packed: NativeWeight[] = [];
      for (let i = 0; i < copies; i++) packed.push(native.packWeight(Tensor.fromArray('f32', [n, k], w)) as NativeWeight);
      const out = nt([m, n]);
      const xs = nt([m, k], x);
      let i = 0;
      const sides: Record<string, Side> = {
        attnode: {
          check: () => (addon.op('linear', { x: xs, weight: packed[0]!.handle, out }), check(`linear M=${m} K=${k} N=${n}`, x, w, true, m, k, n, out.data)),
          run: () => addon.op('linear', { x: xs, weight: packed[i++ % copies]!.handle, out }),
        },
      };
      if (haveBlas) {
        const ws: Float32Array[] = [w];
        for (let c = 1; c < copies; c++) ws.push(w.slice());
        const bout = nt([m, n]);
        const bargs = ws.map((d) => ({ a: xs, b: nt([n, k], d), transB: true, out: bout, threads: T }));
        let j = 0;
        sides.openblas = {
          check: () => (addon.op('openblas', bargs[0]!), check(`openblas M=${m} K=${k} N=${n}`, x, w, true, m, k, n, bout.data)),
          run: () => addon.op('openblas', bargs[j++ % copies]!),
        };
      }
      // DRAM bandwidth swings with other processes' traffic: measure it next to each such row.
      let rowCal = cal;
      if (mode === 'decode-dram') {
        const o = nt([1]);
        addon.op('calibrate', { kind: 'read', bytes: (quick ? 128 : 256) * MiB, passes: 2, clock: clockFor(T), out: o });
        rowCal = { ...cal, readGBs: Math.max(cal.readGBs, o.data[0]!) };
      }
      const flops = 2 * m * k * n;
      try {
        for (const c of await ctx.measure({ name: 'linear', params, unit: 'GFLOP/s', work: flops / 1e9, ...timing(T) }, sides)) c.derived = derive(rowCal, flops, m === 1 ? wBytes : undefined, c.median);
      } finally {
        for (const p of packed) p.dispose();
      }
    }

    const squares = quick ? [128, 512, 1024] : [128, 256, 512, 1024, 2048];
    const gpt2: Array<[number, number]> = [[768, 2304], [768, 768], [768, 3072], [3072, 768]];
    const ms = quick ? [1, 128] : [1, 16, 128, 512];
    const threadCounts = ctx.threads([...new Set([1, info.cores])]);
    try {
      for (const T of threadCounts) {
        const cal = ctx.options.calibration?.find((c) => c.threads === T) ?? calibrate(T, quick);
        ctx.log(`${T} thread(s): squares`);
        for (const s of squares) await square(s, cal);
        ctx.log(`${T} thread(s): GPT-2 projections`);
        for (const m of ms)
          for (const [k, n] of gpt2) {
            if (m === 1) {
              await linear(1, k, n, cal, 'decode-cache');
              await linear(1, k, n, cal, 'decode-dram');
            } else await linear(m, k, n, cal, 'prefill');
          }
      }
    } finally {
      addon.setThreads(info.cores);
      native.dispose();
    }
    const rows = ctx.cases().filter((c) => c.side === 'attnode' && c.derived?.pctPeak !== undefined);
    if (rows.length)
      await ctx.plot('pct-peak', 'f32 GEMM: % of the measured FMA peak', {
        data: { values: rows.map((c) => ({ case: `${c.params.shape} ${c.params.mode}`, threads: `${c.params.threads} thread(s)`, pct: c.derived!.pctPeak })) },
        mark: 'bar',
        encoding: {
          y: { field: 'case', type: 'nominal', sort: null, title: null },
          x: { field: 'pct', type: 'quantitative', title: '% of FMA peak' },
          color: { field: 'threads', type: 'nominal' },
          yOffset: { field: 'threads' },
        },
        width: 360,
      });
    ctx.note(`kernels: ${info.isa} (${info.kernels.gemm}); derived columns: pctPeak (% of the FMA peak), GBs and pctBw (weight bytes streamed per second, % of DRAM read bandwidth, M = 1 only)`);
  },
});
