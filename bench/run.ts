// The benchmark runner: every suite in bench/suites/, each in a child process of its own; writes
// bench.json (bench/lib/schema.ts), bench.md, one <suite>.md per suite and the plots into the
// output folder, and compares with an earlier run (bench/lib/compare.ts).
//
//   npm run bench -- [SUITE ...] [--quick] [--threads 1,2] [--dtype f32] [--out DIR] [--compare OLD.json[,OLD2.json...]]
//
// Options: bench/lib/options.ts; the format: bench/results/README.md.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildResult } from './lib/child.js';
import { compareReports, formatComparison } from './lib/compare.js';
import { calibrate, machineHeader } from './lib/machine.js';
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, type RunOptions } from './lib/options.js';
import { renderSvg } from './lib/plot.js';
import { machineSection, ratiosSpec, renderMarkdown, suiteSection, type SuiteMeta } from './lib/report.js';
import { SCHEMA_VERSION, checkReport, type BenchReport, type SuiteRecord } from './lib/schema.js';
import type { SuiteOptions } from './lib/suite.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

/** The suites of the runner: bench/suites/<name>.ts. */
export function discover(dir = here): Array<{ name: string; file: string }> {
  const suitesDir = join(dir, 'suites');
  return readdirSync(suitesDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort().map((f) => ({ name: f.slice(0, -3), file: join(suitesDir, f) }));
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function runSuite(e: { name: string; file: string }, opts: SuiteOptions): { record: SuiteRecord; result?: ChildResult } {
  const tmp = mkdtempSync(join(tmpdir(), 'attnode-bench-'));
  const resultFile = join(tmp, 'result.json');
  const before = loadavg()[0]!;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'lib', 'child.ts'), e.file, JSON.stringify(opts), resultFile], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  const seconds = (performance.now() - t0) / 1e3;
  const loadAverage = { before, after: loadavg()[0]! };
  let result: ChildResult | undefined;
  if (existsSync(resultFile)) result = JSON.parse(readFileSync(resultFile, 'utf8')) as ChildResult;
  rmSync(tmp, { recursive: true, force: true });
  const error = result?.error?.split('\n')[0] ?? (r.status !== 0 ? `exit code ${r.status ?? 'none'}${r.signal ? ` (${r.signal})` : ''}` : undefined);
  const record: SuiteRecord = {
    name: e.name, status: error ? 'failed' : 'ok', seconds, notes: result?.notes ?? [], sections: result?.sections ?? [],
    // Relative to the report's folder, so that a report can be moved (or committed) with its files.
    files: (result?.files ?? []).map((f) => relative(opts.out, resolve(f))), loadAverage,
  };
  if (error) record.error = error;
  return { record, result };
}

function readReport(path: string, option: string): BenchReport {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BenchUsageError(`${option}: cannot read '${path}': ${(e as Error).message}`);
  }
  try {
    return checkReport(JSON.parse(text), `${option} '${path}'`);
  } catch (e) {
    throw new BenchUsageError(e instanceof SyntaxError ? `${option} '${path}': not JSON: ${e.message}` : (e as Error).message);
  }
}

async function main(argv: string[]): Promise<number> {
  const entries = discover();
  const o = parseBenchArgs(argv, entries.map((e) => e.name));
  if (o.help) {
    console.log(BENCH_USAGE);
    return 0;
  }
  if (o.list) {
    for (const e of entries) console.log(`${e.name}\t${relative(root, e.file)}`);
    return 0;
  }
  // Several runs a side: comma-separated files.
  const oldReport = o.compare !== undefined ? o.compare.split(',').map((p) => readReport(p, '--compare')) : undefined;
  if (o.compareOnly !== undefined) {
    const c = compareReports(oldReport!, o.compareOnly.split(',').map((p) => readReport(p, '--compare-only')), o.threshold);
    console.log(formatComparison(c));
    return 0;
  }
  const out = resolve(o.out ?? join(here, 'results', ...(o.quick ? ['quick'] : [])));
  mkdirSync(out, { recursive: true });
  const t0 = performance.now();
  log(`bench: calibrating (FMA peak, DRAM bandwidth)${o.quick ? ', --quick' : ''}; results go to ${relative(process.cwd(), out) || '.'}`);
  const machine = machineHeader(o.quick);
  const suiteOpts: SuiteOptions = { quick: o.quick, out, calibration: machine.calibration, ...(o.backend ? { backend: o.backend } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.dtype ? { dtype: o.dtype } : {}) };
  const report: BenchReport = {
    schemaVersion: SCHEMA_VERSION, kind: 'attnode-bench', date: new Date().toISOString(), seconds: 0,
    options: { quick: o.quick, suites: o.suites, ...(o.backend ? { backend: o.backend } : {}), ...(o.threads ? { threads: o.threads } : {}), ...(o.dtype ? { dtype: o.dtype } : {}) },
    machine, suites: [], peers: [], cases: [],
  };
  const metas: Record<string, SuiteMeta> = {};
  for (const name of o.suites) {
    const e = entries.find((x) => x.name === name)!;
    log(`bench: ${name}`);
    const { record, result } = runSuite(e, suiteOpts);
    report.suites.push(record);
    if (result) {
      metas[name] = { title: result.title, description: result.description };
      report.cases.push(...result.cases);
      report.peers.push(...result.peers);
    }
    const last = report.suites[report.suites.length - 1]!;
    log(`bench: ${name} ${last.status} in ${last.seconds.toFixed(1)} s${last.error ? `: ${last.error}` : ''}`);
  }
  // The ceilings again after the suites (full runs): the best of both is the machine's figure.
  if (!o.quick) machine.calibration = machine.calibration.map((c) => calibrate(c.threads, false, c));
  machine.loadAverage.after = loadavg()[0]!;
  report.seconds = (performance.now() - t0) / 1e3;

  const rel = (f: string) => (isAbsolute(f) ? relative(out, f) : f);
  const ratios = ratiosSpec(report);
  const headline: string[] = [];
  if (ratios) {
    const f = join(out, 'bench-ratios.svg');
    writeFileSync(f, await renderSvg(ratios));
    headline.push(f);
  }
  writeFileSync(join(out, 'bench.json'), JSON.stringify(report, null, 1) + '\n');
  const md = renderMarkdown(report, metas, rel) + (headline.length ? `\n![attnode against the peers](${rel(headline[0]!)})\n` : '');
  writeFileSync(join(out, 'bench.md'), md);
  // A script that writes its own <suite>.md into the same folder keeps it (bench.md has its section).
  for (const s of report.suites) {
    const file = join(out, `${s.name}.md`);
    if (s.status !== 'skipped' && !s.files.includes(`${s.name}.md`)) writeFileSync(file, `${machineSection(report)}\n${suiteSection(report, s, metas[s.name], rel)}`);
  }
  log(`bench: wrote ${relative(process.cwd(), join(out, 'bench.json'))}, bench.md, ${report.suites.length} suite files and ${report.suites.reduce((a, s) => a + s.files.filter((f) => f.endsWith('.svg')).length, headline.length)} plots in ${report.seconds.toFixed(0)} s`);
  if (oldReport) {
    const c = compareReports(oldReport, report, o.threshold);
    const text = formatComparison(c);
    console.log(text);
    writeFileSync(join(out, 'compare.md'), `# ${o.compare!.split(',').map((p) => basename(p)).join(', ')} -> this run\n\n${text}\n`);
  }
  const failed = report.suites.filter((s) => s.status === 'failed');
  if (failed.length) {
    log(`bench: ${failed.length} of ${report.suites.length} suites failed: ${failed.map((s) => `${s.name} (${s.error})`).join(', ')}; the others ran and are in the report`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `... --compare-only x.json | head` closes the pipe early: stop quietly, as Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => void (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`attnode bench: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = e instanceof BenchUsageError ? 2 : 1;
    },
  );
}
