// Encoder throughput: attnode's packed ragged pass against onnxruntime-node fed padded batches (as
// transformers.js feeds it), same random weights, sentences/s end to end and forward only.
// Outputs are checked against each other before timing; no speed is asserted.
// A suite of the runner: npm run bench -- encoder [--quick] [--threads 1] [--dtype q8_0]
// The peer (onnxruntime-node 1.30.0, CPU) is installed on demand into a cache folder outside the
// package (bench/lib/peers.ts; its install script, which fetches GPU libraries, is skipped: the
// CPU binaries ship in the package), or taken from ATTNODE_ORT_PEER or the older
//   P=$(node -p "require('os').tmpdir()")/attnode-ort-peer
//   mkdir -p $P && cd $P && npm init -y && npm i -E --no-save --ignore-scripts onnxruntime-node@1.30.0
// Without it, attnode q8_0 is checked against attnode f32 and only attnode is timed.
// Inputs come from tools/reference/make_encoder_bench.py (run here with /usr/bin/python3 into
// ATTNODE_ENCODER_BENCH_DATA, else a folder in the OS temporary directory, reused once written).
// Rows: MiniLM-L6 (and, in full runs, BERT-base) shapes; batches of 1, 8 and 32 texts over the
// same 32 texts of mixed lengths; 1 and 2 threads; attnode f32 and q8_0 weights against ORT f32
// (ORT's int8 path is dynamic quantization from its python tools, which need the python onnx
// package: absent).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEncoder, type EncoderModel } from '../../ts/models/encoder.js';
import { cpuInfo, setThreads } from '../../ts/native.js';
import { tokenizerFromJSON } from '../../ts/tokenizer/index.js';
import { ortPeer, type OrtPeer, type OrtSession } from '../lib/ort-peer.js';
import { ensurePeer } from '../lib/peers.js';
import { defineSuite, type SuiteContext } from '../lib/suite.js';

const ORT_VERSION = '1.30.0';
const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');

// Agreement of each text's last hidden state, attnode against ORT, before anything is timed:
// |a - o| <= atol + rtol * |o|. f32: the same arithmetic in another order (12 layers of sums over
// 768-3072 terms). q8_0 quantizes weights and activations to 8 bits (blocks of 32) at every linear;
// on hidden states that LayerNorm keeps near unit scale that compounds to a few hundredths over the
// layers (measured 0.04 on MiniLM-L6, 0.10 on BERT-base): loose enough for that, tight enough to
// catch a wrong layer, head or segment (errors of order 1).
const TOL = { f32: { atol: 2e-3, rtol: 2e-3 }, q8_0: { atol: 0.15, rtol: 0.05 } } as const;

export default defineSuite({
  name: 'encoder',
  title: 'Encoders: attnode (packed) against onnxruntime-node (padded)',
  description:
    'MiniLM-L6- and BERT-base-shaped encoders with random weights (tools/reference/make_encoder_bench.py), 32 texts of mixed lengths in batches of 1, 8 and 32: ' +
    'sentences/s end to end (WordPiece tokenizer included, the same for both) and forward only (ids in, last hidden states out), attnode f32 and q8_0 against ORT f32 ' +
    'in interleaved rounds. One thread is timed on the process CPU clock, two on the wall clock (ORT\'s pool spins while it waits). Every text\'s last hidden state is checked first.',
  run,
});

async function run(ctx: SuiteContext): Promise<void> {
  const quick = ctx.quick;
  const rounds = 3;
  const MODELS = quick ? ['minilm-l6'] : ['minilm-l6', 'bert-base'];
  const THREADS = ctx.threads([1, 2]);
  const DTYPES = ctx.dtypes(['f32', 'q8_0'] as const);
  const BATCHES = quick ? [1, 8] : [1, 8, 32];
  if (THREADS.length === 0 || DTYPES.length === 0) return ctx.note('no case passes the filters');
  let ort: OrtPeer | undefined;
  try {
    const candidates = [process.env.ATTNODE_ORT_PEER, join(tmpdir(), 'attnode-ort-peer')].filter((x): x is string => x !== undefined);
    const got = ensurePeer('onnxruntime-node', ORT_VERSION, { candidates, extraArgs: ['--ignore-scripts'], log: ctx.log });
    ort = ortPeer(got.dir, 'encoder');
    ctx.peerPresent('onnxruntime-node', ort.version);
  } catch (e) {
    ctx.peerAbsent('onnxruntime-node', (e as Error).message);
  }
  const dataDir = process.env.ATTNODE_ENCODER_BENCH_DATA ?? join(tmpdir(), 'attnode-encoder-bench-v1');
  const need = [join(dataDir, 'tokenizer.json'), join(dataDir, 'texts.json'), ...MODELS.flatMap((m) => [join(dataDir, m, 'model.safetensors'), join(dataDir, m, 'model.onnx')])];
  if (!need.every(existsSync)) {
    ctx.log(`writing checkpoints, ONNX files and texts into ${dataDir} (tools/reference/make_encoder_bench.py)`);
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    } catch {
      throw new Error(`encoder: writing the inputs needs PyTorch for /usr/bin/python3 (Debian: apt install python3-torch), or the files in ${dataDir} (ATTNODE_ENCODER_BENCH_DATA)`);
    }
    execFileSync('/usr/bin/python3', [join(repo, 'tools', 'reference', 'make_encoder_bench.py'), '--out', dataDir, '--models', MODELS.join(',')], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const tokenizer = tokenizerFromJSON(readFileSync(join(dataDir, 'tokenizer.json'), 'utf8'));
  // Quick runs take the first 8 of the 32 texts (a seeded mix of lengths).
  const texts = (JSON.parse(readFileSync(join(dataDir, 'texts.json'), 'utf8')) as { texts: { text: string; ids: number[] }[] }).texts.slice(0, quick ? 8 : undefined);
  const strings = texts.map((t) => t.text);
  texts.forEach((t, i) => {
    const got = tokenizer.encode(t.text);
    if (got.length !== t.ids.length || got.some((id, j) => id !== t.ids[j])) throw new Error(`encoder: the tokenizer gives text ${i} other ids than texts.json (${got.length} against ${t.ids.length} ids)`);
  });
  const lengths = texts.map((t) => t.ids.length);
  const tokens = lengths.reduce((a, b) => a + b, 0);

  type Engine = 'attnode f32' | 'attnode q8_0' | 'ORT f32';
  // One side of a round: ids (already tokenized) or texts in, each text's (T, H) rows out.
  interface Side { engine: Engine; run(batch: readonly number[][]): Promise<Float32Array[]> }

  function attnodeSide(engine: Engine, m: EncoderModel): Side {
    return { engine, run: async (batch) => (await m.forward(batch)).map((o) => o.lastHiddenState) };
  }

  function ortSide(s: OrtSession, H: number): Side {
    return {
      engine: 'ORT f32',
      async run(batch) {
        // Padded to the batch's longest, [PAD] = 0 with attention_mask 0, as transformers.js does.
        const B = batch.length;
        const T = Math.max(...batch.map((b) => b.length));
        const ids = new BigInt64Array(B * T);
        const mask = new BigInt64Array(B * T);
        batch.forEach((b, n) => b.forEach((id, i) => { ids[n * T + i] = BigInt(id); mask[n * T + i] = 1n; }));
        const out = await s.run({ input_ids: ids, attention_mask: mask, token_type_ids: new BigInt64Array(B * T) }, [B, T]);
        return batch.map((b, n) => out.lastHiddenState.slice(n * T * H, (n * T + b.length) * H));
      },
    };
  }

  function check(side: Side, got: Float32Array[], want: Float32Array[], tol: { atol: number; rtol: number }): number {
    let worst = 0;
    got.forEach((g, n) => {
      const w = want[n]!;
      if (g.length !== w.length) throw new Error(`${side.engine}: text ${n} has ${g.length} values, the reference ${w.length}`);
      for (let i = 0; i < g.length; i++) {
        const d = Math.abs(g[i]! - w[i]!);
        if (!(d <= tol.atol + tol.rtol * Math.abs(w[i]!))) throw new Error(`${side.engine}: text ${n} value ${i} is ${g[i]}, the reference ${w[i]} (tolerance ${tol.atol} + ${tol.rtol} x |reference|)`);
        worst = Math.max(worst, d);
      }
    });
    return worst;
  }

  const chunks = <T>(a: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(a.length / n) }, (_, i) => a.slice(i * n, (i + 1) * n));

  // One thread is timed on the process's CPU clock (user + system, every thread of the process),
  // two on the wall clock, as the matmul suite does: on a machine shared with other work the
  // CPU clock of a one-thread run leaves out the time it waited for a core, while two threads that
  // spin while they wait (ORT's pool does) would be charged for spinning.
  const clockMs = (threads: number) => (threads === 1 ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now());

  // One pass over all texts in batches of b: the tokenizer's time and the forward passes' time apart.
  async function pass(side: Side, b: number, clock: () => number): Promise<{ tokenizeMs: number; forwardMs: number }> {
    let tokenizeMs = 0;
    let forwardMs = 0;
    for (const group of chunks(strings, b)) {
      const t0 = clock();
      const ids = tokenizer.encodeBatch(group);
      const t1 = clock();
      await side.run(ids);
      forwardMs += clock() - t1;
      tokenizeMs += t1 - t0;
    }
    return { tokenizeMs, forwardMs };
  }

  interface Row { model: string; threads: number; clock: 'cpu' | 'wall'; batch: number; engine: Engine; e2eSps: number; forwardSps: number; paddedTokens: number; rounds: number }
  const rows: Row[] = [];
  const checks: { model: string; engine: Engine; against: Engine; maxAbsDiff: number }[] = [];
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)]!;
  const padded = (b: number) => chunks(lengths, b).reduce((a, g) => a + g.length * Math.max(...g), 0);

  for (const name of MODELS) {
    const dir = join(dataDir, name);
    const H = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { hidden_size: number }).hidden_size;
    const models = new Map<Engine, EncoderModel>();
    // q8_0 is checked against f32 when ORT is absent, so f32 is loaded then even if filtered out.
    const load = ort ? DTYPES : [...new Set(['f32' as const, ...DTYPES])];
    for (const d of load) models.set(`attnode ${d}`, await loadEncoder(dir, { dtype: d, maxBatch: texts.length }));
    for (const t of THREADS) {
      setThreads(t);
      const session = ort ? await ort.create(join(dir, 'model.onnx'), t) : undefined;
      const ours = [...models].map(([e, m]) => attnodeSide(e, m));
      const reference = session ? ortSide(session, H) : ours.find((s) => s.engine === 'attnode f32')!;
      // Checked before timing, on the largest batch (the one that pads most and packs most).
      const all = texts.map((x) => x.ids);
      const want = await reference.run(all);
      for (const s of ours) {
        if (s === reference) {
          if (!want.every((w) => w.every(Number.isFinite))) throw new Error(`${s.engine}: last hidden states are not finite`);
          continue;
        }
        const worst = check(s, await s.run(all), want, TOL[s.engine === 'attnode f32' ? 'f32' : 'q8_0']);
        if (t === THREADS[0]) checks.push({ model: name, engine: s.engine, against: reference.engine, maxAbsDiff: worst });
      }
      const sides: Side[] = [...(session ? [reference] : []), ...ours.filter((s) => DTYPES.some((d) => s.engine === `attnode ${d}`))];
      for (const b of BATCHES) {
        const times = new Map<Engine, { e2e: number[]; fwd: number[] }>(sides.map((s) => [s.engine, { e2e: [], fwd: [] }]));
        const clock = clockMs(t);
        for (const s of sides) await pass(s, b, clock); // warm-up
        for (let r = 0; r < rounds; r++) {
          // Rotate who goes first, so that drift in the machine's load falls on every side.
          const order = sides.map((_, i) => sides[(i + r) % sides.length]!);
          for (const s of order) {
            const { tokenizeMs, forwardMs } = await pass(s, b, clock);
            times.get(s.engine)!.e2e.push(tokenizeMs + forwardMs);
            times.get(s.engine)!.fwd.push(forwardMs);
          }
        }
        for (const s of sides) {
          const tm = times.get(s.engine)!;
          const row: Row = { model: name, threads: t, clock: t === 1 ? 'cpu' : 'wall', batch: b, engine: s.engine, e2eSps: (texts.length * 1000) / median(tm.e2e), forwardSps: (texts.length * 1000) / median(tm.fwd), paddedTokens: s.engine === 'ORT f32' ? padded(b) : tokens, rounds };
          rows.push(row);
          const side = s.engine === 'ORT f32' ? 'onnxruntime-node' : 'attnode';
          const dtype = s.engine === 'attnode q8_0' ? 'q8_0' : 'f32';
          const params = { backend: 'native', threads: t, dtype, shape: `batch ${b}`, model: name };
          const sps = (ms: number[]) => ms.map((x) => (texts.length * 1000) / x);
          ctx.record({ name: 'end to end', params, side, unit: 'sentences/s', better: 'higher', samples: sps(tm.e2e), iterations: rounds, clock: row.clock });
          ctx.record({ name: 'forward', params, side, unit: 'sentences/s', better: 'higher', samples: sps(tm.fwd), iterations: rounds, clock: row.clock });
          ctx.log(`${name} t=${t} batch ${String(b).padStart(2)} ${s.engine.padEnd(12)} end to end ${row.e2eSps.toFixed(1).padStart(7)} sentences/s, forward ${row.forwardSps.toFixed(1).padStart(7)}`);
        }
      }
      await session?.release();
    }
    for (const m of models.values()) m.dispose();
  }

  const ortRow = (r: Row) => rows.find((o) => o.engine === 'ORT f32' && o.model === r.model && o.threads === r.threads && o.batch === r.batch);
  const lines = [
    `${texts.length} texts of ${Math.min(...lengths)}-${Math.max(...lengths)} tokens (${tokens} in all; ORT's padded batches of 8 hold ${padded(8)}, of 32 ${padded(32)}). ` +
      `Medians of ${rounds} interleaved rounds after a warm-up. Ratios divide by ORT f32 in the same run${ort ? '' : ' (absent in this run)'}; the q8_0 rows compare attnode int8 with ORT f32.`,
    '',
    '| model | threads | batch | engine | end to end sentences/s | forward sentences/s | end to end vs ORT | forward vs ORT |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const o = ortRow(r);
    const vs = (a: number, b: number | undefined) => (r.engine === 'ORT f32' ? '1' : b === undefined ? '-' : `${(a / b).toFixed(2)}x`);
    lines.push(`| ${r.model} | ${r.threads} | ${r.batch} | ${r.engine} | ${r.e2eSps.toFixed(1)} | ${r.forwardSps.toFixed(1)} | ${vs(r.e2eSps, o?.e2eSps)} | ${vs(r.forwardSps, o?.forwardSps)} |`);
  }
  lines.push('', `Checked before timing (all ${texts.length} texts in one batch, first thread count), max |diff| of last hidden states:`, '');
  for (const c of checks) lines.push(`- ${c.model} ${c.engine} against ${c.against}: ${c.maxAbsDiff.toExponential(2)}`);
  ctx.section(lines.join('\n'));
  ctx.note(`kernels: ${JSON.stringify(cpuInfo().kernels)}`);
}
