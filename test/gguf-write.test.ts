// The GGUF writer (ts/io/gguf-write.ts) read back by attnode's GGUF reader: every metadata value
// type, raw entries copied from another file, tensor infos and aligned data; and its errors.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GGUFFile } from '../ts/io/gguf.js';
import { rawMetadata, writeGGUF, type GGUFWriteValue } from '../ts/io/gguf-write.js';

const work = mkdtempSync(join(tmpdir(), 'attnode-gguf-write-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const META: Array<[string, GGUFWriteValue]> = [
  ['a.u8', { type: 'u8', value: 255 }], ['a.i8', { type: 'i8', value: -128 }], ['a.u16', { type: 'u16', value: 65535 }],
  ['a.i16', { type: 'i16', value: -2 }], ['a.u32', { type: 'u32', value: 4000000000 }], ['a.i32', { type: 'i32', value: -7 }],
  ['a.f32', { type: 'f32', value: 0.5 }], ['a.bool', { type: 'bool', value: true }], ['a.u64', { type: 'u64', value: 2n ** 40n }],
  ['a.i64', { type: 'i64', value: -3n }], ['a.f64', { type: 'f64', value: Math.PI }], ['a.str', { type: 'string', value: 'héllo ✓' }],
  ['a.strs', { type: 'array', of: 'string', values: ['x', '', 'zz'] }], ['a.ints', { type: 'array', of: 'i32', values: [1, -2, 3] }],
];

describe('writeGGUF', () => {
  it('writes what the reader reads: metadata of every type, shapes innermost-first, aligned data', () => {
    const path = join(work, 'a.gguf');
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    writeGGUF(path, META, [
      { name: 't.odd', shape: [3], ggmlType: 0, byteLength: 12, bytes: () => new Uint8Array(data.buffer, 0, 12) },
      { name: 't.m', shape: [2, 3], ggmlType: 0, byteLength: 24, bytes: () => new Uint8Array(data.buffer) },
    ]);
    const g = new GGUFFile(path);
    try {
      expect(g.version).toBe(3);
      expect(g.get('a.u8')).toBe(255);
      expect(g.get('a.i8')).toBe(-128);
      expect(g.get('a.u32')).toBe(4000000000);
      expect(g.get('a.f32')).toBe(0.5);
      expect(g.get('a.bool')).toBe(true);
      expect(BigInt(g.get('a.u64') as number | bigint)).toBe(2n ** 40n);
      expect(BigInt(g.get('a.i64') as number | bigint)).toBe(-3n);
      expect(g.get('a.f64')).toBe(Math.PI);
      expect(g.get('a.str')).toBe('héllo ✓');
      expect(g.get('a.strs')).toEqual(['x', '', 'zz']);
      expect(Array.from(g.get('a.ints') as Int32Array)).toEqual([1, -2, 3]);
      const m = g.tensors.get('t.m')!;
      expect(m.shape).toEqual([2, 3]);
      expect((m.byteOffset - g.dataOffset) % 32).toBe(0);
      expect(Array.from(new Float32Array(g.file.read(m.byteOffset, 24).slice().buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      g.dispose();
    }
  });

  it('copies raw metadata entries unchanged', () => {
    const src = new GGUFFile(join(work, 'a.gguf'));
    const path = join(work, 'b.gguf');
    try {
      writeGGUF(path, rawMetadata(src), []);
    } finally {
      src.dispose();
    }
    const g = new GGUFFile(path);
    try {
      expect(g.metadata.size).toBe(META.length);
      expect(g.get('a.strs')).toEqual(['x', '', 'zz']);
      expect(g.get('a.i16')).toBe(-2);
    } finally {
      g.dispose();
    }
  });

  it('names a repeated key, a repeated tensor, a wrong byte count and a bad value', () => {
    const p = join(work, 'c.gguf');
    expect(() => writeGGUF(p, [META[0]!, META[0]!], [])).toThrow(/key 'a.u8' appears twice/);
    const t = { name: 't', shape: [1], ggmlType: 0, byteLength: 4, bytes: () => new Uint8Array(4) };
    expect(() => writeGGUF(p, [], [t, t])).toThrow(/'t' appears twice/);
    expect(() => writeGGUF(p, [], [{ ...t, bytes: () => new Uint8Array(3) }])).toThrow(/produced 3 bytes, its info says 4/);
    expect(() => writeGGUF(p, [['k', { type: 'u32', value: 1.5 }]], [])).toThrow(/k: expected an integer for u32/);
  });
});
