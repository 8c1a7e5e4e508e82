// Peak RSS side by side: attnode and node-llama-cpp (llama.cpp) each load the same GPT-2
// 124M-shaped GGUF file (f32 and q8_0) and evaluate one token, in processes of their own,
// alternating, several rounds; writes rss.md into --out (default bench/results). Not a test and
// not a timing suite (the e2e suite records each engine's peak RSS once per run beside its timings).
//   npx tsx bench/rss-peers.ts [--rounds 5] [--ctx 1024] [--no-build] [--out DIR]
// node-llama-cpp comes from the bench's on-demand installer (bench/lib/llama-peer.ts: the pinned
// version with only its CPU binary package, in the peer cache; ATTNODE_BENCH_NO_INSTALL=1 turns
// installing off), never from attnode's dependencies.
// attnode runs from dist/ (built here with `npm run build:ts` unless --no-build) under plain
// node, as a user runs it: tsx alone adds about 45 MiB to a process.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GPT2_124M, writeGpt2_124m } from './gpt2-124m-fixture.js';
import { ensureNodeLlamaCpp, NODE_LLAMA_CPP_VERSION } from './lib/llama-peer.js';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    ctx: { type: 'string', default: '1024' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const rounds = Number(opts.rounds);
const ctx = Number(opts.ctx);
if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rss-peers: '--rounds' must be a positive integer, got ${opts.rounds}`);
if (!Number.isInteger(ctx) || ctx < 1 || ctx > GPT2_124M.ctx) throw new RangeError(`rss-peers: '--ctx' must be an integer in [1, ${GPT2_124M.ctx}], got ${opts.ctx}`);
if (opts.out !== undefined && opts.out.trim() === '') throw new RangeError("rss-peers: '--out' expects a folder, got an empty string");
const peer = ensureNodeLlamaCpp({ log: (l) => console.log(`rss-peers: ${l}`) });
if (!peer.present) throw new Error(`rss-peers: node-llama-cpp ${NODE_LLAMA_CPP_VERSION} is absent: ${peer.reason}`);
const peerDir = peer.dir;

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!opts['no-build']) execFileSync('npm', ['run', 'build:ts'], { cwd: repo, stdio: 'ignore' });

type Dtype = 'f32' | 'q8_0';
const DTYPES: Dtype[] = ['f32', 'q8_0'];
// Files with tokenizer metadata (llama.cpp refuses a GGUF without it); attnode ignores it.
const files: Record<Dtype, string> = { f32: '', q8_0: '' };
for (const d of DTYPES) {
  files[d] = join(tmpdir(), `attnode-gpt2-124m-${d}-tokenizer.gguf`);
  if (!existsSync(files[d])) writeGpt2_124m(files[d], 1, d, { tokenizer: true });
}

// Each side loads, evaluates token 1 with logits for it and prints its greedy next token; its
// peak RSS comes from /usr/bin/time (ru_maxrss: "Maximum resident set size" of `time -v`).
const scratch = mkdtempSync(join(tmpdir(), 'attnode-rss-'));
const attnodeChild = join(scratch, 'attnode.mjs');
writeFileSync(attnodeChild, `import { loadModel } from ${JSON.stringify(pathToFileURL(join(repo, 'dist', 'index.js')).href)};
const [path, ctx] = process.argv.slice(2);
const m = await loadModel(path, { kind: 'decoder', contextLength: Number(ctx) });
const logits = await m.forward([1]);
if (!logits.every(Number.isFinite)) throw new RangeError('attnode: logits are not finite');
let next = 0;
for (let i = 1; i < logits.length; i++) if (logits[i] > logits[next]) next = i;
console.log(JSON.stringify({ next }));
m.dispose();
`);
// node-llama-cpp imported by its path in the peer cache (nothing is written there).
const peerChild = join(scratch, 'peer.mjs');
writeFileSync(peerChild, `const { getLlama } = await import(${JSON.stringify(pathToFileURL(join(peerDir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href)});
const [path, ctx] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: 'never' });
const model = await llama.loadModel({ modelPath: path });
const context = await model.createContext({ contextSize: Number(ctx) });
let next;
for await (const t of context.getSequence().evaluate([1], { temperature: 0 })) { next = t; break; }
console.log(JSON.stringify({ next }));
`);

type Side = 'attnode' | 'node-llama-cpp';
// A child forked straight from this process would start from this process's peak: Linux keeps
// the forked copy's high-water mark across exec. /usr/bin/time is small when it forks the child,
// and reports the child's own peak (%M, KiB).
const TIME = '/usr/bin/time';
if (!existsSync(TIME)) throw new RangeError(`rss-peers: needs ${TIME} (Debian package 'time') to measure each child's own peak`);
function peakKiB(args: string[], cwd: string): { kib: number; stdout: string } {
  const r = spawnSync(TIME, ['-f', 'maxrss_kib=%M', process.execPath, ...args], { cwd, encoding: 'utf8' });
  const m = /maxrss_kib=(\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`rss-peers: '${args.join(' ')}' failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return { kib: Number(m[1]), stdout: r.stdout };
}
function measure(side: Side, d: Dtype): { mib: number; next: number } {
  const script = side === 'attnode' ? attnodeChild : peerChild;
  const { kib, stdout } = peakKiB([script, files[d], String(ctx)], side === 'attnode' ? repo : peerDir);
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { next: number };
  return { mib: kib / 1024, next: r.next };
}

// A bare node process, for scale.
const bare = peakKiB(['-e', ''], repo).kib / 1024;

const results: Record<Dtype, Record<Side, number[]>> = { f32: { attnode: [], 'node-llama-cpp': [] }, q8_0: { attnode: [], 'node-llama-cpp': [] } };
const greedy: Record<Dtype, Record<Side, number[]>> = { f32: { attnode: [], 'node-llama-cpp': [] }, q8_0: { attnode: [], 'node-llama-cpp': [] } };
for (let r = 0; r < rounds; r++)
  for (const d of DTYPES) {
    // Alternate which side goes first: page-cache state and machine noise fall on both.
    const order: Side[] = r % 2 === 0 ? ['attnode', 'node-llama-cpp'] : ['node-llama-cpp', 'attnode'];
    for (const side of order) {
      const m = measure(side, d);
      results[d][side].push(m.mib);
      greedy[d][side].push(m.next);
      console.log(`round ${r + 1} ${d.padEnd(5)} ${side.padEnd(15)} ${m.mib.toFixed(1)} MiB (next token ${m.next})`);
    }
  }

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (a: number[]) => `${median(a).toFixed(0)} (${Math.min(...a).toFixed(0)}-${Math.max(...a).toFixed(0)})`;
const { layers: L, C } = GPT2_124M;
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
// attnode takes K/V pages of 32 rows (f32) as a sequence grows: one page for one token.
const attnodeKv = L * 2 * 32 * C * 4;
// llama.cpp allocates the whole context's K/V at context creation, f16 by default.
const llamaKv = L * 2 * ctx * C * 2;
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'a tree outside git';
  }
})();
// Same weights, same token: the same greedy next token is a check that both ran the model.
const agree = DTYPES.every((d) => new Set([...greedy[d].attnode, ...greedy[d]['node-llama-cpp']]).size === 1);
const agreement = agree
  ? `Both sides pick the same greedy next token (${DTYPES.map((d) => `${d}: ${greedy[d].attnode[0]}`).join(', ')}).`
  : `The greedy next tokens differ (${DTYPES.map((d) => `${d}: attnode ${greedy[d].attnode.join('/')}, node-llama-cpp ${greedy[d]['node-llama-cpp'].join('/')}`).join('; ')}).`;
const rows = DTYPES.map((d) => {
  const a = results[d].attnode, p = results[d]['node-llama-cpp'];
  return `| GGUF ${d} | ${mib(statSync(files[d]).size)} MiB | ${fmt(a)} | ${fmt(p)} | ${(median(a) / median(p)).toFixed(2)} |`;
});
const md = `# Peak RSS: load + one token, attnode against node-llama-cpp

Generated by \`npx tsx bench/rss-peers.ts --rounds ${rounds} --ctx ${ctx}\` on ${new Date().toISOString().slice(0, 10)}
(attnode ${commit}, node-llama-cpp ${NODE_LLAMA_CPP_VERSION} CPU build from ${peer.binaryPackage}), machine: ${cpus()[0]?.model ?? 'unknown CPU'},
${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}.

Each figure is one process's peak resident set size (ru_maxrss, from \`/usr/bin/time\`) after
loading a GPT-2 124M-shaped GGUF file with random weights and tokenizer metadata
(\`bench/gpt2-124m-fixture.ts\`) and evaluating one token with its logits; median of ${rounds}
rounds (min-max), the two sides alternating, each in its own process. ${agreement} Both sides use a context
of ${ctx} positions: attnode plans its activations for ${ctx} tokens per pass and takes K/V
pages on demand (one 32-row f32 page for this token, ${mib(attnodeKv)} MiB); llama.cpp
allocates the whole context's f16 K/V at once (${mib(llamaKv)} MiB) and a compute buffer for
its default batch of ${Math.min(ctx, 512)} tokens. A bare \`node\` process peaks at ${bare.toFixed(0)} MiB here.

| file | size | attnode MiB | node-llama-cpp MiB | attnode / node-llama-cpp |
|---|---|---|---|---|
${rows.join('\n')}
`;
const outDir = resolve(opts.out ?? join(repo, 'bench', 'results'));
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'rss.md'), md);
console.log(md);
