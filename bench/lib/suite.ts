// What a benchmark suite is and what the runner hands it: a Suite's run(ctx) measures cases with
// ctx.measure (check first, warm up, rounds interleaved between sides, a minimum time per round)
// or records figures it measured itself with ctx.record. Not the runner (bench/run.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from './plot.js';
import type { BenchCase, CaseParams, PeerStatus } from './schema.js';
import { median, spreadOf } from './stats.js';

/** What the runner was asked for, as a suite sees it. Filters are absent when not given. */
export interface SuiteOptions {
  quick: boolean;
  backend?: string[];
  threads?: number[];
  dtype?: string[];
  /** Where the report goes; plots are written here. */
  out: string;
  /** The machine header's FMA peak and read bandwidth per thread count, when the runner measured them. */
  calibration?: Array<{ threads: number; fmaGflops: number; readGBs: number }>;
}

/** One side of a case: attnode or a peer doing the same work. Either function may be async. */
export interface Side {
  /** Runs once before anything is timed and throws when the result is wrong. */
  check?: () => unknown;
  /** One call of the work being timed. */
  run: () => unknown;
  /** Runs before every call, outside the timing (a fresh object per call); calls are then timed one by one. */
  before?: () => unknown;
}

export interface CaseSpec {
  name: string;
  params: CaseParams;
  /** Time units ('ms', 'us', 's') report time per call; any other unit is `work` per second. */
  unit: string;
  /** The unit's numerator per call for rates: FLOPs / 1e9 for GFLOP/s, tokens for tokens/s. */
  work?: number;
  /** Default: 'lower' for time units, 'higher' for rates. */
  better?: 'higher' | 'lower';
  /** 'cpu' times on the process's CPU clock (one thread on a shared machine); default 'wall'. */
  clock?: 'wall' | 'cpu';
  /** Rounds per side (default 5, quick 3); rounds rotate which side goes first. */
  rounds?: number;
  /** Minimum time of one round (default 200 ms, quick 50 ms); at least one call. */
  minTimeMs?: number;
  /** Warm-up per side before the first round (default 50 ms, quick 20 ms); at least one call. */
  warmupMs?: number;
  /** Cap on calls in one round (default 10,000). */
  maxIterations?: number;
}

/** A figure measured by the suite itself (a subprocess, a whole generation), one sample per round. */
export interface RecordedCase {
  name: string;
  params: CaseParams;
  side: string;
  unit: string;
  better: 'higher' | 'lower';
  samples: number[];
  iterations?: number;
  clock?: 'wall' | 'cpu';
  derived?: Record<string, number>;
}

export interface SuiteContext {
  readonly suite: string;
  readonly options: SuiteOptions;
  readonly quick: boolean;
  /** `defaults` narrowed by --threads / --dtype / --backend (unchanged when the filter is absent). */
  threads(defaults: readonly number[]): number[];
  dtypes<T extends string>(defaults: readonly T[]): T[];
  backends<T extends string>(defaults: readonly T[]): T[];
  /** Whether a case with these params passes the filters. */
  wants(params: CaseParams): boolean;
  /** Checks, warms up and times every side; one case per side, none when filtered out. */
  measure(spec: CaseSpec, sides: Record<string, Side>): Promise<BenchCase[]>;
  /**
   * Like measure, over different cases timed in the same rounds (all dtypes of one shape, so
   * bandwidth drift hits each alike). Timing options and the clock come from the first spec.
   */
  interleave(entries: ReadonlyArray<Side & { spec: CaseSpec; side?: string }>): Promise<BenchCase[]>;
  record(c: RecordedCase): BenchCase | undefined;
  peerPresent(name: string, version: string): void;
  /** The peer's cases are left out and the report says why; the suite carries on. */
  peerAbsent(name: string, reason: string): void;
  /** A line under the suite's heading in the report. */
  note(line: string): void;
  /** A Markdown block of the suite's own (a table the generic one cannot show). */
  section(markdown: string): void;
  /** Renders a Vega-Lite spec to <out>/<suite>-<id>.svg and lists it in the report. */
  plot(id: string, title: string, spec: TopLevelSpec): Promise<string>;
  /** The cases this suite has measured or recorded so far. */
  cases(): readonly BenchCase[];
  /** Lists a file the suite wrote into options.out itself (the report links it). */
  file(path: string): void;
  /** Progress on stderr. */
  log(line: string): void;
}

export interface Suite {
  name: string;
  /** The report section's heading. */
  title: string;
  /** One or two sentences: what is measured, against what. */
  description: string;
  run(ctx: SuiteContext): Promise<void>;
}

export const defineSuite = (s: Suite): Suite => s;

interface Timed {
  spec: CaseSpec;
  side: string;
  impl: Side;
}

const TIME_UNITS: Record<string, number> = { s: 1, ms: 1e3, us: 1e6 };
const nowWall = (): number => performance.now();
const nowCpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The figure of one call taking `ms` milliseconds. */
export function figureOf(spec: Pick<CaseSpec, 'unit' | 'work' | 'name'>, ms: number): number {
  const t = TIME_UNITS[spec.unit];
  if (t !== undefined) return (ms / 1e3) * t;
  if (spec.work === undefined) throw new RangeError(`case '${spec.name}': unit '${spec.unit}' is a rate and needs 'work' (per call)`);
  return spec.work / (ms / 1e3);
}

/** Everything the runner's child process collects from one suite. */
export interface SuiteOutput {
  cases: BenchCase[];
  peers: PeerStatus[];
  notes: string[];
  sections: string[];
  files: string[];
}

export function createContext(suite: string, options: SuiteOptions, log: (line: string) => void): { ctx: SuiteContext; output: SuiteOutput } {
  const output: SuiteOutput = { cases: [], peers: [], notes: [], sections: [], files: [] };
  const quick = options.quick;
  const pass = <T>(list: readonly T[] | undefined, v: T | undefined): boolean => list === undefined || v === undefined || list.includes(v);
  const wants = (p: CaseParams): boolean => pass(options.threads, p.threads) && pass(options.dtype, p.dtype) && pass(options.backend, p.backend);
  const push = (c: Omit<BenchCase, 'suite' | 'median' | 'spread'>): BenchCase => {
    if (c.samples.length === 0 || !c.samples.every(Number.isFinite)) throw new RangeError(`${suite}/${c.name} (${c.side}): samples must be finite numbers, got [${c.samples.join(', ')}]`);
    const full: BenchCase = { suite, ...c, median: median(c.samples), spread: spreadOf(c.samples) };
    output.cases.push(full);
    return full;
  };

  async function measureMany(all: readonly Timed[]): Promise<BenchCase[]> {
    const entries = all.filter((e) => wants(e.spec.params));
    if (entries.length === 0) return [];
    const label = (e: Timed) => `${suite}/${e.spec.name} [${Object.entries(e.spec.params).map(([k, v]) => `${k}=${String(v)}`).join(',')}] (${e.side})`;
    const first = entries[0]!.spec;
    const clock = first.clock ?? 'wall';
    for (const e of entries)
      if ((e.spec.clock ?? 'wall') !== clock) throw new RangeError(`${label(e)}: cases timed together must share one clock`);
    const now = clock === 'cpu' ? nowCpu : nowWall;
    const rounds = first.rounds ?? (quick ? 3 : 5);
    const minMs = first.minTimeMs ?? (quick ? 50 : 200);
    const warmMs = first.warmupMs ?? (quick ? 20 : 50);
    const maxIt = first.maxIterations ?? 10_000;
    // Check every entry before timing any: a wrong answer fast is not a result.
    for (const e of entries) {
      if (!e.impl.check) continue;
      try {
        await e.impl.check();
      } catch (err) {
        throw new Error(`${label(e)}: check failed before timing: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    // Calls quicker than the clock's resolution are timed in batches of `batch` calls.
    const batch: number[] = [];
    for (const e of entries) {
      const { run, before } = e.impl;
      const t0 = nowWall();
      let calls = 0;
      do {
        if (before) await before();
        await run();
        calls++;
      } while (nowWall() - t0 < warmMs && calls < maxIt);
      const per = (nowWall() - t0) / calls;
      const grain = clock === 'cpu' ? 0.5 : 0.02;
      batch.push(!before && per > 0 && per < grain ? Math.ceil(grain / per) : 1);
    }
    const samples: number[][] = entries.map(() => []);
    const iterations: number[] = entries.map(() => 0);
    // Round r starts with entry r (mod count): no entry always runs first or right after another.
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < entries.length; i++) {
        const at = (i + r) % entries.length;
        const { run, before } = entries[at]!.impl;
        const k = batch[at]!;
        const per: number[] = [];
        const start = nowWall();
        do {
          if (before) await before();
          const t0 = now();
          for (let j = 0; j < k; j++) {
            // Awaits only a promise: a microtask per call would show in microsecond kernels.
            const v = run();
            if (v instanceof Promise) await v;
          }
          per.push((now() - t0) / k);
        } while (nowWall() - start < minMs && per.length * k < maxIt);
        iterations[at]! += per.length * k;
        samples[at]!.push(figureOf(entries[at]!.spec, Math.max(median(per), 1e-9)));
      }
    }
    return entries.map((e, i) => {
      const better = e.spec.better ?? (TIME_UNITS[e.spec.unit] !== undefined ? 'lower' : 'higher');
      return push({ name: e.spec.name, params: e.spec.params, side: e.side, unit: e.spec.unit, better, samples: samples[i]!, iterations: iterations[i]!, clock });
    });
  }

  const measure = (spec: CaseSpec, sides: Record<string, Side>) => measureMany(Object.entries(sides).map(([side, impl]) => ({ spec, side, impl })));

  const ctx: SuiteContext = {
    suite,
    options,
    quick,
    threads: (d) => d.filter((t) => pass(options.threads, t)),
    dtypes: (d) => d.filter((t) => pass(options.dtype, t)),
    backends: (d) => d.filter((t) => pass(options.backend, t)),
    wants,
    measure,
    interleave: (entries) => measureMany(entries.map((e) => ({ spec: e.spec, side: e.side ?? 'attnode', impl: { run: e.run, ...(e.check ? { check: e.check } : {}), ...(e.before ? { before: e.before } : {}) } }))),
    record(c) {
      if (!wants(c.params)) return undefined;
      return push({ ...c, iterations: c.iterations ?? 0 });
    },
    peerPresent: (name, version) => void output.peers.push({ suite, name, status: 'present', version }),
    peerAbsent(name, reason) {
      output.peers.push({ suite, name, status: 'absent', reason });
      log(`${suite}: peer ${name} absent: ${reason}`);
    },
    note: (line) => void output.notes.push(line),
    section: (md) => void output.sections.push(md),
    async plot(id, title, spec) {
      if (!/^[a-z0-9-]+$/.test(id)) throw new RangeError(`plot id '${id}': use lowercase letters, digits and '-'`);
      mkdirSync(options.out, { recursive: true });
      const file = join(options.out, `${suite}-${id}.svg`);
      writeFileSync(file, await renderSvg({ title, ...spec } as TopLevelSpec));
      output.files.push(file);
      return file;
    },
    cases: () => output.cases,
    file: (path) => void output.files.push(path),
    log: (line) => log(`${suite}: ${line}`),
  };
  return { ctx, output };
}
