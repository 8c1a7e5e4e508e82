// The end-to-end suite's node-llama-cpp side: a child process of its own (its peak RSS is its own),
// driven over IPC by bench/e2e/run.ts with the same commands as attnode-child.mjs. Plain ESM
// under plain node, so that neither engine carries a TypeScript loader in its memory figures.
//   node bench/e2e/peer-child.mjs <peer dir with node_modules/node-llama-cpp>

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const peerDir = process.argv[2];
if (!peerDir) throw new TypeError('peer-child: the peer folder is the first argument');
const { getLlama } = await import(pathToFileURL(join(peerDir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href);

/** This process's resident-set high-water mark (KiB), from /proc: a fresh mm after exec, so its own. */
/** This process's CPU time in ms, all of its threads (the engine's workers, the JS thread). */
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function peakKiB() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

let llama;
let model;
let ctx = 0;
/** One context per thread count: llama.cpp fixes a context's threads when it is made. */
const contexts = new Map();

async function sequenceFor(threads) {
  let c = contexts.get(threads);
  if (!c) {
    // f16 K/V as llama-bench's default; flash attention off (attnode's CPU path has none either).
    const context = await model.createContext({ contextSize: ctx, batchSize: 512, threads, flashAttention: false, sequences: 1 });
    c = { context, sequence: context.getSequence() };
    contexts.set(threads, c);
  }
  return c.sequence;
}

const handlers = {
  async load({ path, ctx: n, threads }) {
    const t0 = performance.now();
    // maxThreads 0: the context's `threads` is the count it uses, not a hint it may lower.
    llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: 0 });
    model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
    ctx = n;
    await sequenceFor(threads);
    const pkg = JSON.parse(readFileSync(join(peerDir, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8'));
    return { loadMs: performance.now() - t0, version: pkg.version };
  },
  /** Log-probabilities of the next token after `ids` (the whole vocabulary at temperature 1). */
  async check({ ids, threads }) {
    const s = await sequenceFor(threads);
    await s.clearHistory();
    const input = ids.map((id, i) => (i === ids.length - 1 ? [id, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }] : id));
    const out = await s.controlledEvaluate(input);
    const probs = out[ids.length - 1]?.next?.probabilities;
    if (!probs) throw new Error('node-llama-cpp returned no probabilities');
    const logprobs = [];
    for (const [id, p] of probs) logprobs.push([id, Math.log(p)]);
    return { logprobs, peakKiB: peakKiB() };
  },
  async pp({ ids, threads }) {
    const s = await sequenceFor(threads);
    await s.clearHistory();
    const c0 = cpuMs();
    const t0 = performance.now();
    await s.evaluateWithoutGeneratingNewTokens(ids);
    return { ms: performance.now() - t0, cpuMs: cpuMs() - c0, threads: contexts.get(threads).context.currentThreads };
  },
  /** `n` single-token steps from an empty context (llama-bench's tg), greedy sampling in native code. */
  async tg({ first, n, threads }) {
    const s = await sequenceFor(threads);
    await s.clearHistory();
    const c0 = cpuMs();
    const t0 = performance.now();
    let k = 0;
    for await (const token of s.evaluate([first], { temperature: 0 })) {
      if (token === undefined || ++k >= n) break;
    }
    return { ms: performance.now() - t0, cpuMs: cpuMs() - c0, steps: k, threads: contexts.get(threads).context.currentThreads };
  },
  /** A whole request: tokenize, prefill and first sample, decode steps (sampling included), streamed detokenize. */
  async request({ text, maxTokens, threads, seed }) {
    const s = await sequenceFor(threads);
    await s.clearHistory();
    const st = { tokenize: 0, prefill: 0, decode: 0, detokenize: 0 };
    const t0 = performance.now();
    const ids = model.tokenize(text);
    const t1 = performance.now();
    st.tokenize = t1 - t0;
    const out = [];
    let last = t1;
    let chars = 0;
    for await (const token of s.evaluate(ids, { temperature: 0.8, topK: 40, topP: 0.95, seed })) {
      const now = performance.now();
      if (out.length === 0) st.prefill += now - last;
      else st.decode += now - last;
      out.push(token);
      chars += model.detokenize([token]).length;
      last = performance.now();
      st.detokenize += last - now;
      if (out.length >= maxTokens) break;
    }
    const total = performance.now() - t0;
    return { totalMs: total, stages: st, promptTokens: ids.length, generatedTokens: out.length, chars };
  },
  async rss() {
    return { peakKiB: peakKiB() };
  },
  async exit() {
    for (const { context } of contexts.values()) await context.dispose();
    await model?.dispose();
    await llama?.dispose();
    return {};
  },
};

process.on('message', async (msg) => {
  let reply;
  try {
    const h = handlers[msg.op];
    if (!h) throw new TypeError(`peer-child: unknown op '${msg.op}'`);
    reply = { id: msg.id, ok: true, value: await h(msg) };
  } catch (e) {
    reply = { id: msg.id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  // After 'exit', leave even where an engine's threads would keep the process alive.
  process.send(reply, () => msg.op === 'exit' && process.exit(0));
});
process.send({ ready: true, peakKiB: peakKiB() });
