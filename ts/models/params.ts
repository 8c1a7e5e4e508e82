// The parameter counter: a config's parameter tensors (its family's parameters() list) summed
// per component, as PyTorch's sum(p.numel() for p in model.parameters()) reports them (tied
// weights counted once), the bytes they take per weight dtype, and the KV cache per context.
// Not a loader, and it reads no weights; presets.ts holds the named configs of `attnode inspect`.

import type { DecoderConfig } from './config.js';
import { WEIGHT_DTYPES, WEIGHT_FORMATS, bytesPerValue } from '../tensor/formats.js';
import { configFromHF, family, type ParamComponent, type ParamTensor } from './families/index.js';

/** Printed name of each component, in the order reports list them. */
const COMPONENT_LABELS: Readonly<Record<ParamComponent, string>> = {
  embedding: 'token embedding',
  positions: 'position embedding',
  'attention.q': 'attention Q',
  'attention.k': 'attention K',
  'attention.v': 'attention V',
  'attention.o': 'attention O',
  'mlp.gate': 'MLP gate',
  'mlp.up': 'MLP up',
  'mlp.down': 'MLP down',
  norms: 'norms (2 per layer)',
  'final.norm': 'final norm',
  unembedding: 'unembedding',
};

export interface ParamRow {
  /** The printed name ('attention Q'); a tied unembedding reads 'unembedding (tied)'. */
  component: string;
  /** Parameters in one layer (0 for non-layer rows). */
  perLayer: number;
  total: number;
}

export interface ParamReport {
  architecture: string;
  /** One row per component the family has, in print order. */
  rows: ParamRow[];
  /** Parameters per component key ('attention.q', 'norms', 'final.norm', ...), summed over layers. */
  components: Partial<Record<ParamComponent, number>>;
  total: number;
  /** Bytes of all parameters stored as each dtype (q8_0: 34 bytes per 32 values). */
  bytes: { f32: number; f16: number; bf16: number; q8_0: number };
}

const numel = (t: ParamTensor): number => (t.tiedTo === undefined ? t.shape.reduce((a, d) => a * d, 1) : 0);

/** Counts the parameters of a config (its family's tensor list); the one counter in attnode. */
export function countParameters(cfg: DecoderConfig): ParamReport {
  const tensors = family(cfg.architecture).parameters(cfg);
  const components: Partial<Record<ParamComponent, number>> = {};
  const rows: ParamRow[] = [];
  for (const key of Object.keys(COMPONENT_LABELS) as ParamComponent[]) {
    const mine = tensors.filter((t) => t.component === key);
    if (mine.length === 0) continue;
    const total = mine.reduce((a, t) => a + numel(t), 0);
    const perLayer = mine.filter((t) => t.layer === 0).reduce((a, t) => a + numel(t), 0);
    const tied = mine.every((t) => t.tiedTo !== undefined);
    components[key] = total;
    rows.push({ component: tied ? `${COMPONENT_LABELS[key]} (tied)` : COMPONENT_LABELS[key], perLayer, total });
  }
  const total = rows.reduce((a, r) => a + r.total, 0);
  return { architecture: cfg.architecture, rows, components, total, bytes: { f32: total * bytesPerValue('f32'), f16: total * bytesPerValue('f16'), bf16: total * bytesPerValue('bf16'), q8_0: Math.ceil(total / WEIGHT_FORMATS.q8_0.blockSize) * WEIGHT_FORMATS.q8_0.blockBytes } };
}

const isDecoderConfig = (c: object): c is DecoderConfig => 'architecture' in c && 'hidden' in c;

/** countParameters of a Hugging Face config.json object or of a DecoderConfig. */
export function inspect(config: DecoderConfig | Record<string, unknown>): ParamReport {
  return countParameters(isDecoderConfig(config) ? config : configFromHF(config));
}

/** The report's rows: embedding, positions, attention Q/K/V/O, MLP, norms, unembedding. */
export function parameterTable(cfg: DecoderConfig): ParamRow[] {
  return countParameters(cfg).rows;
}

export function totalParameters(cfg: DecoderConfig): number {
  return countParameters(cfg).total;
}

/** Bytes per parameter for weight storage dtypes (q8_0/q4_0 include the f16 block scale). */
// q4_0 is not a loadable format yet; the memory table lists it for planning.
export const BYTES_PER_PARAM: Readonly<Record<string, number>> = { ...Object.fromEntries(WEIGHT_DTYPES.map((d) => [d, bytesPerValue(d)])), q4_0: 18 / 32 };

/** KV-cache bytes for one sequence of `tokens` positions: K and V rows (Hkv, D) per layer. */
export function kvCacheBytes(cfg: DecoderConfig, tokens: number, bytesPerValue = 4): number {
  return 2 * cfg.layers * tokens * cfg.kvHeads * cfg.headDim * bytesPerValue;
}

/**
 * The weight-matrix accounting of 3Blue1Brown's "How might LLMs store facts" / "Attention in
 * transformers" videos: only the matrices, per head written as key, query, value-down (the
 * value's projection to the head) and value-up (the head's output back to the model width); the
 * unembedding counted as its own matrix even where it is tied. GPT-3 175B gives 175,181,291,520.
 */
export interface MatrixAccounting {
  rows: ParamRow[];
  total: number;
  /** The exact count (countParameters) minus this one, split into what the matrices leave out. */
  difference: { biases: number; positions: number; norms: number; tiedUnembedding: number; total: number };
}

/** Computed from the config's sizes (layers, width, heads, MLP width, vocabulary), not from constants. */
export function matrixAccounting(cfg: DecoderConfig): MatrixAccounting {
  const { layers: L, hidden: C, heads: H, kvHeads: Hkv, headDim: D, ffn: F, vocabSize: V } = cfg;
  const tensors = family(cfg.architecture).parameters(cfg);
  const gated = tensors.some((t) => t.component === 'mlp.gate');
  const rows: ParamRow[] = [
    { component: 'embedding', perLayer: 0, total: V * C },
    { component: 'key', perLayer: C * Hkv * D, total: L * C * Hkv * D },
    { component: 'query', perLayer: C * H * D, total: L * C * H * D },
    { component: 'value-down', perLayer: C * Hkv * D, total: L * C * Hkv * D },
    { component: 'value-up', perLayer: H * D * C, total: L * H * D * C },
    ...(gated ? [{ component: 'gate-projection', perLayer: C * F, total: L * C * F }] : []),
    { component: 'up-projection', perLayer: C * F, total: L * C * F },
    { component: 'down-projection', perLayer: F * C, total: L * F * C },
    { component: 'unembedding', perLayer: 0, total: V * C },
  ];
  const total = rows.reduce((a, r) => a + r.total, 0);
  const sum = (keep: (t: ParamTensor) => boolean) => tensors.filter(keep).reduce((a, t) => a + numel(t), 0);
  // 1-D tensors inside attention and MLP components are their biases (norms have components of their own).
  const biases = sum((t) => t.shape.length === 1 && (t.component.startsWith('attention.') || t.component.startsWith('mlp.')));
  const positions = sum((t) => t.component === 'positions');
  const norms = sum((t) => t.component === 'norms' || t.component === 'final.norm');
  const tiedUnembedding = tensors.some((t) => t.component === 'unembedding' && t.tiedTo !== undefined) ? -V * C : 0;
  return { rows, total, difference: { biases, positions, norms, tiedUnembedding, total: countParameters(cfg).total - total } };
}
