// Parameter counts per component against published sizes (GPT-2 124M, GPT-3 175B, Llama 2 7B).
import { describe, expect, it } from 'vitest';
import { kvCacheBytes, parameterTable, totalParameters } from '../../ts/models/params.js';
import { PRESETS } from '../../ts/models/presets.js';

describe('parameter table', () => {
  it('GPT-2 small is 124,439,808 parameters (tied unembedding)', () => {
    expect(totalParameters(PRESETS['gpt2']!)).toBe(124_439_808);
  });

  it('GPT-3 reproduces the 175B breakdown: 12 L d^2 in the blocks, embeddings on top', () => {
    const s = PRESETS['gpt3-175b']!;
    const rows = Object.fromEntries(parameterTable(s).map((r) => [r.component, r]));
    const d = 12288;
    const L = 96;
    expect(rows['attention Q']!.perLayer).toBe(d * d + d);
    expect(rows['MLP up']!.perLayer).toBe(d * 4 * d + 4 * d);
    expect(rows['token embedding']!.total).toBe(50257 * d);
    const blocks = ['attention Q', 'attention K', 'attention V', 'attention O', 'MLP up', 'MLP down', 'norms (2 per layer)'].reduce((a, k) => a + rows[k]!.total, 0);
    // 12 L d^2 = 173.95B, the rest is biases and norms (13 d per layer)
    expect(blocks).toBe(12 * L * d * d + 13 * d * L);
    const total = totalParameters(s);
    expect(total).toBe(174_604_259_328);
    expect(Math.abs(total - 175e9) / 175e9).toBeLessThan(0.003);
    // attention is a third of the block, the MLP two thirds
    expect(rows['MLP up']!.total / rows['attention Q']!.total).toBeCloseTo(4, 3);
  });

  it('Llama 2 7B (SwiGLU, RMSNorm, untied, no biases) is 6,738,415,616 parameters', () => {
    expect(totalParameters(PRESETS['llama2-7b']!)).toBe(6_738_415_616);
  });

  it('KV cache: 2 x layers x tokens x d_model values', () => {
    expect(kvCacheBytes(PRESETS['gpt3-175b']!, 2048, 2)).toBe(2 * 96 * 2048 * 12288 * 2); // 9 GiB in f16
    expect(kvCacheBytes({ ...PRESETS['llama2-7b']!, kvHeads: 8 }, 4096, 2)).toBe(2 * 32 * 4096 * 1024 * 2);
  });
});
