// The end-to-end suite's attnode side: a child process of its own (its peak RSS is its own), driven
// over IPC by bench/e2e/run.ts with the same commands as peer-child.mjs. Plain ESM importing the
// built package (dist/) under plain node, as a user runs it: a TypeScript loader would add ~45 MiB.
//   node bench/e2e/attnode-child.mjs <package root>

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.argv[2];
if (!root) throw new TypeError('attnode-child: the package root is the first argument');
const dist = (f) => import(pathToFileURL(join(root, 'dist', f)).href);
const { LanguageModel } = await dist('generate/model.js');
const { generate } = await dist('generate/generate.js');
const { loadAddon } = await dist('native.js');
const addon = loadAddon(root);

/** This process's CPU time in ms, all of its threads (the engine's workers, the JS thread). */
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function peakKiB() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

let lm;
/** The DecoderModel under the LanguageModel, for llama-bench's raw pp and tg (no sampler, no text). */
let dm;
let cache;

function logSoftmax(logits) {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Array.from(logits, (v, id) => [id, v - lse]).sort((a, b) => b[1] - a[1]);
}

/** Median milliseconds of one empty trip to the addon's dispatch thread and back (a forward pass makes one). */
async function crossingMs() {
  const t = [];
  for (let i = 0; i < 64; i++) {
    const t0 = performance.now();
    await addon.opsAsync([]);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

const handlers = {
  async load({ path, ctx, threads }) {
    const t0 = performance.now();
    lm = await LanguageModel.load(path, { threads, contextLength: ctx });
    dm = lm.model.model;
    cache = dm.newCache();
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    return { loadMs: performance.now() - t0, version: pkg.version, isa: addon.cpuInfo().isa };
  },
  async check({ ids, threads }) {
    addon.setThreads(threads);
    const logits = await dm.forward(ids);
    if (!logits.every(Number.isFinite)) throw new RangeError('attnode: logits are not finite');
    return { logprobs: logSoftmax(logits), peakKiB: peakKiB() };
  },
  async pp({ ids, threads }) {
    addon.setThreads(threads);
    cache.reset();
    const c0 = cpuMs();
    const t0 = performance.now();
    await dm.forward(ids, { cache });
    return { ms: performance.now() - t0, cpuMs: cpuMs() - c0 };
  },
  /** `n` single-token steps from an empty cache (llama-bench's tg), each fed its greedy pick. */
  async tg({ first, n, threads }) {
    addon.setThreads(threads);
    cache.reset();
    const c0 = cpuMs();
    const t0 = performance.now();
    let id = first;
    for (let k = 0; k < n; k++) {
      const logits = await dm.forward([id], { cache });
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      id = best;
    }
    return { ms: performance.now() - t0, cpuMs: cpuMs() - c0, steps: n };
  },
  /**
   * A whole request through attnode's own loop (generate(): tokenizer, sampler chain, streamed
   * text), with the model's forward and the tokenizer timed where the loop calls them. What is
   * left of the wall time is the sampler and the loop's own JavaScript.
   */
  async request({ text, maxTokens, threads, seed }) {
    addon.setThreads(threads);
    const inner = lm.model;
    const st = { tokenize: 0, prefill: 0, decode: 0, detokenize: 0 };
    let passes = 0;
    const model = {
      vocabSize: inner.vocabSize,
      contextLength: inner.contextLength,
      eosTokenIds: inner.eosTokenIds,
      newCache: () => inner.newCache(),
      async forward(ids, c) {
        const t0 = performance.now();
        try {
          return await inner.forward(ids, c);
        } finally {
          st[passes++ === 0 ? 'prefill' : 'decode'] += performance.now() - t0;
        }
      },
    };
    const tok = lm.tokenizer;
    const tokenizer = {
      encode(s) {
        const t0 = performance.now();
        const r = tok.encode(s);
        st.tokenize += performance.now() - t0;
        return r;
      },
      decode(ids) {
        const t0 = performance.now();
        const r = tok.decode(ids);
        st.detokenize += performance.now() - t0;
        return r;
      },
    };
    const t0 = performance.now();
    const r = await generate(model, tokenizer, text, { maxTokens, temperature: 0.8, topK: 40, topP: 0.95, seed, ignoreEos: true });
    const total = performance.now() - t0;
    return { totalMs: total, stages: st, passes, crossingMs: await crossingMs(), promptTokens: r.timings.promptTokens, generatedTokens: r.ids.length, chars: r.text.length };
  },
  async rss() {
    return { peakKiB: peakKiB() };
  },
  async exit() {
    lm?.dispose();
    return {};
  },
};

process.on('message', async (msg) => {
  let reply;
  try {
    const h = handlers[msg.op];
    if (!h) throw new TypeError(`attnode-child: unknown op '${msg.op}'`);
    reply = { id: msg.id, ok: true, value: await h(msg) };
  } catch (e) {
    reply = { id: msg.id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  // After 'exit', leave even where an engine's threads would keep the process alive.
  process.send(reply, () => msg.op === 'exit' && process.exit(0));
});
process.send({ ready: true, peakKiB: peakKiB() });
