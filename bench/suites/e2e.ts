// End to end in llama-bench's format, attnode and node-llama-cpp measured in the same run on the
// same GGUF files: pp512 and tg128 tokens/s per dtype and thread count, a whole request with each
// stage's share of its time, load time and peak RSS. Each engine runs in a child process of its
// own (bench/e2e/*-child.mjs); both are checked to predict the same next token before timing.

import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { defineSuite, type SuiteContext } from '../lib/suite.js';
import type { BenchCase, CaseParams } from '../lib/schema.js';
import { median } from '../lib/stats.js';
import { ensureNodeLlamaCpp, NODE_LLAMA_CPP_VERSION, type PeerStatus } from '../lib/llama-peer.js';
import { DTYPE_LABEL, E2E_DTYPES, e2eModelFile, fileMiB, type E2EDtype } from '../e2e/fixtures.js';
import { ATTNODE_CHILD, EngineChild, PACKAGE_ROOT, PEER_CHILD, type CheckReply, type LoadReply, type RequestReply, type TimedReply } from '../e2e/engines.js';
import { compareNextToken } from '../e2e/check.js';
import { GPT2_124M } from '../gpt2-124m-fixture.js';

const ATTNODE = 'attnode';
const PEER = 'node-llama-cpp';
/** Both engines get this many positions (GPT-2's own); llama.cpp allocates its K/V for all of them. */
const CONTEXT = 1024;
const PARAMS_124M = 124_439_808;

/** llama-bench feeds random token ids; these are fixed ones, the same on both sides. */
const ids = (n: number, salt: number): number[] => Array.from({ length: n }, (_, i) => (i * 7919 + salt * 104_729 + 13) % (GPT2_124M.vocab - 1));

/** A request's prompt: plain English that the GPT-2 tokenizer splits into about 80 tokens. */
const REQUEST_TEXT =
  'The committee met on a grey Tuesday morning to decide, once and for all, whether the old bridge over the river ' +
  'should be repaired or replaced. Engineers had measured the cracks in its arches; the treasurer had counted the cost ' +
  'of both plans, and the townspeople had written letters. After three hours the chair asked for a vote, and';

interface Plan {
  /** Most milliseconds one side's calls of one case may take (warm-up and rounds); see probe(). */
  budgetMs: number;
  dtypes: E2EDtype[];
  threads: number[];
  pp: number;
  tg: number;
  rounds: number;
  requestTokens: number;
  requestRounds: number;
}

function planOf(ctx: SuiteContext): Plan {
  // Quick: one dtype, one thread count (unless --dtype / --threads name others), short runs; the
  // whole --quick bench stays under 5 minutes.
  const dtypes = ctx.options.dtype || !ctx.quick ? ctx.dtypes<E2EDtype>(E2E_DTYPES) : (['q8_0'] as E2EDtype[]);
  const threads = ctx.options.threads || !ctx.quick ? ctx.threads([1, 2]) : [1];
  return ctx.quick
    ? { budgetMs: 20_000, dtypes, threads, pp: 64, tg: 16, rounds: 3, requestTokens: 8, requestRounds: 2 }
    : { budgetMs: 150_000, dtypes, threads, pp: 512, tg: 128, rounds: 3, requestTokens: 32, requestRounds: 3 };
}

/** One engine side: its child, or why it is not there. */
interface Engine { side: string; child: EngineChild; load: LoadReply }

async function startEngine(side: string, script: string, arg: string, file: string, threads: number): Promise<Engine> {
  const child = await EngineChild.start(side, script, arg);
  try {
    return { side, child, load: await child.call<LoadReply>('load', { path: file, ctx: CONTEXT, threads }) };
  } catch (e) {
    await child.close();
    throw e;
  }
}

const STAGES = ['tokenize', 'prefill', 'sample', 'decode', 'detokenize', 'crossings'] as const;
type Stage = (typeof STAGES)[number];
const STAGE_LABEL: Record<Stage, string> = {
  tokenize: 'tokenize',
  prefill: 'prefill (+ first sample for node-llama-cpp)',
  sample: 'sample and loop (JS)',
  decode: 'decode steps',
  detokenize: 'detokenize (streamed)',
  crossings: 'JS/native crossings',
};

/**
 * A request's milliseconds per stage. attnode: the loop's own calls timed where it makes them; the
 * crossings are its forward passes times one measured empty round trip to the dispatch thread,
 * taken out of prefill and decode; what is left is sampling and the loop. node-llama-cpp samples
 * inside its native step, so its decode includes sampling and it has no separate sample stage.
 */
function stagesOf(r: RequestReply): Record<Stage, number> {
  const crossing = r.passes !== undefined && r.crossingMs !== undefined ? r.crossingMs : 0;
  const decodePasses = Math.max(0, (r.passes ?? 1) - 1);
  const prefill = r.stages.prefill - (r.passes ? crossing : 0);
  const decode = r.stages.decode - decodePasses * crossing;
  const crossings = r.passes ? r.passes * crossing : 0;
  const known = r.stages.tokenize + r.stages.prefill + r.stages.decode + r.stages.detokenize;
  return { tokenize: r.stages.tokenize, prefill, sample: Math.max(0, r.totalMs - known), decode, detokenize: r.stages.detokenize, crossings };
}

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
/** A share in percent: small ones keep two digits, so that 0.04% does not print as 0.0%. */
const pct = (x: number) => `${fmt(x, x < 1 ? 2 : 1)}%`;
const caseOf = (cases: BenchCase[], side: string) => cases.find((c) => c.side === side);
/** Median of the per-round ratios attnode / peer (rounds are paired), robust to load drifting between rounds. */
function pairedRatio(a: BenchCase | undefined, b: BenchCase | undefined): number {
  if (!a || !b || a.samples.length !== b.samples.length) return NaN;
  return median(a.samples.map((x, i) => x / b.samples[i]!));
}

interface Row {
  dtype: E2EDtype;
  threads: number;
  test: string;
  clock: 'cpu' | 'wall';
  attnode?: BenchCase;
  peer?: BenchCase;
  /** Sides that were not timed because the case would overrun its budget: their probe's rate. */
  probes: Record<string, { tokens: number; tokensPerS: number; projectedMs: number }>;
  sizeMiB: number;
}

export default defineSuite({
  name: 'e2e',
  title: 'End to end (llama-bench format), attnode and node-llama-cpp on the same GGUF files',
  description:
    'pp512 and tg128 tokens/s of a GPT-2 124M-shaped model (random weights, GPT-2 tokenizer) as f32, f16, q8_0 and Q4_K_M ' +
    '(written by attnode quantize), at 1 and 2 threads, with node-llama-cpp 3.21.1 (llama.cpp) timed in the same run in ' +
    'interleaved rounds; a whole request with each stage\'s share; load time and peak RSS, each engine in its own process.',
  async run(ctx) {
    const plan = planOf(ctx);
    if (plan.dtypes.length === 0 || plan.threads.length === 0 || ctx.backends(['native']).length === 0) {
      ctx.note('No e2e case passes the --dtype / --threads / --backend filters (the engines run on the CPU: backend native).');
      return;
    }
    if (!existsSync(join(PACKAGE_ROOT, 'dist', 'generate', 'model.js')))
      throw new Error('e2e: attnode runs from dist/ in its child process; run `npm run build:ts` first');
    const peer: PeerStatus = ensureNodeLlamaCpp({ log: (l) => ctx.log(l) });
    let peerReason = peer.present ? undefined : peer.reason;
    if (peer.present) ctx.peerPresent(PEER, NODE_LLAMA_CPP_VERSION);

    const rows: Row[] = [];
    const requests: { dtype: E2EDtype; threads: number; side: string; replies: RequestReply[] }[] = [];
    const memory: { dtype: E2EDtype; side: string; loadMs: number; peakMiB: number }[] = [];
    const checks: string[] = [];
    let isa = '';
    for (const dtype of plan.dtypes) {
      const file = e2eModelFile(dtype, undefined, (l) => ctx.log(l));
      const sizeMiB = fileMiB(file);
      const engines: Engine[] = [];
      try {
        // Loaded one after the other, so that each load has the machine to itself.
        const a = await startEngine(ATTNODE, ATTNODE_CHILD, PACKAGE_ROOT, file, plan.threads[0]!);
        engines.push(a);
        isa = a.load.isa ?? isa;
        if (peer.present && peerReason === undefined) {
          try {
            engines.push(await startEngine(PEER, PEER_CHILD, peer.dir, file, plan.threads[0]!));
          } catch (e) {
            peerReason = `installed, but it did not load: ${e instanceof Error ? e.message : String(e)}`;
          }
        }
        // The check: the same next-token distribution from both engines (and finite logits).
        const checkIds = ids(16, 0);
        const replies = await Promise.all(engines.map((e) => e.child.call<CheckReply>('check', { ids: checkIds, threads: plan.threads[0] })));
        for (const [i, e] of engines.entries()) memory.push({ dtype, side: e.side, loadMs: e.load.loadMs, peakMiB: replies[i]!.peakKiB / 1024 });
        if (engines.length === 2) {
          const agree = compareNextToken(replies[0]!.logprobs, replies[1]!.logprobs, dtype);
          if (!agree.ok) throw new Error(`e2e ${dtype}: attnode and node-llama-cpp disagree on the next token: ${agree.why}`);
          checks.push(`${DTYPE_LABEL[dtype]}: next token ${agree.top1.attnode} on both sides (peer's ${agree.top1.peer}), log-probabilities within ${agree.maxDiff.toExponential(1)} (tolerance ${agree.tol})`);
        }
        for (const e of engines) {
          const params: CaseParams = { backend: 'native', dtype, model: 'gpt2-124m', shape: 'load + 16-token pass' };
          ctx.record({ name: 'load', params, side: e.side, unit: 'ms', better: 'lower', samples: [e.load.loadMs] });
          ctx.record({ name: 'peak RSS', params, side: e.side, unit: 'MiB', better: 'lower', samples: [memory.find((m) => m.dtype === dtype && m.side === e.side)!.peakMiB] });
        }

        for (const threads of plan.threads) {
          const base = { backend: 'native', threads, dtype, model: 'gpt2-124m' };
          const ppIds = ids(plan.pp, 1);
          const args = (op: 'pp' | 'tg', n: number) => (op === 'pp' ? { ids: ppIds.slice(0, n), threads } : { first: ppIds[0], n, threads });
          const call = async (e: Engine, op: 'pp' | 'tg', n: number) => {
            const r = await e.child.call<TimedReply>(op, args(op, n));
            // A peer that quietly ran on other thread counts would make the comparison wrong.
            if (r.threads !== undefined && r.threads !== threads) throw new Error(`${e.side} ran ${op} on ${r.threads} threads, asked for ${threads}`);
            return r;
          };
          // One thread on the CPU clock (the engine process's CPU time: what other processes on a
          // busy machine take from the wall clock does not count), more on the wall clock (CPU
          // time would add up the threads).
          const clock: 'cpu' | 'wall' = threads === 1 ? 'cpu' : 'wall';
          const msOf = (r: TimedReply) => (clock === 'cpu' ? r.cpuMs : r.ms);
          for (const op of ['pp', 'tg'] as const) {
            const n = op === 'pp' ? plan.pp : plan.tg;
            const name = `${op}${n}`;
            ctx.log(`${dtype} t=${threads}: ${name}`);
            // A short probe per side first: a side whose full case would overrun the budget of
            // wall time (on a machine with more runnable processes than cores, llama.cpp's threads
            // spin-wait at every barrier for a time slice) keeps only its probe's rate, marked.
            const timed: Engine[] = [];
            const probes: Row['probes'] = {};
            for (const e of engines) {
              const k = Math.max(1, Math.round(n / 16));
              const r = await call(e, op, k);
              if (((r.ms * n) / k) * (plan.rounds + 1) <= plan.budgetMs) timed.push(e);
              else probes[e.side] = { tokens: k, tokensPerS: (1000 * k) / msOf(r), projectedMs: (r.ms * n) / k };
            }
            // One warm-up call per side, then rounds of one call per side (each call takes a
            // second or more), the order rotating from round to round.
            for (const e of timed) await call(e, op, n);
            const samples: Record<string, number[]> = Object.fromEntries(timed.map((e) => [e.side, []]));
            for (let r = 0; r < plan.rounds; r++)
              for (let i = 0; i < timed.length; i++) {
                const e = timed[(i + r) % timed.length]!;
                samples[e.side]!.push((1000 * n) / msOf(await call(e, op, n)));
              }
            const got: BenchCase[] = [];
            for (const e of timed) {
              const c = ctx.record({ name, params: { ...base, shape: `${n} tokens` }, side: e.side, unit: 'tokens/s', better: 'higher', samples: samples[e.side]!, iterations: plan.rounds, clock });
              if (c) got.push(c);
            }
            for (const [side, pr] of Object.entries(probes))
              ctx.note(`${side}, ${name} ${DTYPE_LABEL[dtype]} at ${threads} thread${threads > 1 ? 's' : ''}: not timed; a ${pr.tokens}-token probe ran at ${fmt(pr.tokensPerS, 1)} tokens/s (${clock} clock), ` +
                `so one call would take about ${fmt(pr.projectedMs / 1000, 0)} s of wall time (1-minute load average ${fmt(loadavg()[0]!, 1)} on ${cpus().length} CPUs).`);
            rows.push({ dtype, threads, test: name, clock, attnode: caseOf(got, ATTNODE), peer: caseOf(got, PEER), probes, sizeMiB });
          }

          // A whole request at the first thread count, rounds interleaved; the prompt's first
          // token changes per round so that no prefix cache (attnode's pages, llama.cpp's
          // sequence) carries over from one round to the next.
          if (threads !== plan.threads[0]) continue;
          ctx.log(`${dtype} t=${threads}: request`);
          const got: Record<string, RequestReply[]> = Object.fromEntries(engines.map((e) => [e.side, []]));
          for (let r = 0; r < plan.requestRounds + 1; r++) {
            const order = r % 2 === 0 ? engines : [...engines].reverse();
            for (const e of order) {
              const reply = await e.child.call<RequestReply>('request', { text: `${r + 1}. ${REQUEST_TEXT}`, maxTokens: plan.requestTokens, threads, seed: 1000 + r });
              if (reply.generatedTokens !== plan.requestTokens) throw new Error(`e2e: ${e.side} generated ${reply.generatedTokens} tokens, asked for ${plan.requestTokens}`);
              if (r > 0) got[e.side]!.push(reply); // round 0 warms up
            }
          }
          for (const e of engines) {
            const replies = got[e.side]!;
            requests.push({ dtype, threads, side: e.side, replies });
            const params: CaseParams = { ...base, shape: `${replies[0]!.promptTokens}-token prompt + ${plan.requestTokens} tokens` };
            ctx.record({ name: 'request', params, side: e.side, unit: 'ms', better: 'lower', samples: replies.map((x) => x.totalMs) });
            const stages = replies.map((x) => stagesOf(x));
            for (const s of STAGES) {
              if (e.side === PEER && (s === 'sample' || s === 'crossings')) continue;
              // Milliseconds per round (comparable across engines), with the stage's share of the request.
              const pct = median(stages.map((st, i) => (100 * st[s]) / replies[i]!.totalMs));
              ctx.record({ name: `request: ${s}`, params, side: e.side, unit: 'ms', better: 'lower', samples: stages.map((st) => st[s]), derived: { pctOfRequest: pct } });
            }
          }
        }
      } finally {
        for (const e of engines) await e.child.close();
      }
    }
    if (peerReason !== undefined) ctx.peerAbsent(PEER, peerReason);

    ctx.note(`Model: GPT-2 124M shape (${PARAMS_124M.toLocaleString('en-US')} parameters, random weights, GPT-2's tokenizer), one GGUF file per dtype ` +
      '(f16, q8_0 and Q4_K_M written from the f32 one by `attnode quantize`), loaded by both engines. ' +
      `Both run on the CPU with a ${CONTEXT}-position context; node-llama-cpp ${NODE_LLAMA_CPP_VERSION} with its prebuilt CPU binaries, f16 K/V, flash attention off, batch 512.`);
    ctx.note('pp: one prompt of random ids in one pass into an empty cache; tg: single-token steps from an empty cache (as llama-bench). ' +
      `Figures are medians of ${plan.rounds} rounds after a warm-up call, the sides alternating which goes first; ratios are medians of the per-round ratios. ` +
      'One thread is timed on the CPU clock of the engine\'s process (all its threads), more threads on the wall clock.');
    for (const c of checks) ctx.note(`Checked before timing: ${c}.`);
    ctx.section(tableMarkdown(rows, plan, isa));
    ctx.section(requestMarkdown(requests, plan));
    ctx.section(memoryMarkdown(memory));
    if (rows.length > 0) await ctx.plot('tokens-per-s', 'attnode / node-llama-cpp, tokens/s (same GGUF files, same run)', ratioSpec(rows));
  },
});

function tableMarkdown(rows: Row[], plan: Plan, isa: string): string {
  const lines = [
    `| model | size | params | backend | threads | test | clock | attnode t/s | node-llama-cpp t/s | attnode / node-llama-cpp |`,
    '|---|---:|---:|---|---:|---|---|---:|---:|---:|',
  ];
  const cell = (r: Row, side: string, c: BenchCase | undefined) => {
    const p = r.probes[side];
    if (p) return `~${fmt(p.tokensPerS, 1)} (${p.tokens}-token probe only)`;
    return c ? `${fmt(c.median, 1)} (${fmt(c.spread.min, 1)}-${fmt(c.spread.max, 1)})` : 'absent';
  };
  for (const r of rows) {
    const ratio = pairedRatio(r.attnode, r.peer);
    const rate = (side: string, c: BenchCase | undefined) => c?.median ?? r.probes[side]?.tokensPerS;
    const a = rate(ATTNODE, r.attnode);
    const p = rate(PEER, r.peer);
    const probeRatio = a !== undefined && p !== undefined ? `~${(a / p).toFixed(2)}x (probe)` : '-';
    lines.push(`| gpt2 124M ${DTYPE_LABEL[r.dtype]} | ${fmt(r.sizeMiB, 0)} MiB | 124.44 M | CPU (${isa || 'native'}) | ${r.threads} | ${r.test} | ${r.clock} | ${cell(r, ATTNODE, r.attnode)} | ${cell(r, PEER, r.peer)} | ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : probeRatio} |`);
  }
  return [`### pp${plan.pp} / tg${plan.tg}, tokens/s: median (min-max)`, '', ...lines].join('\n');
}

function requestMarkdown(requests: { dtype: E2EDtype; threads: number; side: string; replies: RequestReply[] }[], plan: Plan): string {
  const lines = [
    `### A whole request at ${requests[0]?.threads ?? 1} thread${(requests[0]?.threads ?? 1) > 1 ? 's' : ''}: prompt of about 80 tokens, ${plan.requestTokens} tokens sampled (temperature 0.8, top-k 40, top-p 0.95), text streamed`,
    '',
    `Share of the request's time per stage (median of ${plan.requestRounds} rounds). attnode: its own generate() loop with the model's forward and the tokenizer ` +
      'timed where the loop calls them; crossings are the forward passes times the measured empty round trip to the addon\'s dispatch thread. ' +
      'node-llama-cpp samples inside its native step (decode includes sampling; prefill includes the first sample).',
    '',
    `| dtype | threads | engine | request ms | ${STAGES.map((s) => STAGE_LABEL[s]).join(' | ')} |`,
    `|---|---:|---|---:|${STAGES.map(() => '---:').join('|')}|`,
  ];
  for (const q of requests) {
    const st = q.replies.map((r) => stagesOf(r));
    const share = (s: Stage) =>
      q.side === PEER && (s === 'sample' || s === 'crossings') ? 'n/a' : pct(median(st.map((x, i) => (100 * x[s]) / q.replies[i]!.totalMs)));
    lines.push(`| ${DTYPE_LABEL[q.dtype]} | ${q.threads} | ${q.side} | ${fmt(median(q.replies.map((r) => r.totalMs)), 0)} | ${STAGES.map(share).join(' | ')} |`);
  }
  return lines.join('\n');
}

function memoryMarkdown(memory: { dtype: E2EDtype; side: string; loadMs: number; peakMiB: number }[]): string {
  const lines = [
    '### Load time and peak RSS',
    '',
    `Each engine in its own process: load (file to a ready ${CONTEXT}-position context) and the peak resident set (VmHWM) after loading and one 16-token pass.`,
    '',
    '| dtype | attnode load ms | node-llama-cpp load ms | attnode peak MiB | node-llama-cpp peak MiB |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const d of [...new Set(memory.map((m) => m.dtype))]) {
    const a = memory.find((m) => m.dtype === d && m.side === ATTNODE);
    const p = memory.find((m) => m.dtype === d && m.side === PEER);
    lines.push(`| ${DTYPE_LABEL[d]} | ${fmt(a?.loadMs ?? NaN, 0)} | ${p ? fmt(p.loadMs, 0) : 'absent'} | ${fmt(a?.peakMiB ?? NaN, 0)} | ${p ? fmt(p.peakMiB, 0) : 'absent'} |`);
  }
  return lines.join('\n');
}

function ratioSpec(rows: Row[]): TopLevelSpec {
  const values = rows
    .map((r) => ({ case: `${r.test} ${DTYPE_LABEL[r.dtype]}`, threads: `${r.threads} thread${r.threads > 1 ? 's' : ''}`, ratio: pairedRatio(r.attnode, r.peer) }))
    .filter((v) => Number.isFinite(v.ratio));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 520,
    height: 300,
    layer: [
      {
        data: { values },
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'case', type: 'nominal', title: null, sort: null },
          xOffset: { field: 'threads' },
          y: { field: 'ratio', type: 'quantitative', title: 'attnode / node-llama-cpp (tokens/s)' },
          color: { field: 'threads', type: 'nominal', title: null },
        },
      },
      { data: { values: [{ y: 1 }] }, mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}
