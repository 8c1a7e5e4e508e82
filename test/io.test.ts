// Readers against the committed fixtures and hand-made files: safetensors (single, sharded,
// every dtype), GGUF (every metadata type, alignment, tensor types), and their error messages.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsCheckpoint, SafetensorsFile } from '../ts/io/safetensors.js';
import { GGUFFile } from '../ts/io/gguf.js';
import { MappedFile, MappedTensor } from '../ts/io/mapped.js';
import { loadAddon } from '../ts/native.js';
import { NativeBackend } from '../ts/backend/native.js';
import { Tensor } from '../ts/tensor/tensor.js';
import { readConfig } from '../ts/io/config.js';
import { dequantizeQ8_0 } from '../ts/tensor/q8.js';
import { f32Bytes, ggufBytes, safetensorsBytes } from './helpers/checkpoint-writers.js';

const FIX = join(import.meta.dirname, 'fixtures', 'models');
const dir = mkdtempSync(join(tmpdir(), 'attnode-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('MappedFile', () => {
  it('reads copies inside the file and refuses ranges outside it', () => {
    const p = file('m.bin', new Uint8Array([1, 2, 3, 4, 5]));
    const m = new MappedFile(p);
    expect(m.size).toBe(5);
    expect([...m.read(1, 3)]).toEqual([2, 3, 4]);
    expect(m.read(5, 0).length).toBe(0);
    expect(() => m.read(3, 3)).toThrow(RangeError);
    expect(() => m.read(-1, 1)).toThrow(/offset/);
    expect(() => m.read(2 ** 60, 1)).toThrow(RangeError);
    m.dispose();
    expect(() => m.read(0, 1)).toThrow(/disposed/);
  });
  it('names the path when a file cannot be mapped', () => {
    expect(() => new MappedFile(join(dir, 'missing.bin'))).toThrow(/missing\.bin/);
    expect(() => new MappedFile(dir)).toThrow(/not a regular file/);
  });
});

describe('safetensors', () => {
  it('reads the GPT-2 fixture', () => {
    const st = new SafetensorsFile(join(FIX, 'gpt2-tiny', 'model.safetensors'));
    expect(st.metadata.format).toBe('pt');
    expect(st.entries.get('h.0.attn.c_attn.weight')!.shape).toEqual([64, 192]);
    const t = st.tensor('wte.weight');
    expect(t.dtype).toBe('f32');
    expect(t.shape).toEqual([256, 64]);
    expect(t.load().data.length).toBe(256 * 64);
    st.dispose();
  });
  it('sharded and single checkpoints hold the same tensors', () => {
    const a = new SafetensorsCheckpoint(join(FIX, 'llama-tiny'));
    const b = new SafetensorsCheckpoint(join(FIX, 'llama-tiny-sharded'));
    expect(b.names.sort()).toEqual(a.names.sort());
    for (const n of a.names) expect(b.tensor(n).load().data).toEqual(a.tensor(n).load().data);
    a.dispose();
    b.dispose();
  });
  it('parses every dtype of the format and loads the ones attnode holds', () => {
    const bytes = (n: number) => new Uint8Array(n).map((_, i) => i * 7);
    const p = file('dt.safetensors', safetensorsBytes({
      f32: { dtype: 'F32', shape: [2], bytes: f32Bytes([1.5, -2]) },
      f16: { dtype: 'F16', shape: [2], bytes: bytes(4) },
      bf16: { dtype: 'BF16', shape: [2], bytes: bytes(4) },
      i8: { dtype: 'I8', shape: [3], bytes: bytes(3) },
      i32: { dtype: 'I32', shape: [1], bytes: bytes(4) },
      f64: { dtype: 'F64', shape: [1], bytes: bytes(8) },
      u8: { dtype: 'U8', shape: [2], bytes: bytes(2) },
      b: { dtype: 'BOOL', shape: [1], bytes: bytes(1) },
      i64: { dtype: 'I64', shape: [1], bytes: bytes(8) },
      f8: { dtype: 'F8_E4M3', shape: [2], bytes: bytes(2) },
      f4: { dtype: 'F4', shape: [2], bytes: bytes(1) },
    }));
    const st = new SafetensorsFile(p);
    expect([...st.tensor('f32').load().data]).toEqual([1.5, -2]);
    expect(st.tensor('f16').dtype).toBe('f16');
    expect(st.tensor('bf16').dtype).toBe('bf16');
    expect(st.tensor('i8').load().data.length).toBe(3);
    expect(st.entries.get('f64')!.byteLength).toBe(8);
    expect(() => st.tensor('f64')).toThrow(/F64, which attnode does not load/);
    expect(() => st.tensor('u8')).toThrow(/U8/);
    expect(() => st.tensor('nope')).toThrow(/no tensor named 'nope'/);
    st.dispose();
  });
  it('gives errors that name the problem', () => {
    const good = safetensorsBytes({ a: { dtype: 'F32', shape: [2], bytes: f32Bytes([1, 2]) } });
    const cases: [Uint8Array, RegExp][] = [
      [good.slice(0, 5), /fewer than the 8-byte header size/],
      [good.slice(0, good.length - 1), /lie outside the 7 data bytes/],
      [(() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 1n << 62n, true); return b; })(), /header size \d+ exceeds/],
      [safetensorsBytes({ a: { dtype: 'Q4', shape: [2], bytes: f32Bytes([1, 2]) } }), /unknown dtype "Q4"/],
      [safetensorsBytes({ a: { dtype: 'F32', shape: [3], bytes: f32Bytes([1, 2]) } }), /has 8 bytes but shape \[3\] F32 needs 12/],
      [safetensorsBytes({ a: { dtype: 'F32', shape: [-1], bytes: f32Bytes([1]) } }), /non-negative integers/],
    ];
    for (const [bytes, re] of cases) expect(() => new SafetensorsFile(file('bad.safetensors', bytes))).toThrow(re);
    const overlap = new TextEncoder().encode(JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }));
    const o = new Uint8Array(8 + overlap.length + 12);
    new DataView(o.buffer).setBigUint64(0, BigInt(overlap.length), true);
    o.set(overlap, 8);
    expect(() => new SafetensorsFile(file('ov.safetensors', o))).toThrow(/overlap/);
  });
});

describe('GGUF', () => {
  it('reads every metadata value type, arrays included', () => {
    const p = file('kv.gguf', ggufBytes({
      u8: [0, 200], i8: [1, -5], u16: [2, 60000], i16: [3, -300], u32: [4, 4000000000], i32: [5, -7],
      f32: [6, 0.5], bool: [7, 1], str: [8, 'héllo'], arr: [9, [8, ['a', 'b']]], nested: [9, [9, [[5, [1, 2]], [5, [3]]]]], f32s: [9, [6, [0.5, -2]]], bools: [9, [7, [1, 0]]], u64s: [9, [10, [2n ** 63n]]],
      u64: [10, 2n ** 60n], i64: [11, -3], f64: [12, 0.1], 'general.alignment': [4, 64],
    }, { t: { shape: [2, 3], type: 0, bytes: f32Bytes([1, 2, 3, 4, 5, 6]) } }, 3, 64));
    const g = new GGUFFile(p);
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(64);
    expect(g.dataOffset % 64).toBe(0);
    const want: Record<string, unknown> = { u8: 200, i8: -5, u16: 60000, i16: -300, u32: 4000000000, i32: -7, f32: 0.5, bool: true, str: 'héllo', arr: ['a', 'b'], nested: [new Int32Array([1, 2]), new Int32Array([3])], f32s: new Float32Array([0.5, -2]), bools: new Uint8Array([1, 0]), u64s: new BigUint64Array([2n ** 63n]), u64: 2n ** 60n, i64: -3, f64: 0.1 };
    for (const [k, v] of Object.entries(want)) expect(g.get(k)).toEqual(v);
    expect([...g.tensor('t').load().data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(g.tensor('t').shape).toEqual([2, 3]);
    g.dispose();
  });
  it('reads the fixtures; q8_0 dequantizes close to f32', () => {
    const f = new GGUFFile(join(FIX, 'llama-tiny', 'model-f32.gguf'));
    const q = new GGUFFile(join(FIX, 'llama-tiny', 'model-q8_0.gguf'));
    expect(f.get('general.architecture')).toBe('llama');
    expect(f.get('llama.attention.head_count_kv')).toBe(2);
    expect((f.get('tokenizer.ggml.tokens') as string[]).length).toBe(256);
    const tq = q.tensor('blk.0.ffn_up.weight');
    expect(tq.dtype).toBe('q8_0');
    const a = f.tensor('blk.0.ffn_up.weight').load().data as Float32Array;
    const b = dequantizeQ8_0(tq.load().data as Uint8Array);
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(0.01);
    f.dispose();
    q.dispose();
  });
  it('gives errors that name the problem', () => {
    const t = { shape: [2], type: 0, bytes: f32Bytes([1, 2]) };
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array([1, 2, 3, 4, 3, 0, 0, 0]), /not a GGUF file/],
      [ggufBytes({}, { t }, 1), /version 1 is not supported/],
      [ggufBytes({}, { t: { shape: [2], type: 2, bytes: new Uint8Array(18) } }), /Q4_0/],
      [ggufBytes({ 'general.alignment': [4, 3] }, { t }), /power of two/],
      [ggufBytes({}, { t: { shape: [2, 3, 4, 5, 6], type: 0, bytes: new Uint8Array(4) } }), /5 dimensions/],
      [ggufBytes({}, { t: { shape: [33], type: 8, bytes: new Uint8Array(34) } }), /not a multiple of 32/],
      [ggufBytes({}, { t }).slice(0, 40), /file ends at 40/],
    ];
    for (const [bytes, re] of cases) {
      const p = file('bad.gguf', bytes);
      expect(() => {
        const g = new GGUFFile(p);
        for (const n of g.tensors.keys()) g.tensor(n);
      }).toThrow(re);
    }
    const inflated = ggufBytes({ a: [8, 'x'] }, { t });
    new DataView(inflated.buffer).setBigUint64(8, 1n << 40n, true);
    expect(() => new GGUFFile(file('cnt.gguf', inflated))).toThrow(/tensor_count = \d+ is larger than the rest of the file allows/);
  });
});

describe('config', () => {
  it('reads config.json and generation_config.json', () => {
    const c = readConfig(join(FIX, 'gpt2-tiny'));
    expect(c.config.model_type).toBe('gpt2');
    expect(c.generation?.eos_token_id).toBe(0);
    expect(() => readConfig(dir)).toThrow(/config\.json/);
  });
});

describe('mapped tensors in the addon (zero-copy)', () => {
  const addon = loadAddon();
  const vals = Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
  // 4 bytes of padding so the table starts at an aligned offset, plus a trailing odd byte.
  const bytes = new Uint8Array(4 + 96 + 1);
  bytes.set(f32Bytes(vals), 4);
  const p = file('table.bin', bytes);

  it('embedding reads a table straight from the mapping', () => {
    const m = new MappedFile(p);
    const table = new MappedTensor(m, 4, 'f32', [6, 4]);
    const out = new Float32Array(8);
    addon.op('embedding', { table: table.native(), ids: { dtype: 'i32', shape: [2], data: new Int32Array([5, 1]) }, out: { dtype: 'f32', shape: [2, 4], data: out } });
    expect([...out]).toEqual([...vals.slice(20, 24), ...vals.slice(4, 8)]);
    m.dispose();
  });
  it('packWeight packs from the mapping; the handle outlives dispose() of the mapping', async () => {
    const m = new MappedFile(p);
    const be = new NativeBackend();
    const w = be.packWeight(new MappedTensor(m, 4, 'f32', [6, 4]));
    m.dispose();
    const y = await be.run('linear', { x: Tensor.fromValues([1, 0, 0, 0], [1, 4]), weight: w });
    expect([...y.data]).toEqual([0, 4, 8, 12, 16, 20].map((i) => vals[i]!));
    w.dispose();
  });
  it('embedding reads q8_0 rows straight from the mapping, dequantized as the reference does', () => {
    const t = Tensor.fromValues(Array.from({ length: 5 * 64 }, (_, i) => Math.sin(i)), [5, 64], 'q8_0');
    const m = new MappedFile(file('table-q8.bin', t.data as Uint8Array));
    const out = new Float32Array(2 * 64);
    addon.op('embedding', { table: new MappedTensor(m, 0, 'q8_0', [5, 64]).native(), ids: { dtype: 'i32', shape: [2], data: new Int32Array([4, 1]) }, out: { dtype: 'f32', shape: [2, 64], data: out } });
    const ref = t.toFloat32();
    expect([...out]).toEqual([...ref.slice(4 * 64, 5 * 64), ...ref.slice(64, 128)]);
    m.dispose();
  });
  // Packers report rows as they go (about 4 MiB of source per band) and packWeight releases
  // their mapped pages early; the packed bytes must not depend on it.
  it('packWeight packs weights of several bands from a mapping exactly as from a copy', async () => {
    const be = new NativeBackend();
    const x = Tensor.fromValues(Array.from({ length: 2 * 32 }, (_, i) => Math.cos(i)), [2, 32]);
    for (const [dtype, n] of [['f32', 40_000], ['q8_0', 130_000]] as const) {
      const t = Tensor.fromValues(Array.from({ length: n * 32 }, (_, i) => Math.sin(i * 0.37)), [n, 32], dtype);
      const m = new MappedFile(file(`big-${dtype}.bin`, new Uint8Array(t.storage.buffer, t.storage.byteOffset, t.storage.byteLength)));
      const fromMap = be.packWeight(new MappedTensor(m, 0, dtype, [n, 32]));
      const fromCopy = be.packWeight(t);
      const a = await be.run('linear', { x, weight: fromMap });
      const b = await be.run('linear', { x, weight: fromCopy });
      expect(a.data).toEqual(b.data);
      fromMap.dispose();
      fromCopy.dispose();
      m.dispose();
    }
  });
  it('a non-finite q8_0 scale in a later band is named by its row', () => {
    const n = 130_000;
    const t = Tensor.fromValues(Array.from({ length: n * 32 }, (_, i) => Math.sin(i)), [n, 32], 'q8_0');
    const bytes = (t.data as Uint8Array).slice();
    bytes[34 * 129_000 + 1] = 0x7c;  // row 129000's only block: f16 +Inf scale
    const m = new MappedFile(file('bad-q8.bin', bytes));
    expect(() => new NativeBackend().packWeight(new MappedTensor(m, 0, 'q8_0', [n, 32]))).toThrow(/block 0 of row 129000 has a non-finite scale/);
    m.dispose();
  });
  it('refuses out-of-file, unaligned, disposed and output mappings with named errors', () => {
    const m = new MappedFile(p);
    const ids = { dtype: 'i32', shape: [1], data: new Int32Array([0]) };
    const out = { dtype: 'f32', shape: [1, 4], data: new Float32Array(4) };
    const table = (byteOffset: number, shape = [6, 4]) => ({ dtype: 'f32', shape, file: m.handle, byteOffset });
    expect(() => addon.op('embedding', { table: table(8), ids, out })).toThrow(/'table' spans bytes \[8, 8 \+ 96\)/);
    expect(() => addon.op('embedding', { table: table(1, [1, 4]), ids, out })).toThrow(/byteOffset 1 is not a multiple of 4/);
    expect(() => addon.op('embedding', { table: table(-4), ids, out })).toThrow(/byteOffset must be a non-negative integer/);
    expect(() => addon.op('embedding', { table: { dtype: 'f32', shape: [6, 4], file: {}, byteOffset: 4 }, ids, out })).toThrow(/'table'.file must be a mapped file/);
    expect(() => addon.op('embedding', { table: table(4), ids, out: { dtype: 'f32', shape: [1, 4], file: m.handle, byteOffset: 4 } })).toThrow(/'out' must be a tensor with data: a file mapping is read-only/);
    m.dispose();
    expect(() => addon.op('embedding', { table: table(4), ids, out })).toThrow(/'table'.file was disposed/);
  });
});
