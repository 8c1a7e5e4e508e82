// The benchmark result format (bench/results/README.md, "Result schema"): one JSON report per
// run with a machine header, the suites that ran, the peers found or absent, and every case.
// Types and a structural check only; measuring lives in measure.ts, rendering in report.ts.

/**
 * Bumped whenever a field changes meaning or is removed; adding an optional field keeps it.
 * 2: suites[].files are relative to the report's folder (1: absolute paths); no 'legacy' or
 * 'skipped' suites are written any more. --compare reads both (it uses neither field).
 */
export const SCHEMA_VERSION = 2;
/** The versions checkReport accepts. */
export const READABLE_VERSIONS: readonly number[] = [1, 2];

/** What a case's parameters may hold; the filters look at backend, threads and dtype. */
export type ParamValue = string | number | boolean;
export interface CaseParams {
  backend?: string;
  threads?: number;
  dtype?: string;
  /** e.g. '1x768x3072' (M x K x N) or '128 tokens'. */
  shape?: string;
  [key: string]: ParamValue | undefined;
}

/** Spread of a case's per-round samples. */
export interface Spread {
  min: number;
  max: number;
  /** First and third quartiles (linear interpolation between order statistics). */
  q1: number;
  q3: number;
}

/** One measured figure for one side (attnode or a peer) of one case. */
export interface BenchCase {
  suite: string;
  name: string;
  params: CaseParams;
  /** 'attnode', or the peer's name ('openblas', 'node-llama-cpp', 'onnxruntime-node', ...). */
  side: string;
  /** 'ms', 'us', 'GFLOP/s', 'GB/s', 'tokens/s', 'MB/s', 'MiB', ... */
  unit: string;
  /** Whether a larger figure is better (rates) or a smaller one (times, bytes). */
  better: 'higher' | 'lower';
  /** One figure per round, in round order (rounds interleave the sides). */
  samples: number[];
  median: number;
  spread: Spread;
  /** Calls timed over all rounds (0 for figures recorded rather than timed). */
  iterations: number;
  /** Which clock timed it: the wall clock, or the process's CPU time (one thread, shared machine). */
  clock?: 'wall' | 'cpu';
  /** Figures computed from the median: % of FMA peak, % of bandwidth, bytes, ... */
  derived?: Record<string, number>;
}

/** A peer found (with its version) or absent (with the reason), per suite. */
export interface PeerStatus {
  suite: string;
  name: string;
  status: 'present' | 'absent';
  version?: string;
  reason?: string;
}

export interface SuiteRecord {
  name: string;
  /** ok or failed; 'legacy' (an old-style script run as a subprocess) and 'skipped' appear in version 1 files only. */
  status: 'ok' | 'legacy' | 'skipped' | 'failed';
  seconds: number;
  error?: string;
  /** Free-form lines the suite wants in its report section. */
  notes: string[];
  /** Markdown sections the suite renders itself (its own tables), in order. */
  sections: string[];
  /** Files the suite wrote (plots, its own .md/.json), relative to the report's folder (version 1: absolute). */
  files: string[];
  loadAverage: { before: number; after: number };
}

export interface MachineHeader {
  cpuModel: string;
  /** Logical CPUs the OS reports and the threads the addon's pool runs. */
  cpus: number;
  cores: number;
  isa: string;
  /** Kernel variant per op family, as the addon dispatches it (cpuInfo().kernels). */
  kernels: Record<string, string>;
  /** Measured, best of passes: FMA peak (thread CPU clocks) and DRAM read bandwidth, per thread count. */
  calibration: Array<{ threads: number; fmaGflops: number; readGBs: number }>;
  node: string;
  attnode: string;
  commit: string;
  /** 1-minute load average before the first suite and after the last. */
  loadAverage: { before: number; after: number };
  os: string;
}

export interface BenchOptionsRecord {
  quick: boolean;
  suites: string[];
  backend?: string[];
  threads?: number[];
  dtype?: string[];
}

export interface BenchReport {
  schemaVersion: number;
  kind: 'attnode-bench';
  date: string;
  seconds: number;
  options: BenchOptionsRecord;
  machine: MachineHeader;
  suites: SuiteRecord[];
  peers: PeerStatus[];
  cases: BenchCase[];
}

/** The identity of a case across runs: suite, name, sorted params and side. */
export function caseKey(c: Pick<BenchCase, 'suite' | 'name' | 'params' | 'side'>): string {
  const p = Object.keys(c.params)
    .filter((k) => c.params[k] !== undefined)
    .sort()
    .map((k) => `${k}=${String(c.params[k])}`)
    .join(',');
  return `${c.suite}/${c.name}[${p}]@${c.side}`;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks the shape of a parsed report; a TypeError naming `what` and the first bad field. */
export function checkReport(value: unknown, what: string): BenchReport {
  const fail = (m: string): never => {
    throw new TypeError(`${what}: ${m}`);
  };
  if (typeof value !== 'object' || value === null) fail('not a JSON object');
  const r = value as Record<string, unknown>;
  if (r.kind !== 'attnode-bench') fail(`not an attnode bench report (kind is ${JSON.stringify(r.kind)}, expected "attnode-bench")`);
  if (!READABLE_VERSIONS.includes(r.schemaVersion as number)) fail(`schemaVersion ${JSON.stringify(r.schemaVersion)}; this runner reads versions ${READABLE_VERSIONS.join(' and ')}`);
  if (!Array.isArray(r.cases)) fail('cases is not an array');
  (r.cases as unknown[]).forEach((c, i) => {
    const x = c as Record<string, unknown>;
    if (typeof x !== 'object' || x === null) fail(`cases[${i}] is not an object`);
    for (const k of ['suite', 'name', 'side', 'unit'] as const) if (typeof x[k] !== 'string') fail(`cases[${i}].${k} is not a string`);
    if (x.better !== 'higher' && x.better !== 'lower') fail(`cases[${i}].better must be "higher" or "lower"`);
    if (typeof x.params !== 'object' || x.params === null) fail(`cases[${i}].params is not an object`);
    if (!Array.isArray(x.samples) || !(x.samples as unknown[]).every(isNum)) fail(`cases[${i}].samples is not an array of finite numbers`);
    if (!isNum(x.median)) fail(`cases[${i}].median is not a finite number`);
    const s = x.spread as Record<string, unknown> | undefined;
    if (!s || !isNum(s.min) || !isNum(s.max) || !isNum(s.q1) || !isNum(s.q3)) fail(`cases[${i}].spread needs finite min, max, q1, q3`);
  });
  return value as BenchReport;
}
