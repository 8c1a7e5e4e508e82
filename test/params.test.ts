// Parameter accounting from configs alone, and the planner's buffer reuse.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspect, matrixAccounting } from '../ts/models/params.js';
import { PRESETS } from '../ts/models/presets.js';
import { configFromHF, decoderGraph } from '../ts/models/families/index.js';
import { plan } from '../ts/graph/planner.js';
import { evalShape } from '../ts/graph/ir.js';
import { SafetensorsCheckpoint } from '../ts/io/safetensors.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const GPT2_124M = { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 };

describe('inspect', () => {
  it('counts GPT-2 124M as PyTorch does: 124,439,808', () => {
    const r = inspect(GPT2_124M);
    expect(r.total).toBe(124_439_808);
    expect(r.components.embedding).toBe(50257 * 768);
    expect(r.components.positions).toBe(1024 * 768);
    expect(r.components['attention.q']! + r.components['attention.k']! + r.components['attention.v']!).toBe(12 * (768 * 2304 + 2304));
    expect(r.components.unembedding).toBe(0);
    expect(r.bytes.f32).toBe(124_439_808 * 4);
    expect(r.bytes.q8_0).toBe(Math.ceil(124_439_808 / 32) * 34);
  });
  it('counts Llama with GQA and an untied head (7B shape: 6,738,415,616)', () => {
    const r = inspect({ model_type: 'llama', vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, max_position_embeddings: 4096 });
    expect(r.total).toBe(6_738_415_616);
    const g = inspect({ model_type: 'llama', vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 });
    expect(g.components['attention.k']).toBe(2 * 64 * 32);
  });
  it('matches the tensors stored in the fixtures', () => {
    for (const dir of ['gpt2-tiny', 'llama-tiny']) {
      const cfg = JSON.parse(readFileSync(join(FIX, dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      const st = new SafetensorsCheckpoint(join(FIX, dir));
      const stored = st.names.reduce((a, n) => a + st.tensor(n).numel, 0);
      st.dispose();
      expect(inspect(cfg).total).toBe(stored);
    }
  });
  it("lays GPT-3 175B out as 3Blue1Brown's matrix accounting does, and explains the gap to the exact count", () => {
    const m = matrixAccounting(PRESETS['gpt3-175b']!);
    const by = Object.fromEntries(m.rows.map((r) => [r.component, r.total]));
    expect(by).toEqual({
      embedding: 617_558_016, key: 14_495_514_624, query: 14_495_514_624, 'value-down': 14_495_514_624, 'value-up': 14_495_514_624,
      'up-projection': 57_982_058_496, 'down-projection': 57_982_058_496, unembedding: 617_558_016,
    });
    expect(m.total).toBe(175_181_291_520);
    // 96 layers x (qkv 3C + o C + up 4C + down C) biases; 2048 positions; 2 norms (weight + bias) per layer and a final one.
    expect(m.difference).toEqual({ biases: 96 * 9 * 12288, positions: 2048 * 12288, norms: 96 * 4 * 12288 + 2 * 12288, tiedUnembedding: -617_558_016, total: 174_604_259_328 - 175_181_291_520 });
    // Computed from the config: a gated MLP gets its gate row; grouped K/V heads shrink key and value-down.
    const small = configFromHF({ model_type: 'llama', vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 });
    const g = matrixAccounting(small);
    expect(g.rows.map((r) => r.component)).toContain('gate-projection');
    expect(g.rows.find((r) => r.component === 'key')!.total).toBe(2 * 64 * 32);
    expect(g.rows.find((r) => r.component === 'query')!.total).toBe(2 * 64 * 64);
    expect(g.difference).toEqual({ biases: 0, positions: 0, norms: 2 * 2 * 64 + 64, tiedUnembedding: 0, total: inspect(small).total - g.total });
    expect(g.difference.total).toBe(2 * 2 * 64 + 64);
  });
  it('rejects configs it cannot read, naming the field', () => {
    expect(() => inspect({ model_type: 'bert' })).toThrow(/model_type 'bert'/);
    expect(() => inspect({ ...GPT2_124M, n_head: 0 })).toThrow(/'n_head' must be a positive integer/);
  });
});

describe('planner', () => {
  it('reuses buffers: a few slots hold every activation of a 12-layer graph', () => {
    const cfg = configFromHF(GPT2_124M);
    const g = decoderGraph(cfg);
    const graph = g.build(g.result);
    const p = plan(graph, 128);
    const naive = graph.values.filter((v) => v.base === undefined).reduce((a, v) => a + evalShape(v.shape, 128, 0).reduce((x, y) => x * y, 1), 0);
    expect(p.slots.length).toBeLessThanOrEqual(8);
    expect(p.totalElements).toBeLessThan(naive / 10);
    // No node writes into a slot one of its inputs occupies.
    for (const node of graph.nodes) {
      if (node.out.kind !== 'value') continue;
      const outSlot = p.slotOf[node.out.id];
      for (const a of Object.values(node.args)) if (typeof a === 'object' && a.kind === 'value') expect(p.slotOf[a.id]).not.toBe(outSlot);
    }
  });
  it('keeps a value alive until its last reader', () => {
    const cfg = configFromHF(GPT2_124M);
    const g = decoderGraph(cfg);
    const graph = g.build(g.result);
    const p = plan(graph, 16);
    // Replay: a slot's owner must not change between a value's definition and its last use.
    const owner = new Map<number, number>();
    const root = (id: number) => graph.values[id]!.base ?? id;
    for (const id of graph.inputs) owner.set(p.slotOf[id]!, id);
    for (const node of graph.nodes) {
      for (const a of Object.values(node.args)) if (typeof a === 'object' && a.kind === 'value') expect(owner.get(p.slotOf[a.id]!)).toBe(root(a.id));
      if (node.out.kind === 'value') owner.set(p.slotOf[node.out.id]!, root(node.out.id));
    }
  });
});

describe('runBatch (one trip for a planned pass)', () => {
  it('runs ops in order, later ops reading earlier outputs, and names a bad op by index', async () => {
    const { NativeBackend } = await import('../ts/backend/native.js');
    const { Tensor } = await import('../ts/tensor/tensor.js');
    const be = new NativeBackend();
    const x = Tensor.fromValues([1, 2, 3, 4], [4]);
    const y = Tensor.zeros('f32', [4]);
    const z = Tensor.zeros('f32', [4]);
    await be.runBatch([
      { op: 'scale', args: { x, s: 2, out: y } },
      { op: 'add', args: { a: y, b: x, out: z } },
    ]);
    expect([...z.data]).toEqual([3, 6, 9, 12]);
    const addon = (await import('../ts/native.js')).loadAddon();
    const t = { dtype: 'f32', shape: [4], data: new Float32Array(4) };
    expect(() => addon.opsAsync([{ op: 'scale', args: { x: t, s: 1, out: t } }, { op: 'nope', args: {} }])).toThrow(/ops\[1\]: unknown op 'nope'/);
    expect(() => addon.opsAsync([{ op: 'scale', args: { x: t, s: 'a', out: t } }])).toThrow(/scale: 's' must be a number/);
    expect(() => addon.opsAsync({} as never)).toThrow(/'ops' must be an array/);
  });
});
