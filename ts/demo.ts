#!/usr/bin/env node
// A short tour of the native kernels: detects the CPU, runs each op on transformer-sized data
// with the native backend and the plain TypeScript reference, checks they agree, and prints the
// time of each and the speedup. Not a benchmark suite (see bench/), just a first look.

import { NativeBackend } from './backend/native.js';
import { ReferenceBackend } from './backend/reference.js';
import type { OpArgs, OpName } from './backend/backend.js';
import { Tensor } from './tensor/tensor.js';
import { cpuInfo } from './native.js';

function randn(shape: number[], seed: number): Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s / 2 ** 32 - 0.5) * 4;
  }
  return Tensor.fromValues(v, shape);
}

async function time(f: () => Promise<unknown>, reps: number): Promise<number> {
  await f();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await f();
  return (performance.now() - t0) / reps;
}

async function main(): Promise<void> {
  const info = cpuInfo();
  console.log(`attnode kernels on ${info.arch}: ${info.isa} (available: ${info.available.join(', ')}), ${info.threads} threads, CUDA compiled: ${info.cuda}`);
  const native = new NativeBackend();
  const reference = new ReferenceBackend();
  const [T, C] = [128, 768];
  const x = randn([T, C], 1);
  const w = randn([C], 2);
  const cases: Array<[string, OpName, OpArgs[OpName]]> = [
    ['residual add     (128x768)', 'add', { a: x, b: randn([T, C], 3) }],
    ['GELU tanh        (128x768)', 'gelu', { x, approximate: 'tanh' }],
    ['SiLU             (128x768)', 'silu', { x }],
    ['softmax rows     (128x768)', 'softmax', { x }],
    ['LayerNorm        (128x768)', 'layerNorm', { x, weight: w, bias: randn([C], 4) }],
    ['RMSNorm          (128x768)', 'rmsNorm', { x, weight: w }],
    ['rotary, 12 heads (128x12x64)', 'rope', { x: x.reshape([T, 12, 64]), positions: Tensor.fromArray('i32', [T], Int32Array.from({ length: T }, (_, i) => i)) }],
  ];
  console.log('\nop                               native ms   reference ms   speedup   max |diff|');
  for (const [label, op, args] of cases) {
    const a = await native.run(op, args);
    const b = await reference.run(op, args);
    const av = a.toFloat32();
    const bv = b.toFloat32();
    let diff = 0;
    for (let i = 0; i < av.length; i++) diff = Math.max(diff, Math.abs(av[i]! - bv[i]!));
    const tn = await time(() => native.run(op, args), 50);
    const tr = await time(() => reference.run(op, args), 3);
    console.log(`${label.padEnd(32)} ${tn.toFixed(3).padStart(9)} ${tr.toFixed(3).padStart(14)} ${(tr / tn).toFixed(0).padStart(8)}x   ${diff.toExponential(1)}`);
  }
  console.log('\nEvery native op runs off the main thread and is checked against the reference by `npm test`.');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
