// The machine header every report carries: CPU, the addon's kernel per op family, cores, the
// measured FMA peak and DRAM read bandwidth, versions, commit and load average. Measures the
// calibration; does not time any case.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, type } from 'node:os';
import { join } from 'node:path';
import { loadAddon, packageRoot } from '../../ts/native.js';
import type { MachineHeader } from './schema.js';

type Calibration = MachineHeader['calibration'][number];
const MiB = 1 << 20;

/**
 * FMA peak and read bandwidth at `threads`, best of `passes`: other processes only ever lower
 * what a measurement sees. The FMA chains run on each thread's CPU clock; bandwidth on the wall
 * clock beyond one thread (a CPU clock would credit threads that streamed one after another).
 */
export function calibrate(threads: number, quick: boolean, prev?: Calibration): Calibration {
  const addon = loadAddon();
  const before = addon.cpuInfo().threads;
  addon.setThreads(threads);
  const out = { dtype: 'f32', shape: [1], data: new Float32Array(1) };
  try {
    addon.op('calibrate', { kind: 'fma', iterations: quick ? 10_000_000 : 30_000_000, passes: 3, clock: 'cpu', out });
    const fmaGflops = Math.max(out.data[0]!, prev?.fmaGflops ?? 0);
    addon.op('calibrate', { kind: 'read', bytes: (quick ? 256 : 512) * MiB, passes: 3, clock: threads === 1 ? 'cpu' : 'wall', out });
    return { threads, fmaGflops, readGBs: Math.max(out.data[0]!, prev?.readGBs ?? 0) };
  } finally {
    addon.setThreads(before);
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12'], { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** Everything but the load average after, which the runner fills in when the last suite ends. */
export function machineHeader(quick: boolean): MachineHeader {
  const info = loadAddon().cpuInfo();
  const loadBefore = loadavg()[0]!;
  const threadCounts = [...new Set([1, info.cores])];
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpus: cpus().length,
    cores: info.cores,
    isa: info.isa,
    kernels: { ...info.kernels },
    calibration: threadCounts.map((t) => calibrate(t, quick)),
    node: process.version,
    attnode: pkg.version,
    commit: commit(),
    loadAverage: { before: loadBefore, after: NaN },
    os: `${type()} ${release()}`,
  };
}

/** The header as Markdown lines. */
export function formatMachine(m: MachineHeader): string[] {
  const kernels = Object.entries(m.kernels).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `- CPU: ${m.cpuModel}, ${m.cpus} logical CPUs, ${m.cores} addon threads; ${m.os}`,
    `- kernels (${m.isa}): ${kernels}`,
    ...m.calibration.map((c) => `- measured at ${c.threads} thread(s): FMA peak ${c.fmaGflops.toFixed(1)} GFLOP/s, DRAM read ${c.readGBs.toFixed(1)} GB/s`),
    `- Node ${m.node}, attnode ${m.attnode}, commit ${m.commit}`,
    `- 1-minute load average: ${m.loadAverage.before.toFixed(2)} before, ${Number.isFinite(m.loadAverage.after) ? m.loadAverage.after.toFixed(2) : '?'} after`,
  ];
}
