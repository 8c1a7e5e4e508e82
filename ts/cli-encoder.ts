// The encoder commands of `attnode`: embed, rerank, classify, ner, fill-mask. Flag parsing and
// printing only (texts from the arguments or stdin, one per line); the work is the Encoder's.
// Not the decoder commands (cli.ts).

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync } from 'node:fs';
import { BACKEND_NAMES, type BackendName } from './backend/backends.js';
import { Encoder, type ClassifyFunction } from './encoder/encoder.js';
import type { PoolingMode } from './encoder/files.js';
import { AGGREGATIONS, type Aggregation, type TokenEntity } from './encoder/token-classify.js';
import type { WeightDType } from './models/weights.js';
import { WEIGHT_DTYPES } from './tensor/formats.js';

export const ENCODER_COMMANDS = ['embed', 'rerank', 'classify', 'ner', 'fill-mask'] as const;
export type EncoderCommand = (typeof ENCODER_COMMANDS)[number];

export const ENCODER_USAGE = `encoder commands (texts: arguments, or stdin one per line; --model <dir> is a Hugging Face directory):
  embed       one vector per text         [--pooling cls|max|mean] [--normalize | --no-normalize]
  rerank      documents scored by a cross-encoder against --query <text>   [--top-n <n>]
  classify    labels per text             [--top-k <n>|all] [--function softmax|sigmoid|none]
  ner         entities per text           [--aggregation ${AGGREGATIONS.join('|')}] [--ignore <label>]...
  fill-mask   candidates per [MASK]       [--top-k <n>] [--target <token>]...
  all:        --model <dir> [--json] [--backend ${BACKEND_NAMES.join('|')}] [--dtype ${WEIGHT_DTYPES.join('|')}] [--threads <n>]`;

const COMMON = { model: { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' }, dtype: { type: 'string' }, threads: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
const FLAGS = {
  embed: { ...COMMON, pooling: { type: 'string' }, normalize: { type: 'boolean' }, 'no-normalize': { type: 'boolean' } },
  rerank: { ...COMMON, query: { type: 'string' }, 'top-n': { type: 'string' } },
  classify: { ...COMMON, 'top-k': { type: 'string' }, function: { type: 'string' } },
  ner: { ...COMMON, aggregation: { type: 'string' }, ignore: { type: 'string', multiple: true } },
  'fill-mask': { ...COMMON, 'top-k': { type: 'string' }, target: { type: 'string', multiple: true } },
} as const satisfies Record<EncoderCommand, NonNullable<ParseArgsConfig['options']>>;

type Values = Record<string, string | boolean | string[] | undefined>;
type Usage = (message: string) => Error;

function oneOf<T extends string>(flag: string, v: unknown, allowed: readonly T[], usage: Usage): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw usage(`--${flag} must be one of ${allowed.join(', ')}, got '${String(v)}'`);
  return v as T;
}

function count(flag: string, v: unknown, usage: Usage): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n) || n < 1) throw usage(`--${flag} must be an integer >= 1, got '${String(v)}'`);
  return n;
}

async function readLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
}

const fmt = (x: number): string => x.toFixed(4);

function entityLine(e: TokenEntity): string {
  return `  ${(e.entityGroup ?? e.entity ?? '').padEnd(10)} ${JSON.stringify(e.word).padEnd(20)} [${e.start}, ${e.end})  ${fmt(e.score)}${e.index === undefined ? '' : `  token ${e.index}`}`;
}

/** Runs one encoder command; flag errors are `usage` errors, the library's errors pass through. */
export async function runEncoderCommand(cmd: EncoderCommand, args: string[], usage: Usage): Promise<void> {
  const options = FLAGS[cmd];
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (e) {
    throw usage(`${(e as Error).message}\nallowed options: ${Object.keys(options).map((o) => `--${o}`).join(', ')}`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return void console.log(ENCODER_USAGE);
  const dir = v.model as string | undefined;
  if (dir === undefined) throw usage(`${cmd} needs --model <checkpoint directory>`);
  if (!existsSync(dir)) throw usage(`--model: '${dir}' does not exist`);
  const backend = oneOf<BackendName>('backend', v.backend, BACKEND_NAMES, usage);
  const dtype = oneOf<WeightDType>('dtype', v.dtype, WEIGHT_DTYPES, usage);
  const threads = count('threads', v.threads, usage);
  // Every flag is checked before the model loads or stdin is read.
  const pooling = oneOf<PoolingMode>('pooling', v.pooling, ['cls', 'max', 'mean'], usage);
  if (v.normalize && v['no-normalize']) throw usage('--normalize and --no-normalize contradict each other');
  const query = v.query as string | undefined;
  if (cmd === 'rerank' && query === undefined) throw usage('rerank needs --query <text>; the documents are the arguments or stdin lines');
  const topN = count('top-n', v['top-n'], usage);
  const topK = v['top-k'] === 'all' && cmd === 'classify' ? null : count('top-k', v['top-k'], usage);
  const fn = oneOf<ClassifyFunction>('function', v.function, ['softmax', 'sigmoid', 'none'], usage);
  const aggregation = oneOf<Aggregation>('aggregation', v.aggregation, AGGREGATIONS, usage);
  const texts = positionals.length > 0 ? positionals : process.stdin.isTTY ? [] : await readLines();
  if (texts.length === 0) throw usage(`${cmd} needs texts: arguments, or lines on stdin`);
  const json = v.json === true;
  const out = (o: unknown, text: string): void => void process.stdout.write(`${json ? JSON.stringify(o) : text}\n`);
  const enc = await Encoder.load(dir, { ...(backend ? { backend } : {}), ...(dtype ? { dtype } : {}), ...(threads ? { threads } : {}) });
  try {
    if (cmd === 'embed') {
      const normalize = v.normalize ? true : v['no-normalize'] ? false : undefined;
      const vecs = await enc.embed(texts, { ...(pooling ? { pooling } : {}), ...(normalize === undefined ? {} : { normalize }) });
      vecs.forEach((e, i) => out({ text: texts[i], embedding: Array.from(e) }, `${texts[i]}\t[${Array.from(e.subarray(0, 8), fmt).join(', ')}${e.length > 8 ? ', ...' : ''}] (${e.length} dims)`));
    } else if (cmd === 'rerank') {
      for (const r of await enc.rerank(query!, texts, { returnDocuments: true, ...(topN ? { topN } : {}) })) out(r, `${fmt(r.score)}\t${r.index}\t${r.document!}`);
    } else if (cmd === 'classify') {
      const res = await enc.classify(texts, { ...(topK !== undefined ? { topK } : {}), ...(fn ? { functionToApply: fn } : {}) });
      res.forEach((labels, i) => out({ text: texts[i], labels }, `${texts[i]}\t${labels.map((l) => `${l.label} ${fmt(l.score)}`).join(', ')}`));
    } else if (cmd === 'ner') {
      for (const t of texts) {
        const entities = await enc.tokenClassify(t, { ...(aggregation ? { aggregation } : {}), ...(v.ignore ? { ignoreLabels: v.ignore as string[] } : {}) });
        out({ text: t, entities }, [t, ...entities.map(entityLine)].join('\n'));
      }
    } else {
      for (const t of texts) {
        const masks = await enc.fillMask(t, { ...(topK ? { topK } : {}), ...(v.target ? { targets: v.target as string[] } : {}) });
        out({ text: t, masks }, [t, ...masks.flatMap((list, m) => [`  mask ${m}:`, ...list.map((r) => `    ${fmt(r.score)}  ${r.tokenStr.padEnd(12)} ${r.sequence}`)])].join('\n'));
      }
    }
  } finally {
    enc.dispose();
  }
}
