// The GGUF reader on the default model and on damaged copies of it: clear errors, no crash.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGGUF } from '../../ts/generate/gguf.js';
import { defaultModelPath } from '../../ts/generate/model.js';

const dir = mkdtempSync(join(tmpdir(), 'attnode-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const good = readFileSync(defaultModelPath());
function write(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('GGUF reader', () => {
  it('reads the default model: metadata, tokenizer and tensor table', () => {
    const f = readGGUF(defaultModelPath());
    expect(f.version).toBe(3);
    expect(f.metadata.get('general.architecture')).toBe('gpt2');
    expect((f.metadata.get('tokenizer.ggml.tokens') as string[]).length).toBe(50257);
    expect(f.tensors.get('token_embd.weight')).toMatchObject({ shape: [50257, 128], type: 8 });
    expect(f.tensors.get('blk.0.attn_qkv.weight')).toMatchObject({ shape: [384, 128], type: 8 });
    expect(f.tensors.get('blk.3.ffn_norm.bias')).toMatchObject({ shape: [128], type: 0 });
    expect(f.tensors.size).toBe(2 + 4 * 12 + 2);
  });

  it('rejects damaged files with an error naming the problem', () => {
    const badMagic = Uint8Array.from(good.subarray(0, 64));
    badMagic[0] = 0x58;
    expect(() => readGGUF(write('magic.gguf', badMagic))).toThrow(/bad magic/);
    expect(() => readGGUF(write('header.gguf', good.subarray(0, 40)))).toThrow(/truncated/);
    expect(() => readGGUF(write('array.gguf', good.subarray(0, 3000)))).toThrow(/tokenizer.ggml.tokens claims 50257 elements, more than the file's bytes/);
    expect(() => readGGUF(write('data.gguf', good.subarray(0, good.length - 100)))).toThrow(/past the end/);
    const version = Uint8Array.from(good.subarray(0, 64));
    version[4] = 9;
    expect(() => readGGUF(write('version.gguf', version))).toThrow(/version 9 is not supported/);
    const huge = Uint8Array.from(good.subarray(0, 64));
    huge.fill(0xff, 16, 24); // metadata count
    expect(() => readGGUF(write('count.gguf', huge))).toThrow(RangeError);
  });
});
