// The runner's command line: suites, filters, --quick, --out, --compare. Parsing and checking
// only; a bad option is a BenchUsageError that names it. Not the runner (bench/run.ts).

import { parseArgs } from 'node:util';
import { BACKEND_NAMES } from '../../ts/backend/backends.js';
import { WEIGHT_DTYPES } from '../../ts/tensor/formats.js';
import { DEFAULT_THRESHOLD } from './compare.js';

export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

export interface RunOptions {
  suites: string[];
  quick: boolean;
  backend?: string[];
  threads?: number[];
  dtype?: string[];
  /** Output folder; absent: the runner's default. */
  out?: string;
  /** The old run's bench.json, or several runs' as a comma-separated list. */
  compare?: string;
  /** With compare: compare this file (or comma-separated files, several runs) with it instead of running. */
  compareOnly?: string;
  /** The floor of --compare: a drift-corrected change smaller than this is never flagged (default 0.1). */
  threshold: number;
  list: boolean;
  help: boolean;
}

/** Weight dtypes a case may name: the file formats, the per-row int8 of the quant suite and the e2e suite's Q4_K_M mix. */
export const BENCH_DTYPES: readonly string[] = [...WEIGHT_DTYPES, 'i8', 'q4_k_m'];
export const BENCH_BACKENDS: readonly string[] = BACKEND_NAMES;

export const BENCH_USAGE = `usage: attnode bench [SUITE ...] [--suite a,b] [--quick] [--backend ${BENCH_BACKENDS.join('|')}[,...]]
  [--threads 1,2] [--dtype f32,q8_0,...] [--out DIR] [--compare OLD.json[,OLD2.json...] [--compare-only NEW.json[,NEW2.json...]] [--threshold 0.1]] [--list]`;

function list(name: string, v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new BenchUsageError(`--${name}: expected a comma-separated list, got '${v}'`);
  return [...new Set(items)];
}

function oneOfEach(name: string, items: string[] | undefined, allowed: readonly string[]): string[] | undefined {
  for (const x of items ?? []) if (!allowed.includes(x)) throw new BenchUsageError(`--${name}: unknown value '${x}'; expected one of ${allowed.join(', ')}`);
  return items;
}

/** Parses argv (after `bench`); `known` is every suite the runner can run. */
export function parseBenchArgs(argv: readonly string[], known: readonly string[]): RunOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        suite: { type: 'string', multiple: true },
        quick: { type: 'boolean' },
        backend: { type: 'string' },
        threads: { type: 'string' },
        dtype: { type: 'string' },
        out: { type: 'string' },
        compare: { type: 'string' },
        'compare-only': { type: 'string' },
        threshold: { type: 'string' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // node:util's messages name the option ("Unknown option '--thread'"); keep them, add the usage.
    throw new BenchUsageError(`${e instanceof Error ? e.message : String(e)}\n${BENCH_USAGE}`);
  }
  const v = parsed.values;
  const named = [...parsed.positionals, ...(v.suite ?? []).flatMap((s) => list('suite', s) ?? [])];
  for (const s of named) if (!known.includes(s)) throw new BenchUsageError(`--suite: unknown suite '${s}'; suites: ${known.join(', ')}`);
  const threads = list('threads', v.threads)?.map((t) => {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new BenchUsageError(`--threads: '${t}' is not a thread count (an integer from 1 to 1024)`);
    return n;
  });
  let threshold = DEFAULT_THRESHOLD;
  if (v.threshold !== undefined) {
    threshold = Number(v.threshold);
    if (!Number.isFinite(threshold) || threshold < 0 || threshold >= 1) throw new BenchUsageError(`--threshold: '${v.threshold}' is not a fraction in [0, 1) (0.1 is 10%)`);
  }
  for (const k of ['out', 'compare', 'compare-only'] as const)
    if (v[k] !== undefined && v[k]!.trim() === '') throw new BenchUsageError(`--${k}: expected a path, got an empty string`);
  if (v['compare-only'] !== undefined && v.compare === undefined) throw new BenchUsageError('--compare-only: needs --compare OLD.json (the file to compare against)');
  if (v.threshold !== undefined && v.compare === undefined) throw new BenchUsageError('--threshold: only applies with --compare');
  return {
    suites: named.length ? [...new Set(named)] : [...known],
    quick: v.quick === true,
    backend: oneOfEach('backend', list('backend', v.backend), BENCH_BACKENDS),
    threads,
    dtype: oneOfEach('dtype', list('dtype', v.dtype), BENCH_DTYPES),
    out: v.out,
    compare: v.compare,
    compareOnly: v['compare-only'],
    threshold,
    list: v.list === true,
    help: v.help === true,
  };
}
