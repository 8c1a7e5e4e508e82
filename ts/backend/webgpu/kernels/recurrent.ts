// WGSL kernels for rnn and lstm. The input projections x_t . wIh^T of every step are independent,
// so they run first as one matmul (matmul.ts) into scratch xp (B, T, G*H). The recurrence is
// sequential in t and parallel over (sequence b, hidden unit j); each unit's G gate rows are
// dotted with h_{t-1} in one pass over H. Two schedules of the same unit update:
//   'loop':  one workgroup per sequence walks t inside one dispatch, a storage barrier between
//            steps (h_t is read back from `out` by the other lanes);
//   'steps': one dispatch per step over all (b, j), in order in the same command buffer.
// wHh is transposed into scratch first, so neighbouring units read neighbouring words.

import '../../ops/recurrent.js';
import { checkRecurrent } from '../../ops/recurrent.js';
import { PRELUDE, WG } from '../wgsl.js';
import { grid, type KernelContext, type KernelTable, type OnGpu } from './context.js';
import { ACTIVATIONS_WGSL, mapKernel } from './elementwise.js';
import { recordMatmul } from './matmul.js';
import type { RecurrentArgs } from '../../ops/recurrent.js';
import type { GPUTensor } from '../buffers.js';

/** Lanes per sequence in the 'loop' schedule. */
const LOOP_WG = 64;


// Flags in p.flags: which optional inputs are bound (absent ones are bound as a dummy).
const HAS_BIAS = 1;
const HAS_H0 = 2;
const HAS_C0 = 4;

/** Storage bindings in order: the LSTM adds c0 and its cell state. */
function bindingNames(gates: 1 | 4): string[] {
  return gates === 1 ? ['xp', 'whh_t', 'bias', 'h0', 'o'] : ['xp', 'whh_t', 'bias', 'h0', 'c0', 'o', 'cell'];
}

/** The bindings and `fn unit(b, t, j)`, which computes h_t[j] (and c_t[j]) of sequence b. */
function unitCode(gates: 1 | 4): string {
  const g = Array.from({ length: gates }, (_, i) => i);
  const update =
    gates === 1
      ? 'o[ob + j] = tanh_f32(z0);'
      : `var cp = 0.0;
  if (t > 0u) { cp = cell[b * p.h + j]; } else if ((p.flags & ${HAS_C0}u) != 0u) { cp = c0[b * p.h + j]; }
  let c = sigmoid(z1) * cp + sigmoid(z0) * tanh_f32(z2);
  cell[b * p.h + j] = c;
  o[ob + j] = sigmoid(z3) * tanh_f32(c);`;
  const binds = bindingNames(gates)
    .map((n, i) => `@group(0) @binding(${i}) var<storage, ${n === 'o' || n === 'cell' ? 'read_write' : 'read'}> ${n}: array<f32>;`)
    .join('\n');
  return `${PRELUDE}${ACTIVATIONS_WGSL}
${binds}
struct P { b: u32, t: u32, h: u32, flags: u32, step: u32, nx: u32 }
@group(0) @binding(${bindingNames(gates).length}) var<uniform> p: P;
fn sigmoid(z: f32) -> f32 { return 1.0 / (1.0 + exp(-z)); }
fn unit(b: u32, t: u32, j: u32) {
  let gh = ${gates}u * p.h;
  let xo = (b * p.t + t) * gh;
  ${g.map((i) => `var z${i} = xp[xo + ${i}u * p.h + j];`).join(' ')}
  if ((p.flags & ${HAS_BIAS}u) != 0u) { ${g.map((i) => `z${i} = z${i} + bias[${i}u * p.h + j];`).join(' ')} }
  // h_{t-1}: the previous row of out, h0, or zeros.
  let has_prev = t > 0u || (p.flags & ${HAS_H0}u) != 0u;
  if (has_prev) {
    var hp = b * p.h;
    var from_out = t > 0u;
    if (from_out) { hp = (b * p.t + t - 1u) * p.h; }
    for (var k = 0u; k < p.h; k = k + 1u) {
      var hk = 0.0;
      if (from_out) { hk = o[hp + k]; } else { hk = h0[hp + k]; }
      ${g.map((i) => `z${i} = z${i} + whh_t[k * gh + ${i}u * p.h + j] * hk;`).join(' ')}
    }
  }
  let ob = (b * p.t + t) * p.h;
  ${update}
}`;
}

// wHh^T: (H, G*H) from (G*H, H).
const TRANSPOSE = mapKernel('main', ['w'], 'let r = i / p.cols;\n  o[(i - r * p.cols) * p.rows + r] = w[i];', 'rows: u32, cols: u32,');

function loopCode(gates: 1 | 4): string {
  return `${unitCode(gates)}
@compute @workgroup_size(${LOOP_WG}) fn main(@builtin(workgroup_id) w: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  let b = w.y * p.nx + w.x;
  if (b >= p.b) { return; }
  for (var t = 0u; t < p.t; t = t + 1u) {
    for (var j = l; j < p.h; j = j + ${LOOP_WG}u) { unit(b, t, j); }
    storageBarrier();
  }
}`;
}

function stepCode(gates: 1 | 4): string {
  return `${unitCode(gates)}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.nx + gid.x;
  if (i >= p.b * p.h) { return; }
  let b = i / p.h;
  unit(b, p.step, i - b * p.h);
}`;
}

/**
 * Measured on lavapipe (bench/webgpu/measure.ts): while a step is small (G * H * H multiply-adds per
 * sequence up to 8192, e.g. rnn H=64, lstm H=32) the loop saves a dispatch per step and wins up to
 * 3x; beyond that the per-step dispatches, which spread a step over the cores, win up to 1.7x.
 */
export function defaultSchedule(gates: number, h: number): 'loop' | 'steps' {
  return gates * h * h <= 8192 ? 'loop' : 'steps';
}

function recordRecurrent(ctx: KernelContext, name: 'rnn' | 'lstm', args: OnGpu<RecurrentArgs & { c0?: unknown }>, host: RecurrentArgs, out: GPUTensor): void {
  if (out.numel === 0) return;
  const gates = name === 'rnn' ? 1 : 4;
  const { b, t, i, h } = checkRecurrent(name, host, gates);
  const xp = ctx.scratch('f32', [b * t, gates * h]);
  recordMatmul(ctx, args.x.reshape([b * t, i]), args.wIh, xp, {
    batch: 1, m: b * t, n: gates * h, k: i, transB: true, aBatch: 0, bBatch: 0, alpha: 1, beta: 0, accumulate: false,
  });
  const c0 = (args as { c0?: GPUTensor }).c0;
  const dummy = ctx.scratch('f32', [1]);
  const flags = (args.bias ? HAS_BIAS : 0) | (args.h0 ? HAS_H0 : 0) | (c0 ? HAS_C0 : 0);
  const whhT = ctx.scratch('f32', [h, gates * h]);
  if (h > 0) {
    const tg = grid(gates * h * h, WG);
    ctx.dispatch(ctx.pipeline('transpose_f32', () => TRANSPOSE), [args.wHh, whhT], [gates * h * h, tg.nx, gates * h, h], tg.groups);
  }
  const shared = [xp, whhT, args.bias ?? dummy, args.h0 ?? dummy];
  const buffers = gates === 1 ? [...shared, out] : [...shared, c0 ?? dummy, out, ctx.scratch('f32', [b, h])];
  if ((ctx.recurrence ?? defaultSchedule(gates, h)) === 'loop') {
    const { groups, nx } = grid(b, 1);
    ctx.dispatch(ctx.pipeline(`${name}_loop`, () => loopCode(gates)), buffers, [b, t, h, flags, 0, nx], groups);
    return;
  }
  const { groups, nx } = grid(b * h, WG);
  const pipe = ctx.pipeline(`${name}_step`, () => stepCode(gates));
  for (let s = 0; s < t; s++) ctx.dispatch(pipe, buffers, [b, t, h, flags, s, nx], groups);
}

export const recurrentKernels: KernelTable = {
  rnn: (ctx, args, out, host) => recordRecurrent(ctx, 'rnn', args, host, out),
  lstm: (ctx, args, out, host) => recordRecurrent(ctx, 'lstm', args, host, out),
};
