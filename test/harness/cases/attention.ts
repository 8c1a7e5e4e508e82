// Harness cases for attention, attentionNaive and linearAttention: awkward sizes, GQA/MQA,
// causal with cache offsets, masks with fully hidden rows, f16 K/V, and rows of 8192 keys.
import { Tensor } from '../../../ts/tensor/tensor.js';
import type { AttentionArgs } from '../../../ts/backend/ops/attention.js';
import type { OpCase } from '../ops-harness.js';
import { normals } from '../rng.js';
import { TOL_ATTENTION_F16_KV, TOL_ATTENTION_F32 } from '../tolerance.js';
import { AWKWARD, CaseList } from './util.js';

interface Shape {
  tq: number;
  tk: number;
  hq: number;
  hkv: number;
  d: number;
}

/** Both attention ops get every case: the naive form is a second, independent computation. */
function addBoth(l: CaseList, label: string, args: AttentionArgs, f16 = false, refusedBy?: Readonly<Record<string, RegExp>>): void {
  const tol = f16 ? TOL_ATTENTION_F16_KV : TOL_ATTENTION_F32;
  l.add('attention', label, args, tol, refusedBy);
  l.add('attentionNaive', label, args, tol, refusedBy);
}

function qkv(l: CaseList, s: Shape, kvDtype: 'f32' | 'f16' = 'f32', qScale = 1): Pick<AttentionArgs, 'q' | 'k' | 'v'> {
  return {
    q: l.f32([s.tq, s.hq, s.d], qScale),
    k: Tensor.fromValues(normals(s.tk * s.hkv * s.d, l.seed()), [s.tk, s.hkv, s.d], kvDtype),
    v: Tensor.fromValues(normals(s.tk * s.hkv * s.d, l.seed()), [s.tk, s.hkv, s.d], kvDtype),
  };
}

const str = (s: Shape) => `Tq=${s.tq} Tk=${s.tk} Hq=${s.hq} Hkv=${s.hkv} D=${s.d}`;

export function attentionCases(): OpCase[] {
  const l = new CaseList(4000);
  const heads: Array<[number, number]> = [[1, 1], [2, 1], [4, 2], [3, 3], [6, 2], [8, 1]];
  // Self-attention over the awkward lengths, with and without the causal mask.
  AWKWARD.forEach((t, i) => {
    const [hq, hkv] = heads[i % heads.length]!;
    const s = { tq: t, tk: t, hq, hkv, d: AWKWARD[(i + 4) % AWKWARD.length]! };
    addBoth(l, `self ${str(s)}`, qkv(l, s));
    addBoth(l, `causal ${str(s)}`, { ...qkv(l, s), causal: true });
  });
  // Cross-attention (Tq != Tk) and several row blocks and key tiles.
  for (const s of [
    { tq: 5, tk: 127, hq: 2, hkv: 2, d: 16 },
    { tq: 33, tk: 7, hq: 4, hkv: 1, d: 33 },
    { tq: 70, tk: 200, hq: 2, hkv: 1, d: 64 },
    { tq: 17, tk: 65, hq: 3, hkv: 1, d: 129 },
    { tq: 9, tk: 31, hq: 2, hkv: 2, d: 256 },
  ])
    addBoth(l, `cross ${str(s)}`, qkv(l, s));
  // Decode: one query against a cache (MHA, GQA group 2 and 4, MQA), f32 and f16 K/V.
  for (const [tk, hq, hkv, d] of [[1, 1, 1, 8], [127, 4, 4, 64], [300, 4, 2, 64], [1000, 8, 2, 32], [513, 12, 1, 17]] as const) {
    const s = { tq: 1, tk, hq, hkv, d };
    addBoth(l, `decode ${str(s)}`, { ...qkv(l, s), causal: true });
    addBoth(l, `decode f16 kv ${str(s)}`, { ...qkv(l, s, 'f16'), causal: true }, true);
  }
  // Decode rows that see no key at all (zeros), and an empty cache.
  {
    const s = { tq: 2, tk: 600, hq: 3, hkv: 3, d: 40 };
    addBoth(l, `decode qOffset -1 ${str(s)}`, { ...qkv(l, s), causal: true, qOffset: -1 });
    const e = { tq: 1, tk: 0, hq: 2, hkv: 1, d: 8 };
    addBoth(l, `empty cache ${str(e)}`, qkv(l, e));
  }
  // A preallocated cache of 64 rows, read as a contiguous slice of its first 40 (no copy).
  {
    const cacheK = Tensor.fromValues(normals(64 * 2 * 16, l.seed()), [64, 2, 16]);
    const cacheV = Tensor.fromValues(normals(64 * 2 * 16, l.seed()), [64, 2, 16]);
    addBoth(l, 'prefill 7 rows onto a cache slice of 40, causal', {
      q: l.f32([7, 4, 16]), k: cacheK.slice(0, 0, 40), v: cacheV.slice(0, 0, 40), causal: true,
    });
  }
  // Sliding windows: prefill across several key tiles, decode after a long cache (the window's
  // lower edge inside a tile and on its boundary), GQA, f16 K/V, a window of 1 and one wider
  // than every key, with and without causal.
  for (const [s, window, causal, f16] of [
    [{ tq: 150, tk: 150, hq: 4, hkv: 2, d: 32 }, 37, true, false],
    [{ tq: 33, tk: 33, hq: 3, hkv: 1, d: 17 }, 7, true, false],
    [{ tq: 1, tk: 1000, hq: 8, hkv: 2, d: 64 }, 300, true, false],
    [{ tq: 1, tk: 513, hq: 4, hkv: 4, d: 16 }, 64, true, true],
    [{ tq: 3, tk: 700, hq: 2, hkv: 1, d: 8 }, 129, true, false],
    [{ tq: 17, tk: 17, hq: 2, hkv: 2, d: 8 }, 1, true, false],
    [{ tq: 9, tk: 40, hq: 2, hkv: 1, d: 24 }, 1000, true, false],
    [{ tq: 20, tk: 20, hq: 2, hkv: 2, d: 16 }, 5, false, false],
  ] as const)
    addBoth(l, `window ${window}${causal ? ' causal' : ''}${f16 ? ' f16 kv' : ''} ${str(s)}`, { ...qkv(l, s, f16 ? 'f16' : 'f32'), causal, window }, f16);
  // Logit soft-capping (Gemma 2): tanh(s / cap) * cap before the mask, caps that bite (scores
  // of a few units at scale 1), prefill across key tiles, decode after a long cache, with a
  // window (Gemma's local layers), f16 K/V and a padding mask.
  for (const [s, softcap, window, f16, scale] of [
    [{ tq: 70, tk: 70, hq: 4, hkv: 2, d: 32 }, 2, 0, false, 1],
    [{ tq: 33, tk: 33, hq: 3, hkv: 1, d: 17 }, 0.7, 7, false, 1],
    [{ tq: 1, tk: 300, hq: 8, hkv: 2, d: 64 }, 1.5, 0, false, 0.5],
    [{ tq: 1, tk: 131, hq: 4, hkv: 4, d: 16 }, 3, 64, true, 1],
    [{ tq: 7, tk: 7, hq: 2, hkv: 2, d: 8 }, 50, 0, false, undefined],
  ] as const)
    addBoth(l, `softcap ${softcap}${window ? ` window ${window}` : ''}${f16 ? ' f16 kv' : ''} ${str(s)}`, {
      ...qkv(l, s, f16 ? 'f16' : 'f32'), causal: true, softcap, ...(window ? { window } : {}), ...(scale !== undefined ? { scale } : {}),
    }, f16);
  {
    const s = { tq: 5, tk: 17, hq: 2, hkv: 1, d: 8 };
    const m = normals(s.tq * s.tk, l.seed(), 0.5).map((v, i) => (i % 5 === 3 ? -Infinity : v));
    addBoth(l, `softcap 1 with a mask ${str(s)}`, { ...qkv(l, s), softcap: 1, scale: 1, mask: Tensor.fromValues(m, [s.tq, s.tk]) });
  }
  // Prefill with an explicit offset, an offset that hides every key from early rows, a scale.
  {
    const s = { tq: 9, tk: 40, hq: 4, hkv: 2, d: 24 };
    addBoth(l, `qOffset 10 ${str(s)}`, { ...qkv(l, s), causal: true, qOffset: 10 });
    addBoth(l, `qOffset -3 (rows without keys) ${str(s)}`, { ...qkv(l, s), causal: true, qOffset: -3 });
    addBoth(l, `scale 0.05 ${str(s)}`, { ...qkv(l, s), scale: 0.05 });
    addBoth(l, `f16 kv causal ${str(s)}`, { ...qkv(l, s, 'f16'), causal: true }, true);
  }
  // Padding masks: -inf columns, a fully hidden row (zeros, never NaN), finite biases.
  for (const s of [{ tq: 5, tk: 17, hq: 2, hkv: 1, d: 8 }, { tq: 37, tk: 70, hq: 4, hkv: 4, d: 33 }, { tq: 1, tk: 9, hq: 1, hkv: 1, d: 3 }]) {
    const m = normals(s.tq * s.tk, l.seed(), 0.5);
    for (let i = 0; i < s.tq; i++)
      for (let j = 0; j < s.tk; j++) if ((i + 2 * j) % 5 === 0) m[i * s.tk + j] = -Infinity;
    for (let j = 0; j < s.tk; j++) m[(s.tq - 1) * s.tk + j] = -Infinity;
    const mask = Tensor.fromValues(m, [s.tq, s.tk]);
    addBoth(l, `mask with a hidden row ${str(s)}`, { ...qkv(l, s), mask });
    addBoth(l, `mask + causal ${str(s)}`, { ...qkv(l, s), mask, causal: true });
  }
  // Rows of 8192 keys with scores in the hundreds: exp without the running max overflows f32.
  {
    const s = { tq: 3, tk: 8192, hq: 2, hkv: 1, d: 64 };
    addBoth(l, `long rows, large scores ${str(s)}`, qkv(l, s, 'f32', 30));
    addBoth(l, `long rows f16 kv ${str(s)}`, { ...qkv(l, s, 'f16', 30), causal: true }, true);
  }
  {
    const s = { tq: 300, tk: 300, hq: 2, hkv: 1, d: 64 };
    addBoth(l, `prefill causal ${str(s)}`, { ...qkv(l, s), causal: true });
  }

  // Relative-position biases generated per head: T5 buckets (bidirectional as in an encoder,
  // causal as in a decoder, few buckets and a short maxDistance so the logarithmic buckets and
  // the clamp at the last one are reached), decode on a cache (qOffset), GQA, f16 K/V, a mask
  // on top; ALiBi slopes, causal and decode.
  for (const [s, buckets, maxDistance, causal] of [
    [{ tq: 17, tk: 17, hq: 4, hkv: 4, d: 16 }, 32, 128, false],
    [{ tq: 33, tk: 33, hq: 6, hkv: 2, d: 8 }, 8, 12, false],
    [{ tq: 70, tk: 70, hq: 2, hkv: 1, d: 32 }, 32, 20, true],
    [{ tq: 1, tk: 300, hq: 4, hkv: 2, d: 64 }, 32, 128, true],
    [{ tq: 3, tk: 129, hq: 3, hkv: 3, d: 7 }, 6, 9, true],
    [{ tq: 5, tk: 31, hq: 2, hkv: 2, d: 33 }, 16, 10, false],
  ] as const) {
    const biasTable = l.f32([buckets, s.hq]);
    const t5 = { positionBias: 't5' as const, biasTable, maxDistance, scale: 1 };
    addBoth(l, `t5 bias ${buckets} buckets to ${maxDistance}, ${causal ? 'causal' : 'bidirectional'} ${str(s)}`, { ...qkv(l, s), causal, ...t5 });
    addBoth(l, `t5 bias f16 kv ${str(s)}`, { ...qkv(l, s, 'f16'), causal, ...t5 }, true);
    if (s.tq > 1) {
      const m = normals(s.tq * s.tk, l.seed(), 0.5);
      for (let i = 0; i < m.length; i += 4) m[i] = -Infinity;
      addBoth(l, `t5 bias + mask ${str(s)}`, { ...qkv(l, s), causal, mask: Tensor.fromValues(m, [s.tq, s.tk]), ...t5 });
    }
  }
  {
    const s = { tq: 9, tk: 40, hq: 4, hkv: 2, d: 24 };
    addBoth(l, `t5 bias, decoder causal buckets on a bidirectional layout, qOffset 10 ${str(s)}`, {
      ...qkv(l, s), causal: true, qOffset: 10, positionBias: 't5', biasTable: l.f32([32, s.hq]), bidirectional: true, maxDistance: 16,
    });
  }
  for (const s of [{ tq: 33, tk: 33, hq: 8, hkv: 8, d: 16 }, { tq: 1, tk: 513, hq: 4, hkv: 1, d: 32 }, { tq: 7, tk: 70, hq: 2, hkv: 2, d: 17 }]) {
    // ALiBi's slopes 2^(-8 h / H), as BLOOM and MPT use them.
    const slopes = Tensor.fromValues(Array.from({ length: s.hq }, (_, h) => 2 ** ((-8 * (h + 1)) / s.hq)), [s.hq]);
    addBoth(l, `alibi causal ${str(s)}`, { ...qkv(l, s), causal: true, positionBias: 'alibi', biasTable: slopes });
    addBoth(l, `alibi f16 kv ${str(s)}`, { ...qkv(l, s, 'f16'), causal: true, positionBias: 'alibi', biasTable: slopes }, true);
  }

  // A leading batch dimension: independent problems, a shared or per-entry mask.
  for (const [b, s, causal] of [
    [2, { tq: 7, tk: 7, hq: 4, hkv: 2, d: 16 }, true],
    [3, { tq: 1, tk: 90, hq: 8, hkv: 8, d: 32 }, true],
    [2, { tq: 40, tk: 65, hq: 2, hkv: 1, d: 17 }, false],
  ] as const) {
    const q = l.f32([b, s.tq, s.hq, s.d]);
    const k = l.f32([b, s.tk, s.hkv, s.d]);
    const v = l.f32([b, s.tk, s.hkv, s.d]);
    addBoth(l, `batch ${b} ${str(s)}`, { q, k, v, causal });
    addBoth(l, `batch ${b} f16 kv ${str(s)}`, { q, k: k.to('f16'), v: v.to('f16'), causal }, true);
    const m = normals(b * s.tq * s.tk, l.seed(), 0.5);
    for (let i = 0; i < m.length; i += 3) m[i] = -Infinity;
    addBoth(l, `batch ${b} per-entry mask ${str(s)}`, { q, k, v, mask: Tensor.fromValues(m, [b, s.tq, s.tk]) });
    addBoth(l, `batch ${b} shared mask ${str(s)}`, { q, k, v, mask: Tensor.fromValues(m.subarray(0, s.tq * s.tk), [s.tq, s.tk]) });
    addBoth(l, `batch ${b} t5 bias ${str(s)}`, { q, k, v, causal, positionBias: 't5', biasTable: l.f32([16, s.hq]), maxDistance: 24 });
  }
  // Linear attention, both forms on the same inputs.
  const la: Array<[number, number, number]> = [
    [1, 1, 1], [2, 1, 3], [3, 2, 5], [5, 1, 8], [7, 3, 7], [8, 2, 16], [15, 1, 17], [16, 2, 31],
    [17, 1, 33], [31, 2, 64], [33, 1, 65], [127, 2, 15], [300, 1, 64],
  ];
  for (const [t, h, d] of la) {
    const args = { q: l.f32([t, h, d]), k: l.f32([t, h, d]), v: l.f32([t, h, d]) };
    l.add('linearAttention', `parallel T=${t} H=${h} D=${d}`, { ...args, form: 'parallel' }, TOL_ATTENTION_F32);
    l.add('linearAttention', `recurrent T=${t} H=${h} D=${d}`, { ...args, form: 'recurrent' }, TOL_ATTENTION_F32);
  }
  return l.cases;
}
