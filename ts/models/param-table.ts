// The parameter table of decoder-only transformers from a handful of shape numbers: per component,
// per weight dtype, and the KV cache per context length; presets for inspect. Not a loader.

import { WEIGHT_DTYPES, bytesPerValue } from '../tensor/formats.js';

export interface TransformerShape {
  name: string;
  vocabSize: number;
  contextLength: number;
  /** d_model */
  embedding: number;
  layers: number;
  heads: number;
  /** key/value heads (grouped-query attention); default = heads */
  kvHeads?: number;
  /** MLP hidden size */
  ffn: number;
  /** 'gelu' MLPs have up and down; 'swiglu' adds a gate of the same size as up */
  mlp?: 'gelu' | 'swiglu';
  /** learned absolute positions (GPT-2/3) or none (rotary) */
  positions?: 'learned' | 'rotary';
  /** linear layers carry biases (GPT-2/3) */
  bias?: boolean;
  /** 'layernorm' has weight and bias, 'rmsnorm' weight only */
  norm?: 'layernorm' | 'rmsnorm';
  /** unembedding shares the token embedding */
  tiedEmbeddings?: boolean;
}

export interface ParamRow {
  component: string;
  /** parameters in one layer (0 for non-layer rows) */
  perLayer: number;
  total: number;
}

/** Well-known configurations for `attnode inspect --config`. */
export const PRESETS: Record<string, TransformerShape> = {
  'gpt2': { name: 'GPT-2 small (124M)', vocabSize: 50257, contextLength: 1024, embedding: 768, layers: 12, heads: 12, ffn: 3072, tiedEmbeddings: true },
  'gpt2-xl': { name: 'GPT-2 XL (1.5B)', vocabSize: 50257, contextLength: 1024, embedding: 1600, layers: 48, heads: 25, ffn: 6400, tiedEmbeddings: true },
  // Brown et al. 2020, Table 2.1: n_layers 96, d_model 12288, n_heads 96, d_head 128, n_ctx 2048.
  'gpt3-175b': { name: 'GPT-3 175B', vocabSize: 50257, contextLength: 2048, embedding: 12288, layers: 96, heads: 96, ffn: 49152, tiedEmbeddings: true },
  'llama2-7b': {
    name: 'Llama 2 7B', vocabSize: 32000, contextLength: 4096, embedding: 4096, layers: 32, heads: 32, ffn: 11008,
    mlp: 'swiglu', positions: 'rotary', bias: false, norm: 'rmsnorm', tiedEmbeddings: false,
  },
};

/** The parameter table: embedding, positions, attention Q/K/V/O, MLP, norms, unembedding. */
export function parameterTable(s: TransformerShape): ParamRow[] {
  const C = s.embedding;
  const L = s.layers;
  const D = C / s.heads;
  const kvC = (s.kvHeads ?? s.heads) * D;
  const b = s.bias ?? true;
  const normP = (s.norm ?? 'layernorm') === 'layernorm' ? 2 * C : C;
  const layer = (component: string, perLayer: number): ParamRow => ({ component, perLayer, total: perLayer * L });
  const rows: ParamRow[] = [
    { component: 'token embedding', perLayer: 0, total: s.vocabSize * C },
    { component: 'position embedding', perLayer: 0, total: (s.positions ?? 'learned') === 'learned' ? s.contextLength * C : 0 },
    layer('attention Q', C * C + (b ? C : 0)),
    layer('attention K', C * kvC + (b ? kvC : 0)),
    layer('attention V', C * kvC + (b ? kvC : 0)),
    layer('attention O', C * C + (b ? C : 0)),
  ];
  if (s.mlp === 'swiglu') rows.push(layer('MLP gate', C * s.ffn + (b ? s.ffn : 0)));
  rows.push(layer('MLP up', C * s.ffn + (b ? s.ffn : 0)), layer('MLP down', s.ffn * C + (b ? C : 0)));
  rows.push(layer('norms (2 per layer)', 2 * normP), { component: 'final norm', perLayer: 0, total: normP });
  rows.push({ component: s.tiedEmbeddings ? 'unembedding (tied)' : 'unembedding', perLayer: 0, total: s.tiedEmbeddings ? 0 : s.vocabSize * C });
  return rows;
}

export function totalParameters(s: TransformerShape): number {
  return parameterTable(s).reduce((a, r) => a + r.total, 0);
}

/** Bytes per parameter for weight storage dtypes (q8_0/q4_0 include the f16 block scale). */
export const BYTES_PER_PARAM: Record<string, number> = { ...Object.fromEntries(WEIGHT_DTYPES.map((d) => [d, bytesPerValue(d)])), q4_0: 18 / 32 };

/** KV-cache bytes for one sequence of `tokens` positions: K and V per layer. */
export function kvCacheBytes(s: TransformerShape, tokens: number, bytesPerValue = 4): number {
  const kvC = (s.kvHeads ?? s.heads) * (s.embedding / s.heads);
  return 2 * s.layers * tokens * kvC * bytesPerValue;
}

/** Human-readable count: 1.2K, 3.4M, 175.0B. */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function formatBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}
