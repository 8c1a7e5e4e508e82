// The encoder commands of `attnode` (embed, rerank, classify, ner, fill-mask) run as child
// processes on the task fixtures: JSON lines equal to the goldens, readable text, texts from
// stdin, and flag errors that name the flag.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOL_MODEL_ENCODER_F32 } from './harness/tolerance.js';

const DIR = join(import.meta.dirname, 'fixtures', 'encoder-tasks');
const G = JSON.parse(readFileSync(join(DIR, 'goldens.json'), 'utf8')) as {
  embed: { model: string; texts: string[]; options: unknown; embeddings: number[][] }[];
  rerank: { model: string; query: string; documents: string[]; results: { index: number; score: number }[] }[];
  classify: { model: string; texts: string[]; topK: number | null; explicit?: boolean; results: { label: string; score: number }[][] }[];
  tokenClassify: { text: string; aggregation: string; ignoreLabels?: string[]; entities: { entity_group?: string; word: string; start: number; end: number }[] }[];
  fillMask: { text: string; topK: number; targets: string[] | null; results: { token: number; sequence: string }[][] }[];
};
const tsx = join(createRequire(import.meta.url).resolve('tsx'), '..', 'cli.mjs');

function cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [tsx, 'ts/cli.ts', ...args], { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
}
const lines = (s: string): unknown[] => s.trim().split('\n').map((l) => JSON.parse(l) as unknown);
const close = (a: number, b: number): boolean => Math.abs(a - b) <= TOL_MODEL_ENCODER_F32.atol + Math.abs(b) * TOL_MODEL_ENCODER_F32.rtol;

describe('attnode encoder commands', () => {
  it('embed --json from stdin gives the golden vectors; readable text otherwise', () => {
    const g = G.embed.find((e) => e.model === 'embed-mean' && e.options === null)!;
    const r = cli(['embed', '--model', join(DIR, 'embed-mean'), '--json'], g.texts.join('\n') + '\n');
    expect(r.status, r.stderr).toBe(0);
    const got = lines(r.stdout) as { text: string; embedding: number[] }[];
    expect(got.map((x) => x.text)).toEqual(g.texts);
    got.forEach((x, i) => expect(x.embedding.every((v, k) => close(v, g.embeddings[i]![k]!))).toBe(true));
    const t = cli(['embed', '--model', join(DIR, 'embed-mean'), g.texts[0]!]);
    expect(t.stdout).toMatch(/^The cat sat on the mat\.\t\[-?\d\.\d{4}, .*\] \(32 dims\)\n$/);
  });

  it('rerank and classify --json equal the goldens', () => {
    const g = G.rerank.find((x) => x.model === 'rerank')!;
    const r = cli(['rerank', '--model', join(DIR, 'rerank'), '--query', g.query, '--top-n', '3', '--json', ...g.documents]);
    expect(r.status, r.stderr).toBe(0);
    const got = lines(r.stdout) as { index: number; score: number; document: string }[];
    expect(got.map((x) => [x.index, x.document])).toEqual(g.results.slice(0, 3).map((x) => [x.index, g.documents[x.index]]));
    got.forEach((x, i) => expect(close(x.score, g.results[i]!.score)).toBe(true));
    const c = G.classify.find((x) => x.model === 'classify-multi' && x.topK === null)!;
    const k = cli(['classify', '--model', join(DIR, 'classify-multi'), '--top-k', 'all', '--json', ...c.texts]);
    expect(k.status, k.stderr).toBe(0);
    expect((lines(k.stdout) as { labels: { label: string }[] }[]).map((x) => x.labels.map((l) => l.label))).toEqual(c.results.map((x) => x.map((l) => l.label)));
  });

  it('ner and fill-mask --json equal the goldens; readable ner lists the entities', () => {
    const n = G.tokenClassify.find((x) => x.aggregation === 'first')!;
    const r = cli(['ner', '--model', join(DIR, 'ner'), '--aggregation', 'first', '--json', n.text]);
    expect(r.status, r.stderr).toBe(0);
    const got = (lines(r.stdout)[0] as { entities: { entityGroup: string; word: string; start: number; end: number }[] }).entities;
    expect(got.map((e) => [e.entityGroup, e.word, e.start, e.end])).toEqual(n.entities.map((e) => [e.entity_group, e.word, e.start, e.end]));
    const t = cli(['ner', '--model', join(DIR, 'ner'), '--aggregation', 'first', n.text]);
    expect(t.stdout.split('\n')[1]).toMatch(new RegExp(`^  ${n.entities[0]!.entity_group}\\s+"${n.entities[0]!.word}"\\s+\\[${n.entities[0]!.start}, ${n.entities[0]!.end}\\)`));
    const f = G.fillMask.find((x) => x.targets !== null)!;
    const m = cli(['fill-mask', '--model', join(DIR, 'fill-mask'), '--top-k', String(f.topK), ...f.targets!.flatMap((x) => ['--target', x]), '--json', f.text]);
    expect(m.status, m.stderr).toBe(0);
    const masks = (lines(m.stdout)[0] as { masks: { token: number; sequence: string }[][] }).masks;
    expect(masks.map((l) => l.map((x) => [x.token, x.sequence]))).toEqual(f.results.map((l) => l.map((x) => [x.token, x.sequence])));
  });

  it('bad flags and inputs name the problem', () => {
    const cases: [string[], number, RegExp][] = [
      [['embed', 'x'], 2, /embed needs --model <checkpoint directory>/],
      [['embed', '--model', join(DIR, 'embed-mean'), '--pooling', 'sum', 'x'], 2, /--pooling must be one of cls, max, mean, got 'sum'/],
      [['rerank', '--model', join(DIR, 'rerank'), 'doc'], 2, /rerank needs --query <text>/],
      [['classify', '--model', join(DIR, 'classify'), '--top-k', '0', 'x'], 2, /--top-k must be an integer >= 1, got '0'/],
      [['ner', '--model', join(DIR, 'ner'), '--aggregation', 'mean', 'x'], 2, /--aggregation must be one of none, simple, first, average, max, got 'mean'/],
      [['fill-mask', '--model', join(DIR, 'fill-mask'), '--colour', 'x'], 2, /Unknown option '--colour'[\s\S]*allowed options: .*--target/],
      [['fill-mask', '--model', join(DIR, 'fill-mask'), 'no mask here'], 1, /fillMask: 'text' has no mask token \[MASK\]/],
      [['classify', '--model', join(DIR, 'ner'), 'x'], 1, /classify: .* is a BertForTokenClassification.*needs a sequence classification model/],
      [['embed', '--model', join(DIR, 'nope'), 'x'], 2, /--model: '.*nope' does not exist/],
    ];
    for (const [args, code, msg] of cases) {
      const r = cli(args, '');
      expect(r.status, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(msg);
    }
    expect(cli(['embed', '--model', join(DIR, 'embed-mean')], '\n').stderr).toMatch(/embed needs texts: arguments, or lines on stdin/);
  }, 240_000); // ten processes on a shared machine
});
