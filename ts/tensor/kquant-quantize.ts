// Reference quantizers for GGUF's k-quant super-blocks (layouts in kquants.ts): per sub-block a
// search over candidate scales minimizing the weighted squared error (the idea of ggml's
// make_qkx / make_qx quants; written here from that idea), then the sub-block scales themselves
// quantized against the super-block scale, and the values requantized under the stored scales.
// Not bit-compatible with llama.cpp's quantizer (no format requires that); its error is close.

import { f16ToF32, f32ToF16 } from './half.js';
import { KQUANT_BYTES, SUPER_BLOCK, type KQuantName } from './kquants.js';

const f = Math.fround;

/** Candidate scales tried around the range's own: steps of STEP over [-STEPS, STEPS] levels. */
const STEPS = 15;
const STEP = 0.1;

interface Fit {
  scale: number;
  /** value ~ scale * q - min (min >= 0; 0 for symmetric fits). */
  min: number;
}

/**
 * Offset fit of x (n values, weights w) to scale * q - min with q in [0, nmax]: each candidate
 * scale fixes the quants, then scale and min are the weighted least-squares solution for them.
 */
function fitScaleMin(x: Float64Array, w: Float64Array, n: number, nmax: number): Fit {
  let lo = 0, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, x[i]!);
    hi = Math.max(hi, x[i]!);
  }
  if (!(hi > lo)) return { scale: 0, min: -lo };
  let best: Fit = { scale: (hi - lo) / nmax, min: -lo };
  let bestErr = Infinity;
  for (let s = -STEPS; s <= STEPS; s++) {
    const iscale = (nmax + STEP * s) / (hi - lo);
    let sw = 0, sl = 0, sll = 0, sx = 0, slx = 0;
    for (let i = 0; i < n; i++) {
      const q = Math.max(0, Math.min(nmax, Math.round(iscale * (x[i]! - lo))));
      sw += w[i]!;
      sl += w[i]! * q;
      sll += w[i]! * q * q;
      sx += w[i]! * x[i]!;
      slx += w[i]! * q * x[i]!;
    }
    const det = sw * sll - sl * sl;
    if (det <= 0) continue;
    let a = (sw * slx - sl * sx) / det;
    let b = (sll * sx - sl * slx) / det;
    // The stored min is unsigned (value = scale * q - min): an offset above zero is refitted without it.
    if (b > 0) {
      b = 0;
      a = slx / sll;
    }
    let err = 0;
    for (let i = 0; i < n; i++) {
      const q = Math.max(0, Math.min(nmax, Math.round(iscale * (x[i]! - lo))));
      const e = a * q + b - x[i]!;
      err += w[i]! * e * e;
    }
    if (err < bestErr) {
      bestErr = err;
      best = { scale: a, min: -b };
    }
  }
  return best;
}

/** Symmetric fit of x to scale * q with q in [-nmax, nmax - 1]. */
function fitScale(x: Float64Array, w: Float64Array, n: number, nmax: number): Fit {
  let amax = 0, max = 0;
  for (let i = 0; i < n; i++)
    if (Math.abs(x[i]!) > amax) {
      amax = Math.abs(x[i]!);
      max = x[i]!;
    }
  if (amax === 0) return { scale: 0, min: 0 };
  let best: Fit = { scale: -max / nmax, min: 0 };
  let bestScore = -Infinity;
  for (let s = -STEPS; s <= STEPS; s++) {
    const iscale = -(nmax + STEP * s) / max;
    let slx = 0, sll = 0;
    for (let i = 0; i < n; i++) {
      const q = Math.max(-nmax, Math.min(nmax - 1, Math.round(iscale * x[i]!)));
      slx += w[i]! * q * x[i]!;
      sll += w[i]! * q * q;
    }
    // The least-squares scale slx / sll leaves error sum(w x^2) - slx^2 / sll: maximize slx^2 / sll.
    if (sll > 0 && (slx * slx) / sll > bestScore) {
      bestScore = (slx * slx) / sll;
      best = { scale: slx / sll, min: 0 };
    }
  }
  return best;
}

interface Plan {
  /** Values per sub-block. */
  sub: number;
  /** Offset formats (scale * q - min, q in [0, nmax]) or symmetric (q in [-nmax, nmax - 1]). */
  offset: boolean;
  nmax: number;
  /** Largest stored sub-block scale (and min) level: 15 (4 bits), 63 (6 bits), 31 / 127 signed. */
  levels: number;
}

const PLANS: Readonly<Record<KQuantName, Plan>> = {
  q2_k: { sub: 16, offset: true, nmax: 3, levels: 15 },
  q3_k: { sub: 16, offset: false, nmax: 4, levels: 32 },
  q4_k: { sub: 32, offset: true, nmax: 15, levels: 63 },
  q5_k: { sub: 32, offset: true, nmax: 31, levels: 63 },
  q6_k: { sub: 16, offset: false, nmax: 32, levels: 128 },
};

function storeHalf(name: string, out: Uint8Array, o: number, v: number, b: number): number {
  const h = f32ToF16(v);
  if ((h & 0x7c00) === 0x7c00) throw new RangeError(`quantize ${name}: super-block ${b} needs a scale (${v}) beyond f16's range`);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
  return f16ToF32(h);
}

/** One super-block's quantized sub-block scales (and mins) and its quants, before packing. */
interface Coded {
  d: number;
  dmin: number;
  sc: Int32Array;
  mins: Int32Array;
  q: Int32Array;
}

function code(name: KQuantName, x: Float64Array, out: Uint8Array, o: number, b: number, dOff: number, mOff: number): Coded {
  const p = PLANS[name];
  const subs = SUPER_BLOCK / p.sub;
  const w = new Float64Array(SUPER_BLOCK);
  let ss = 0;
  for (let i = 0; i < SUPER_BLOCK; i++) ss += x[i]! * x[i]!;
  const rms = Math.sqrt(ss / SUPER_BLOCK);
  // Offset fits weigh values by rms + |x| (large values matter more, small ones still count);
  // symmetric fits by x^2.
  for (let i = 0; i < SUPER_BLOCK; i++) w[i] = p.offset ? rms + Math.abs(x[i]!) : x[i]! * x[i]! + 1e-12 * rms * rms;
  const fits: Fit[] = [];
  for (let s = 0; s < subs; s++) {
    const xs = x.subarray(s * p.sub, (s + 1) * p.sub), ws = w.subarray(s * p.sub, (s + 1) * p.sub);
    fits.push(p.offset ? fitScaleMin(xs, ws, p.sub, p.nmax) : fitScale(xs, ws, p.sub, p.nmax));
  }
  const sc = new Int32Array(subs), mins = new Int32Array(subs), q = new Int32Array(SUPER_BLOCK);
  let d: number, dmin = 0;
  if (p.offset) {
    const maxScale = Math.max(0, ...fits.map((t) => t.scale));
    const maxMin = Math.max(0, ...fits.map((t) => t.min));
    d = storeHalf(name, out, o + dOff, maxScale / p.levels, b);
    dmin = storeHalf(name, out, o + mOff, maxMin / p.levels, b);
    for (let s = 0; s < subs; s++) {
      sc[s] = d > 0 ? Math.max(0, Math.min(p.levels, Math.round(fits[s]!.scale / d))) : 0;
      mins[s] = dmin > 0 ? Math.max(0, Math.min(p.levels, Math.round(fits[s]!.min / dmin))) : 0;
    }
  } else {
    let big = 0;
    for (const t of fits) if (Math.abs(t.scale) > Math.abs(big)) big = t.scale;
    // The signed scale of largest magnitude maps to -levels (the end with one more step).
    d = storeHalf(name, out, o + dOff, big / -p.levels, b);
    for (let s = 0; s < subs; s++) sc[s] = d !== 0 ? Math.max(-p.levels, Math.min(p.levels - 1, Math.round(fits[s]!.scale / d))) : 0;
  }
  // Requantize under the scales as they will be read back (f32 products of the stored values).
  for (let s = 0; s < subs; s++) {
    const ds = f(d * sc[s]!), ms = f(dmin * mins[s]!);
    for (let i = s * p.sub; i < (s + 1) * p.sub; i++) {
      if (ds === 0) q[i] = p.offset ? 0 : p.nmax;
      else if (p.offset) q[i] = Math.max(0, Math.min(p.nmax, Math.round((x[i]! + ms) / ds)));
      else q[i] = Math.max(-p.nmax, Math.min(p.nmax - 1, Math.round(x[i]! / ds))) + p.nmax;
    }
  }
  return { d, dmin, sc, mins, q };
}

/** Packs 16 sub-block scales (and mins) of Q4_K / Q5_K as get_scale_min_k4 reads them. */
function packScaleMinK4(out: Uint8Array, o: number, sc: Int32Array, m: Int32Array): void {
  for (let j = 0; j < 4; j++) {
    out[o + j] = (sc[j]! & 63) | ((sc[j + 4]! >> 4) << 6);
    out[o + j + 4] = (m[j]! & 63) | ((m[j + 4]! >> 4) << 6);
    out[o + j + 8] = (sc[j + 4]! & 0xf) | ((m[j + 4]! & 0xf) << 4);
  }
}

/** 2-bit planes as Q2_K / Q3_K store them: value 128h + 32i + l (l < 32) in bits 2i of byte 32h + l. */
function pack2(out: Uint8Array, o: number, q: Int32Array): void {
  for (let h = 0; h < 2; h++)
    for (let l = 0; l < 32; l++) {
      let byte = 0;
      for (let i = 0; i < 4; i++) byte |= (q[128 * h + 32 * i + l]! & 3) << (2 * i);
      out[o + 32 * h + l] = byte;
    }
}

type Pack = (x: Float64Array, out: Uint8Array, o: number, b: number) => void;

const PACKERS: Readonly<Record<KQuantName, Pack>> = {
  q2_k(x, out, o, b) {
    const c = code('q2_k', x, out, o, b, 80, 82);
    for (let s = 0; s < 16; s++) out[o + s] = c.sc[s]! | (c.mins[s]! << 4);
    pack2(out, o + 16, c.q);
  },
  q3_k(x, out, o, b) {
    const c = code('q3_k', x, out, o, b, 108, 108);
    pack2(out, o + 32, c.q);
    for (let l = 0; l < 32; l++) {
      let byte = 0;
      for (let h = 0; h < 2; h++) for (let i = 0; i < 4; i++) byte |= (c.q[128 * h + 32 * i + l]! >> 2) << (4 * h + i);
      out[o + l] = byte;
    }
    for (let j = 0; j < 16; j++) {
      const v = c.sc[j]! + 32;
      if (j < 8) out[o + 96 + j] = (out[o + 96 + j]! & 0xf0) | (v & 0xf);
      else out[o + 96 + j - 8] = (out[o + 96 + j - 8]! & 0x0f) | ((v & 0xf) << 4);
      out[o + 104 + (j % 4)] = out[o + 104 + (j % 4)]! | ((v >> 4) << (2 * Math.floor(j / 4)));
    }
  },
  q4_k(x, out, o, b) {
    const c = code('q4_k', x, out, o, b, 0, 2);
    packScaleMinK4(out, o + 4, c.sc, c.mins);
    for (let p = 0; p < 4; p++) for (let l = 0; l < 32; l++) out[o + 16 + 32 * p + l] = c.q[64 * p + l]! | (c.q[64 * p + 32 + l]! << 4);
  },
  q5_k(x, out, o, b) {
    const c = code('q5_k', x, out, o, b, 0, 2);
    packScaleMinK4(out, o + 4, c.sc, c.mins);
    for (let p = 0; p < 4; p++)
      for (let l = 0; l < 32; l++) {
        const lo = c.q[64 * p + l]!, hi = c.q[64 * p + 32 + l]!;
        out[o + 48 + 32 * p + l] = (lo & 0xf) | ((hi & 0xf) << 4);
        out[o + 16 + l] = out[o + 16 + l]! | ((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1));
      }
  },
  q6_k(x, out, o, b) {
    const c = code('q6_k', x, out, o, b, 208, 208);
    for (let s = 0; s < 16; s++) out[o + 192 + s] = c.sc[s]! & 0xff;
    for (let h = 0; h < 2; h++)
      for (let l = 0; l < 32; l++) {
        const v = (k: number) => c.q[128 * h + l + 32 * k]!;
        out[o + 64 * h + l] = (v(0) & 0xf) | ((v(2) & 0xf) << 4);
        out[o + 64 * h + l + 32] = (v(1) & 0xf) | ((v(3) & 0xf) << 4);
        out[o + 128 + 32 * h + l] = (v(0) >> 4) | ((v(1) >> 4) << 2) | ((v(2) >> 4) << 4) | ((v(3) >> 4) << 6);
      }
  },
};

/** Quantizes `x` (length a multiple of 256, finite) into k-quant super-blocks of `name`. */
export function quantizeKQuant(name: KQuantName, x: ArrayLike<number>): Uint8Array {
  if (x.length % SUPER_BLOCK !== 0) throw new RangeError(`quantize ${name}: length must be a multiple of 256, got ${x.length}`);
  const bytes = KQUANT_BYTES[name];
  const blocks = x.length / SUPER_BLOCK;
  const out = new Uint8Array(blocks * bytes);
  const xs = new Float64Array(SUPER_BLOCK);
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < SUPER_BLOCK; i++) {
      const v = f(x[b * SUPER_BLOCK + i]!);
      if (!Number.isFinite(v)) throw new RangeError(`quantize ${name}: value ${x[b * SUPER_BLOCK + i]} at index ${b * SUPER_BLOCK + i} is not finite`);
      xs[i] = v;
    }
    PACKERS[name](xs, out, b * bytes, b);
  }
  return out;
}
