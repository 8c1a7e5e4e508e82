// WGSL kernels for attentionNaive: the textbook three passes over a materialized score matrix S
// of (B, Tq, Hq, Tk) (rows in q's order): S = q k^T * scale + mask, one invocation per score;
// P = softmax(S) by rows (elementwise.ts's kernel); out = P v, one invocation per output value.
// A second computation of what the fused kernels in attention.ts give, never their replacement.

import '../../ops/attention.js';
import { checkAttention } from '../../ops/attention.js';
import { fail } from '../../ops/check.js';
import { PRELUDE, WG } from '../wgsl.js';
import {
  ATTENTION_P, ATTENTION_ROW, attentionDecls, attentionInputs, attentionParams, biasKind, kvBinding, kvLoad, scoreTerms, type BiasKind, type KvDType,
} from './attention.js';
import { grid, type KernelTable } from './context.js';
import { recordSoftmax } from './elementwise.js';

/** S[row, j]: the scaled dot product plus mask and bias, -inf for keys the causal limit or the window hides. */
function scoresCode(kv: KvDType, hasMask: boolean, bias: BiasKind): string {
  return `${attentionDecls(kv, hasMask, 'sc', false, bias)}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let cell = gid.y * p.gx + gid.x;
  if (cell >= p.rows * p.tk) { return; }
  let row = cell / p.tk;
  let j = cell - row * p.tk;
  ${ATTENTION_ROW}
  var s = neg_inf();
  if (j < limit && j >= start) {
    let qo = row * p.d;
    let ko = ((kr + j) * p.hkv + g) * p.d;
    var dot = 0.0;
    for (var c = 0u; c < p.d; c = c + 1u) { dot = dot + q[qo + c] * ${kvLoad(kv, 'kk', 'ko + c')}; }
    s = softcap(dot * p.scale)${scoreTerms(hasMask, bias)};
  }
  sc[cell] = s;
}`;
}

/** out[row, c] = sum_j P[row, j] v[j, c]: a fully hidden row has P = 0 and gives zeros. */
function valuesCode(kv: KvDType): string {
  return `${PRELUDE}
@group(0) @binding(0) var<storage, read> probs: array<f32>;
${kvBinding(kv, 'vv', 1)}
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
${ATTENTION_P}
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let cell = gid.y * p.gx + gid.x;
  if (cell >= p.rows * p.d) { return; }
  let row = cell / p.d;
  let c = cell - row * p.d;
  ${ATTENTION_ROW}
  var acc = 0.0;
  for (var j = 0u; j < p.tk; j = j + 1u) {
    let w = probs[row * p.tk + j];
    if (w != 0.0) { acc = acc + w * ${kvLoad(kv, 'vv', '((kr + j) * p.hkv + g) * p.d + c')}; }
  }
  o[cell] = acc;
}`;
}

export const attentionNaiveKernels: KernelTable = {
  attentionNaive: (ctx, args, out, host) => {
    if (out.numel === 0) return;
    const s = checkAttention('attentionNaive', host);
    const kv = args.k.dtype as KvDType;
    const hasMask = args.mask !== undefined;
    const rows = s.b * s.tq * s.hq;
    const cells = rows * s.tk;
    if (cells * 4 > ctx.maxBindingBytes)
      fail('attentionNaive', `the score matrix [${s.b}, ${s.tq}, ${s.hq}, ${s.tk}] needs ${cells * 4} bytes, more than this device binds ` +
        `(${ctx.maxBindingBytes}); the fused 'attention' op computes the same result without it`);
    const probs = ctx.scratch('f32', [rows, s.tk]);
    if (cells > 0) {
      const scores = ctx.scratch('f32', [rows, s.tk]);
      const sg = grid(cells, WG);
      const bias = biasKind(s);
      const pipe = ctx.pipeline(`attention_naive_scores_${kv}_${hasMask ? 'mask' : 'nomask'}_${bias}`, () => scoresCode(kv, hasMask, bias));
      ctx.dispatch(pipe, [...attentionInputs(ctx, args, s, false), scores], attentionParams(s, sg.nx), sg.groups);
      recordSoftmax(ctx, scores, probs, rows, s.tk);
    }
    const vg = grid(rows * s.d, WG);
    ctx.dispatch(ctx.pipeline(`attention_naive_values_${kv}`, () => valuesCode(kv)), [probs, args.v, out], attentionParams(s, vg.nx), vg.groups);
  },
};
