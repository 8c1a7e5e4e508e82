// Scaled rotary embeddings from a config.json `rope_scaling` (Hugging Face modeling_rope_utils):
// linear, dynamic NTK, YaRN, LongRoPE (su) and Llama 3 inverse frequencies and attention
// factors, computed once at load in f32 as PyTorch does. Not the rope op (backend/ops/position.ts)
// nor the graph (blocks.ts), which carry what this gives.

import { refuse } from './config.js';

/** What the rope op needs beyond theta: tables (rotaryDim/2), a factor on cos/sin, dynamic NTK. */
export interface RopeScaling {
  /** `rope_type` as read ('linear', 'dynamic', 'yarn', 'longrope', 'llama3'). */
  readonly type: string;
  /** Inverse frequencies replacing theta^(-2i/rd); LongRoPE: the short factors'. */
  readonly invFreq?: readonly number[];
  /** LongRoPE: the long factors' table, used in passes whose longest position + 1 > longFrom. */
  readonly invFreqLong?: readonly number[];
  readonly longFrom?: number;
  /** Multiplies cos and sin (YaRN's and LongRoPE's attention factor); absent for 1. */
  readonly attentionFactor?: number;
  /** Dynamic NTK: the base grows with a pass's length past `original` positions. */
  readonly dynamic?: { readonly factor: number; readonly original: number };
}

const f32 = Math.fround;

/** theta^(2i/rd) for each pair, in f32 as `base ** (arange(0, rd, 2).float() / rd)`. */
function posFreqs(theta: number, rd: number): number[] {
  return Array.from({ length: rd / 2 }, (_, i) => f32(f32(theta) ** f32((2 * i) / rd)));
}

function factorOf(s: Record<string, unknown>, family: string, type: string): number {
  const f = s.factor;
  if (typeof f !== 'number' || !Number.isFinite(f) || f < 1) refuse(family, 'rope_scaling.factor', f, `rope_type '${type}' needs a number >= 1`);
  return f;
}

function numberField(s: Record<string, unknown>, key: string, family: string, fallback?: number): number {
  const v = s[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) refuse(family, `rope_scaling.${key}`, s[key], 'expected a positive number');
  return v;
}

/** What every rope_type's reader gets: its rope_scaling object, the whole config and the rotation. */
interface ScalingInput {
  readonly s: Record<string, unknown>;
  readonly cfg: Record<string, unknown>;
  readonly family: string;
  readonly type: string;
  readonly theta: number;
  readonly rd: number;
  /** max_position_embeddings. */
  readonly maxPos: number;
  /** theta^(2i/rd) per pair, f32. */
  readonly pf: readonly number[];
}

/** One rope_type: the rope_scaling keys it reads (any other is refused, not ignored) and its reader. */
interface ScalingKind {
  readonly keys: readonly string[];
  read(x: ScalingInput): RopeScaling | undefined;
}

/** modeling_rope_utils' ROPE_INIT_FUNCTIONS, as tables and factors for the rope op. */
const SCALINGS: Readonly<Record<string, ScalingKind>> = {
  default: { keys: [], read: () => undefined },
  linear: {
    keys: ['factor'],
    read: ({ s, family, type, pf }) => {
      const f = factorOf(s, family, type);
      return { type, invFreq: pf.map((p) => f32(f32(1 / p) / f)) };
    },
  },
  dynamic: {
    keys: ['factor', 'original_max_position_embeddings'],
    read: ({ s, family, type, rd, maxPos }) => {
      // modeling_rope_utils reads max_position_embeddings as the original length here.
      if (s.original_max_position_embeddings !== undefined && s.original_max_position_embeddings !== maxPos)
        refuse(family, 'rope_scaling.original_max_position_embeddings', s.original_max_position_embeddings, `dynamic NTK uses max_position_embeddings (${maxPos})`);
      if (rd < 4) refuse(family, 'rope_scaling.rope_type', type, 'dynamic NTK needs at least 4 rotated dimensions');
      return { type, dynamic: { factor: factorOf(s, family, type), original: maxPos } };
    },
  },
  yarn: {
    keys: ['factor', 'attention_factor', 'beta_fast', 'beta_slow', 'original_max_position_embeddings', 'truncate'],
    read: ({ s, family, type, theta, rd, maxPos, pf }) => {
      const f = factorOf(s, family, type);
      if (s.truncate !== undefined && s.truncate !== true) refuse(family, 'rope_scaling.truncate', s.truncate, 'only truncated correction ranges are implemented');
      const orig = numberField(s, 'original_max_position_embeddings', family, maxPos);
      const attn = s.attention_factor === undefined || s.attention_factor === null ? (f <= 1 ? 1 : 0.1 * Math.log(f) + 1) : numberField(s, 'attention_factor', family);
      const betaFast = (s.beta_fast as number | undefined) || 32;
      const betaSlow = (s.beta_slow as number | undefined) || 1;
      const corr = (rot: number) => (rd * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
      const low = Math.max(Math.floor(corr(betaFast)), 0);
      let high = Math.min(Math.ceil(corr(betaSlow)), rd - 1);
      if (low === high) high += 0.001;
      const invFreq = pf.map((p, i) => {
        const ramp = Math.min(Math.max(f32(f32(i - low) / f32(high - low)), 0), 1);
        const extra = f32(1 - ramp);
        const inter = f32(1 / f32(f * p));
        return f32(f32(inter * f32(1 - extra)) + f32(f32(1 / p) * extra));
      });
      return { type, invFreq, ...(attn !== 1 ? { attentionFactor: attn } : {}) };
    },
  },
  longrope: {
    keys: ['short_factor', 'long_factor', 'factor', 'attention_factor', 'original_max_position_embeddings'],
    read: ({ s, cfg, family, type, rd, maxPos, pf }) => {
      const short = factorList(s, 'short_factor', rd / 2, family);
      const long = factorList(s, 'long_factor', rd / 2, family);
      // Phi-3 sets original_max_position_embeddings beside max_position_embeddings; their ratio is the factor.
      const top = cfg.original_max_position_embeddings;
      let orig = maxPos;
      let f = typeof s.factor === 'number' ? s.factor : 1;
      if (typeof top === 'number') {
        orig = top;
        f = maxPos / top;
      } else if (s.original_max_position_embeddings !== undefined) {
        refuse(family, 'rope_scaling.original_max_position_embeddings', s.original_max_position_embeddings, 'LongRoPE reads the top-level original_max_position_embeddings');
      }
      const given = s.attention_factor;
      const attn = given === undefined || given === null ? (f <= 1 ? 1 : Math.sqrt(1 + Math.log(f) / Math.log(orig))) : numberField(s, 'attention_factor', family);
      const table = (ext: readonly number[]) => pf.map((p, i) => f32(1 / f32(f32(ext[i]!) * p)));
      return { type, invFreq: table(short), invFreqLong: table(long), longFrom: orig, ...(attn !== 1 ? { attentionFactor: attn } : {}) };
    },
  },
  llama3: {
    keys: ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'],
    read: ({ s, family, type, pf }) => {
      const f = factorOf(s, family, type);
      const lowF = numberField(s, 'low_freq_factor', family);
      const highF = numberField(s, 'high_freq_factor', family);
      const old = numberField(s, 'original_max_position_embeddings', family);
      const lowWave = old / lowF;
      const highWave = old / highF;
      const invFreq = pf.map((p) => {
        const inv = f32(1 / p);
        const wave = f32((2 * Math.PI) / inv);
        const scaled = wave > lowWave ? f32(inv / f) : inv;
        if (wave < highWave || wave > lowWave) return scaled;
        const smooth = f32((old / wave - lowF) / (highF - lowF));
        return f32(f32(f32(1 - smooth) * f32(scaled / f)) + f32(smooth * scaled));
      });
      return { type, invFreq };
    },
  },
};

/**
 * The scaling a config.json asks for over rd rotated dimensions (undefined: none). `cfg` is the
 * whole config (LongRoPE reads its top-level original_max_position_embeddings, as Phi-3 sets it).
 */
export function ropeScalingFromHF(cfg: Record<string, unknown>, family: string, theta: number, rd: number): RopeScaling | undefined {
  const raw = cfg.rope_scaling;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) refuse(family, 'rope_scaling', raw, 'expected an object with rope_type');
  const s = raw as Record<string, unknown>;
  // Hugging Face reads rope_type, or the legacy `type`; Phi-3's 'su' is LongRoPE's old name.
  let type = String(s.rope_type ?? s.type ?? 'default');
  if (type === 'su') type = 'longrope';
  const kind = SCALINGS[type];
  if (!kind) refuse(family, 'rope_scaling.rope_type', type, `supported: ${Object.keys(SCALINGS).join(', ')}`);
  for (const k of Object.keys(s)) if (k !== 'rope_type' && k !== 'type' && !kind.keys.includes(k)) refuse(family, `rope_scaling.${k}`, s[k], `not read for rope_type '${type}'`);
  const maxPos = typeof cfg.max_position_embeddings === 'number' ? cfg.max_position_embeddings : 2048;
  return kind.read({ s, cfg, family, type, theta, rd, maxPos, pf: posFreqs(theta, rd) });
}

function factorList(s: Record<string, unknown>, key: string, half: number, family: string): number[] {
  const v = s[key];
  if (!Array.isArray(v) || v.length !== half || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x <= 0))
    refuse(family, `rope_scaling.${key}`, Array.isArray(v) ? `[${v.length} values]` : v, `expected ${half} positive numbers (one per rotated pair)`);
  return v as number[];
}

/** The rope op's arguments for a scaling, with its tables as the parameters 'rope.inv' and 'rope.invLong'. */
export function ropeArgs(s: RopeScaling | undefined): Record<string, number | { kind: 'param'; name: string }> {
  if (!s) return {};
  const out: Record<string, number | { kind: 'param'; name: string }> = {};
  if (s.invFreq) out.invFreq = { kind: 'param', name: 'rope.inv' };
  if (s.invFreqLong) {
    out.invFreqLong = { kind: 'param', name: 'rope.invLong' };
    out.longFrom = s.longFrom!;
  }
  if (s.attentionFactor !== undefined) out.scale = s.attentionFactor;
  if (s.dynamic) {
    out.dynamicFactor = s.dynamic.factor;
    out.dynamicOriginal = s.dynamic.original;
  }
  return out;
}

/** The tables a scaling binds beside the checkpoint's parameters (not counted as parameters, as HF's inv_freq buffers). */
export function ropeTables(s: RopeScaling | undefined): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  if (s?.invFreq) m.set('rope.inv', Float32Array.from(s.invFreq));
  if (s?.invFreqLong) m.set('rope.invLong', Float32Array.from(s.invFreqLong));
  return m;
}

/** What a GGUF file says of its rotation: `${arch}.rope.*` metadata and the factor tensors' values. */
export interface GGUFRopeInput {
  /** Metadata by key without the `${arch}.` prefix ('rope.scaling.type'). */
  readonly md: Record<string, unknown>;
  /** The family's name for errors ('Llama GGUF') and the key prefix ('llama'). */
  readonly family: string;
  readonly arch: string;
  readonly theta: number;
  /** Rotated dimensions (rope.dimension_count). */
  readonly rd: number;
  /** context_length: YaRN's original length when the file gives none. */
  readonly contextLength: number;
  /** rope_freqs.weight (Llama 3's per-pair divisors of the frequency), when the file has it. */
  readonly freqFactors?: Float32Array;
  /** rope_factors_short / rope_factors_long (Phi-3's LongRoPE), when the file has them. */
  readonly shortFactors?: Float32Array;
  readonly longFactors?: Float32Array;
}

/**
 * The scaling a llama.cpp GGUF file asks for, as its converter writes each Hugging Face
 * rope_scaling (convert_hf_to_gguf.py): `rope.scaling.type` linear or yarn with its keys, Llama 3's
 * smoothing baked into a rope_freqs tensor (theta_i / f_i, llama.cpp's ggml_rope_ext freq_factors),
 * Phi-3's LongRoPE as short and long factor tensors. Keys llama.cpp reads that would change the
 * rotation beyond these are refused by name.
 */
export function ropeScalingFromGGUF(x: GGUFRopeInput): RopeScaling | undefined {
  const { md, family, arch, theta, rd } = x;
  const key = (k: string) => `${arch}.${k}`;
  const pf = posFreqs(theta, rd);
  const type = md['rope.scaling.type'] ?? 'linear';
  const factor = md['rope.scaling.factor'];
  const linearScale = md['rope.scale_linear'];
  const fixed: [string, unknown][] = [['rope.scaling.yarn_ext_factor', 1], ['rope.scaling.yarn_attn_factor', 1], ['rope.scaling.yarn_log_multiplier', 0]];
  for (const [k, ok] of fixed)
    if (md[k] !== undefined && md[k] !== ok && !(k === 'rope.scaling.yarn_ext_factor' && md[k] === -1))
      refuse(family, key(k), md[k], `only ${ok} is implemented`);
  const tables = [x.freqFactors, x.shortFactors, x.longFactors];
  for (const [i, t] of tables.entries())
    if (t && (t.length !== rd / 2 || t.some((v) => !(Number.isFinite(v) && v > 0))))
      throw new RangeError(`gguf: tensor '${['rope_freqs', 'rope_factors_short', 'rope_factors_long'][i]}.weight' must hold ${rd / 2} positive numbers (one per rotated pair), got ${t.length}`);
  if ((x.shortFactors === undefined) !== (x.longFactors === undefined))
    throw new RangeError("gguf: LongRoPE needs both 'rope_factors_short.weight' and 'rope_factors_long.weight'");
  const attnFactor = md['rope.scaling.attn_factor'];
  if (x.shortFactors && x.longFactors) {
    if (md['rope.scaling.type'] !== undefined && type !== 'none' && type !== 'longrope') refuse(family, key('rope.scaling.type'), type, 'LongRoPE factor tensors go with no other scaling');
    if (x.freqFactors) refuse(family, 'rope_freqs.weight', 'present', 'LongRoPE factor tensors go with no other frequency factors');
    const orig = md['rope.scaling.original_context_length'];
    if (typeof orig !== 'number' || !Number.isInteger(orig) || orig < 1) refuse(family, key('rope.scaling.original_context_length'), orig, 'LongRoPE needs the original context length');
    // Hugging Face's attention factor from the lengths, as the converter writes it; a file's own value wins.
    const f = x.contextLength / orig;
    const attn = attnFactor === undefined ? (f <= 1 ? 1 : Math.sqrt(1 + Math.log(f) / Math.log(orig))) : Number(attnFactor);
    if (!(Number.isFinite(attn) && attn > 0)) refuse(family, key('rope.scaling.attn_factor'), attnFactor, 'expected a positive number');
    const table = (ext: Float32Array) => pf.map((p, i) => f32(1 / f32(ext[i]! * p)));
    return { type: 'longrope', invFreq: table(x.shortFactors), invFreqLong: table(x.longFactors), longFrom: orig, ...(attn !== 1 ? { attentionFactor: attn } : {}) };
  }
  // YaRN's factor comes from its scale (0.1 ln s + 1), as in llama.cpp; a given one is LongRoPE's alone.
  if (attnFactor !== undefined && attnFactor !== 1) refuse(family, key('rope.scaling.attn_factor'), attnFactor, 'an attention factor is implemented with LongRoPE factor tensors only');
  let s: RopeScaling | undefined;
  if (type === 'linear' || md['rope.scaling.type'] === undefined) {
    // llama.cpp reads a missing type as 'linear': rope.scaling.factor, else the older rope.scale_linear.
    const f = factor ?? linearScale ?? 1;
    if (typeof f !== 'number' || !(f >= 1 || f === 0)) refuse(family, key(factor !== undefined ? 'rope.scaling.factor' : 'rope.scale_linear'), f, 'expected a number >= 1');
    s = f === 1 || f === 0 ? undefined : { type: 'linear', invFreq: pf.map((p) => f32(f32(1 / p) / f)) };
  } else if (type === 'yarn') {
    if (typeof factor !== 'number' || !(factor >= 1)) refuse(family, key('rope.scaling.factor'), factor, "rope.scaling.type 'yarn' needs a number >= 1");
    for (const k of ['rope.scaling.yarn_beta_fast', 'rope.scaling.yarn_beta_slow', 'rope.scaling.original_context_length'])
      if (md[k] !== undefined && !(typeof md[k] === 'number' && Number.isFinite(md[k]) && md[k] > 0)) refuse(family, key(k), md[k], 'expected a positive number');
    const orig = md['rope.scaling.original_context_length'] ?? x.contextLength;
    const yarn = {
      rope_type: 'yarn', factor, original_max_position_embeddings: orig,
      ...(md['rope.scaling.yarn_beta_fast'] !== undefined ? { beta_fast: md['rope.scaling.yarn_beta_fast'] } : {}),
      ...(md['rope.scaling.yarn_beta_slow'] !== undefined ? { beta_slow: md['rope.scaling.yarn_beta_slow'] } : {}),
    };
    s = SCALINGS.yarn!.read({ s: yarn, cfg: {}, family, type: 'yarn', theta, rd, maxPos: x.contextLength, pf });
  } else if (type !== 'none') {
    // 'none' never scales in llama.cpp, whatever the factor says.
    refuse(family, key('rope.scaling.type'), type, 'supported: none, linear, yarn (and rope_freqs / LongRoPE factor tensors)');
  }
  if (x.freqFactors) {
    if (s) refuse(family, 'rope_freqs.weight', 'present', `frequency factors together with rope.scaling.type '${String(type)}' are not implemented`);
    const ff = x.freqFactors;
    return { type: 'freq_factors', invFreq: pf.map((p, i) => f32(f32(1 / p) / ff[i]!)) };
  }
  return s;
}
