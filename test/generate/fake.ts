// A tiny scripted causal LM and tokenizer for generation tests: logits are a pure function of
// (last id, position), so expected tokens can be computed independently of the loop.

import type { CausalLM, KVCache, TextTokenizer } from '../../ts/generate/generate.js';

export const FAKE_VOCAB = ['a', 'b', 'c', ' ', 'S', 'T', 'OP', '<eos>', 'x', 'y'];
export const FAKE_EOS = 7;

export class FakeTokenizer implements TextTokenizer {
  encode(text: string): number[] {
    const out: number[] = [];
    let i = 0;
    while (i < text.length) {
      const id = FAKE_VOCAB.findIndex((t) => t !== '<eos>' && text.startsWith(t, i));
      if (id < 0) throw new RangeError(`fake tokenizer: no token at '${text.slice(i)}'`);
      out.push(id);
      i += FAKE_VOCAB[id]!.length;
    }
    return out;
  }
  decode(ids: readonly number[]): string {
    return ids.map((id) => (id === FAKE_EOS ? '' : FAKE_VOCAB[id]!)).join('');
  }
}

/** Deterministic pseudo-random logits in [-4, 4) from (last id, position). */
export function fakeLogits(last: number, pos: number, vocab: number): Float32Array {
  const out = new Float32Array(vocab);
  let h = (Math.imul(last + 1, 0x9e3779b1) ^ Math.imul(pos + 7, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < vocab; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = (h + 0x6d2b79f5) >>> 0;
    out[i] = ((h >>> 8) / 16777216) * 8 - 4;
  }
  return out;
}

class FakeCache implements KVCache {
  length = 0;
  disposed = false;
  dispose(): void {
    this.disposed = true;
  }
}

export class FakeModel implements CausalLM {
  readonly caches: FakeCache[] = [];
  forwardCalls = 0;
  /** Each forward waits this long (ms), to test abort while a pass is running. */
  delayMs = 0;
  /** Called at the start of every forward. */
  onForward: ((call: number) => void) | undefined;

  constructor(readonly vocabSize = FAKE_VOCAB.length, readonly contextLength = 64, readonly eosTokenIds: readonly number[] = [FAKE_EOS]) {}

  newCache(): KVCache {
    const c = new FakeCache();
    this.caches.push(c);
    return c;
  }

  async forward(ids: Int32Array, cache: KVCache): Promise<Float32Array> {
    const c = cache as FakeCache;
    if (c.disposed) throw new Error('fake: cache disposed');
    this.forwardCalls++;
    this.onForward?.(this.forwardCalls);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (c.length + ids.length > this.contextLength) throw new RangeError('fake: context overflow');
    c.length += ids.length;
    return fakeLogits(ids[ids.length - 1]!, c.length - 1, this.vocabSize);
  }
}
