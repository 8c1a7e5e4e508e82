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
