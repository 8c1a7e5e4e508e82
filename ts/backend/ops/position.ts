// Token and position ops: embedding lookup, rotary position embedding, sinusoidal encoding.

import { DTYPES } from '../../tensor/dtype.js';
import { WEIGHT_DTYPES } from '../../tensor/formats.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineOp } from '../registry.js';
import { checkInteger, checkNumber, expectShape, expectTensor, fail, shapeStr } from './check.js';

declare module '../backend.js' {
  interface OpArgs {
    /**
     * table: (V, C) f32|f16|bf16| a block format, ids: (...) i32 -> (..., C) f32. A block table (C
     * a multiple of its block) is dequantized row by row, so a GGUF token table needs no f32 copy
     * (WebGPU reads f32, f16, bf16 and q8_0 tables).
     */
    embedding: { table: Tensor; ids: Tensor };
    /**
     * x: (N, H, D) f32, positions: (N) i32 -> (N, H, D). theta default 10000; rotaryDim default D
     * (even); interleaved false rotates (i, i + rotaryDim/2) as Hugging Face's rotate_half, true
     * rotates (2i, 2i+1) as GPT-J. Frequencies and angles in f32, as Hugging Face computes them.
     * Scaled rotary embeddings (Hugging Face modeling_rope_utils) give the inverse frequencies
     * instead: invFreq (rotaryDim/2) f32 replaces theta^(-2i/rotaryDim); invFreqLong replaces it
     * in a pass whose longest position + 1 exceeds longFrom (LongRoPE); dynamicFactor with
     * dynamicOriginal raises the base in such a pass to theta * (f L / orig - (f - 1))^(rd/(rd-2))
     * (dynamic NTK, L = longest position + 1); scale multiplies cos and sin (YaRN, LongRoPE).
     */
    rope: {
      x: Tensor; positions: Tensor; theta?: number; rotaryDim?: number; interleaved?: boolean;
      invFreq?: Tensor; invFreqLong?: Tensor; longFrom?: number; scale?: number; dynamicFactor?: number; dynamicOriginal?: number;
    };
    /** positions: (N) i32 -> (N, dim) f32: sin(p / base^(2i/dim)) at column 2i, cos at 2i+1; base default 10000. */
    sinusoidal: { positions: Tensor; dim: number; base?: number };
  }
}

defineOp({
  name: 'embedding',
  output({ table, ids }) {
    expectTensor('embedding', 'table', table, WEIGHT_DTYPES);
    expectTensor('embedding', 'ids', ids, ['i32']);
    if (table.rank !== 2) fail('embedding', `'table' must have shape [vocab, dim], got ${shapeStr(table.shape)}`);
    const block = DTYPES[table.dtype].blockSize;
    if (table.shape[1]! % block !== 0) fail('embedding', `'table' rows of ${table.dtype} hold whole blocks of ${block}; dim ${table.shape[1]} is not a multiple`);
    const vocab = table.shape[0]!;
    (ids.contiguous().data as Int32Array).forEach((id, i) => {
      if (id < 0 || id >= vocab) fail('embedding', `'ids[${i}]' = ${id} is outside [0, ${vocab})`);
    });
    return { dtype: 'f32', shape: [...ids.shape, table.shape[1]!] };
  },
  reference({ table, ids }, out) {
    const tv = table.toFloat32();
    const iv = ids.contiguous().data as Int32Array;
    const c = table.shape[1]!;
    const o = out.data;
    for (let t = 0; t < iv.length; t++) for (let j = 0; j < c; j++) o[t * c + j] = tv[iv[t]! * c + j]!;
  },
});

/** The longest position + 1 of a pass (0 when empty): Hugging Face's seq_len for dynamic scalings. */
export function longestPosition(pv: Int32Array): number {
  let m = 0;
  for (const p of pv) m = Math.max(m, p + 1);
  return m;
}

/**
 * The inverse frequencies (rotaryDim/2) a rope pass uses, L being its longest position + 1:
 * invFreqLong past longFrom, else invFreq, else theta's (raised by dynamic NTK past
 * dynamicOriginal), each 1 / f32(f32(base) ** f32(2i / rd)) as Hugging Face rounds it.
 */
export function ropeInvFreq(
  theta: number, rd: number, L: number,
  s: { invFreq?: Tensor; invFreqLong?: Tensor; longFrom?: number; dynamicFactor?: number; dynamicOriginal?: number },
): Float32Array {
  if (s.invFreqLong && s.longFrom !== undefined && L > s.longFrom) return s.invFreqLong.toFloat32();
  if (s.invFreq) return s.invFreq.toFloat32();
  let base = theta;
  if (s.dynamicFactor !== undefined && s.dynamicOriginal !== undefined && L > s.dynamicOriginal) {
    const f = s.dynamicFactor;
    base = Math.fround(theta * ((f * L) / s.dynamicOriginal - (f - 1)) ** (rd / (rd - 2)));
  }
  const inv = new Float32Array(Math.max(rd / 2, 1));
  for (let i = 0; i < rd / 2; i++) inv[i] = 1 / Math.fround(Math.fround(base) ** Math.fround((2 * i) / rd));
  return inv;
}

defineOp({
  name: 'rope',
  // A pass's longest position picks the frequencies of LongRoPE and dynamic NTK: each packed
  // sequence must see its own.
  mixesRows: (a) => a.longFrom !== undefined || a.dynamicFactor !== undefined,
  output({ x, positions, theta, rotaryDim, interleaved, invFreq, invFreqLong, longFrom, scale, dynamicFactor, dynamicOriginal }) {
    expectTensor('rope', 'x', x, ['f32']);
    if (x.rank !== 3) fail('rope', `'x' must have shape [tokens, heads, headDim], got ${shapeStr(x.shape)}`);
    expectShape('rope', 'positions', expectTensor('rope', 'positions', positions, ['i32']), [x.shape[0]!]);
    checkNumber('rope', 'theta', theta, 1, 1e12);
    const d = x.shape[2]!;
    checkInteger('rope', 'rotaryDim', rotaryDim, 0, d);
    if ((rotaryDim ?? d) % 2 !== 0) fail('rope', `'rotaryDim' must be even, got ${rotaryDim ?? d}`);
    if (interleaved !== undefined && typeof interleaved !== 'boolean') fail('rope', "'interleaved' must be a boolean", 'type');
    const half = (rotaryDim ?? d) / 2;
    if (invFreq !== undefined) expectShape('rope', 'invFreq', expectTensor('rope', 'invFreq', invFreq, ['f32']), [half]);
    if (invFreqLong !== undefined) {
      expectShape('rope', 'invFreqLong', expectTensor('rope', 'invFreqLong', invFreqLong, ['f32']), [half]);
      if (invFreq === undefined || longFrom === undefined) fail('rope', "'invFreqLong' needs 'invFreq' (the short factors) and 'longFrom'");
    }
    checkInteger('rope', 'longFrom', longFrom, 1, 2 ** 31);
    checkNumber('rope', 'scale', scale, 1e-6, 1e6);
    checkNumber('rope', 'dynamicFactor', dynamicFactor, 1, 1e6);
    checkInteger('rope', 'dynamicOriginal', dynamicOriginal, 1, 2 ** 31);
    if ((dynamicFactor === undefined) !== (dynamicOriginal === undefined)) fail('rope', "'dynamicFactor' and 'dynamicOriginal' go together");
    if (dynamicFactor !== undefined && (invFreq !== undefined || half < 2)) fail('rope', "'dynamicFactor' computes its own frequencies from 'theta' (no 'invFreq') and needs rotaryDim >= 4");
    (positions.contiguous().data as Int32Array).forEach((p, i) => {
      if (p < 0) fail('rope', `'positions[${i}]' must be >= 0, got ${p}`);
    });
    return { dtype: 'f32', shape: [...x.shape] };
  },
  reference({ x, positions, theta = 10000, rotaryDim, interleaved = false, scale = 1, ...scaling }, out) {
    const xv = x.toFloat32();
    const pv = positions.contiguous().data as Int32Array;
    const [n, h, d] = x.shape as [number, number, number];
    const rd = rotaryDim ?? d;
    const half = rd / 2;
    const o = out.data;
    const invFreq = ropeInvFreq(theta, rd, longestPosition(pv), scaling);
    for (let t = 0; t < n; t++) {
      for (let i = 0; i < half; i++) {
        const ang = Math.fround(Math.fround(pv[t]!) * invFreq[i]!);
        const cs = Math.fround(Math.fround(Math.cos(ang)) * scale);
        const sn = Math.fround(Math.fround(Math.sin(ang)) * scale);
        const i0 = interleaved ? 2 * i : i;
        const i1 = interleaved ? 2 * i + 1 : i + half;
        for (let hh = 0; hh < h; hh++) {
          const base = (t * h + hh) * d;
          const x0 = xv[base + i0]!;
          const x1 = xv[base + i1]!;
          o[base + i0] = x0 * cs - x1 * sn;
          o[base + i1] = x1 * cs + x0 * sn;
        }
      }
      for (let hh = 0; hh < h; hh++) for (let j = rd; j < d; j++) o[(t * h + hh) * d + j] = xv[(t * h + hh) * d + j]!;
    }
  },
});

defineOp({
  name: 'sinusoidal',
  output({ positions, dim, base }) {
    expectTensor('sinusoidal', 'positions', positions, ['i32']);
    if (positions.rank !== 1) fail('sinusoidal', `'positions' must have shape [tokens], got ${shapeStr(positions.shape)}`);
    if (dim === undefined) fail('sinusoidal', "'dim' must be an integer", 'type');
    checkInteger('sinusoidal', 'dim', dim, 0, 2 ** 32);
    checkNumber('sinusoidal', 'base', base, 1, 1e12);
    return { dtype: 'f32', shape: [positions.shape[0]!, dim] };
  },
  reference({ positions, dim, base = 10000 }, out) {
    const pv = positions.contiguous().data as Int32Array;
    const o = out.data;
    for (let t = 0; t < pv.length; t++)
      for (let j = 0; j < dim; j++) {
        const a = pv[t]! * base ** (-(j - (j % 2)) / dim);
        o[t * dim + j] = j % 2 === 0 ? Math.sin(a) : Math.cos(a);
      }
  },
  // The addon reads the width from the output's shape.
  nativeArgs: ({ positions, base }) => ({ positions, base }),
});
