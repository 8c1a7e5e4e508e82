// Byte-pair encoding: merge ranks, byte-level or character input with byte fallback, and a
// merge loop that is linear-logarithmic on long words. Not pre-tokenization or decoding.
import { BYTE_TO_CHAR, byteTokenName, utf8Encoder } from './bytes.js';
import { TokenizerFormatError } from './json.js';
import { WordCache, type Model } from './model.js';

/** Counts merge-loop steps so tests can prove long words are not quadratic. */
export const bpeCounters = { steps: 0 };

export interface BpeOptions {
  /** Input is UTF-8 bytes spelled with the GPT-2 alphabet (ByteLevel pre-tokenizer). */
  byteLevel: boolean;
  unkToken: string | null;
  continuingSubwordPrefix: string | null;
  endOfWordSuffix: string | null;
  fuseUnk: boolean;
  byteFallback: boolean;
  /** A word that is itself a vocabulary entry is emitted whole, without merging. */
  ignoreMerges: boolean;
}

// Pair keys pack two ids into one number below 2^53; ids stay under 2^24.
const PAIR_SHIFT = 2 ** 24;
// Words up to this many symbols use the simple scan; longer ones use the heap.
const SMALL_WORD = 48;

/** Names of the fields a BPE model was read from, used in error messages. */
export interface BpeFields { vocab: string; merges: string; unk: string }

export function modelFields(path: string): BpeFields {
  return { vocab: `${path}.vocab`, merges: `${path}.merges`, unk: `${path}.unk_token` };
}

export class BpeModel implements Model {
  readonly kind = 'BPE';
  // (left id, right id) -> rank * 2^24 + merged id, or -1 when the pair never merges.
  private readonly pairs = new Map<number, number>();
  /** Merges in rank order, as "left right" strings (for export). Empty in score mode. */
  readonly merges: readonly [string, string][];
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly fallbackIds = new Int32Array(256).fill(-1);
  private readonly unkId: number;
  private readonly cache = new WordCache();
  readonly size: number;

  /**
   * vocab: token -> id. merges: pairs in rank order (rank 0 merges first).
   * `fields` name where the vocabulary, merges and unk token came from, for errors.
   */
  /**
   * `scores` (one per id) switches to sentencepiece BPE, where merges follow token scores
   * instead of a merges list (GGUF 'llama' vocabularies carry no merges).
   */
  private readonly scoreRank: Int32Array | null;

  constructor(private readonly vocab: Map<string, number>, private readonly ids: string[], merges: readonly [string, string][], readonly opts: BpeOptions,
    fields: BpeFields = modelFields('model'), scores: ArrayLike<number> | null = null) {
    this.scoreRank = scores === null ? null : denseRankDescending(scores);
    this.size = ids.length;
    if (this.size >= PAIR_SHIFT) throw new TokenizerFormatError(fields.vocab, `has ${this.size} entries, more than ${PAIR_SHIFT} are not supported`);
    const n = merges.length;
    this.merges = merges;
    const prefixLen = opts.continuingSubwordPrefix?.length ?? 0;
    for (let r = 0; r < n; r++) {
      const [a, b] = merges[r]!;
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      if (ia === undefined) throw new TokenizerFormatError(`${fields.merges}[${r}]`, `token '${a}' is not in the vocabulary`);
      if (ib === undefined) throw new TokenizerFormatError(`${fields.merges}[${r}]`, `token '${b}' is not in the vocabulary`);
      const joined = a + (prefixLen > 0 && b.startsWith(opts.continuingSubwordPrefix!) ? b.slice(prefixLen) : b);
      const ij = vocab.get(joined);
      if (ij === undefined) throw new TokenizerFormatError(`${fields.merges}[${r}]`, `merged token '${joined}' is not in the vocabulary`);
      const key = ia * PAIR_SHIFT + ib;
      // A repeated pair keeps its first (lowest) rank, as the references do.
      if (!this.pairs.has(key)) this.pairs.set(key, r * PAIR_SHIFT + ij);
    }
    for (let b = 0; b < 256; b++) {
      this.byteIds[b] = vocab.get(BYTE_TO_CHAR[b]!) ?? -1;
      this.fallbackIds[b] = vocab.get(byteTokenName(b)) ?? -1;
    }
    const unk = opts.unkToken;
    this.unkId = unk === null ? -1 : vocab.get(unk) ?? -1;
    if (unk !== null && this.unkId < 0) throw new TokenizerFormatError(fields.unk, `'${unk}' is not in the vocabulary`);
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.ids[id];
  }

  encodeWord(word: string, out: number[]): void {
    const hit = this.cache.get(word);
    if (hit !== undefined) {
      for (let i = 0; i < hit.length; i++) out.push(hit[i]!);
      return;
    }
    const ids: number[] = [];
    this.run(word, ids, null, null);
    this.cache.set(word, ids);
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }

  encodeWordSpans(word: string, ids: number[], starts: number[], ends: number[]): void {
    this.run(word, ids, starts, ends);
  }

  /** Initial symbols of a word, merged; spans in UTF-16 units of `word` when requested. */
  private run(word: string, out: number[], starts: number[] | null, ends: number[] | null): void {
    const sym: number[] = [];
    const symStart: number[] = [];
    const symEnd: number[] = [];
    if (this.opts.ignoreMerges) {
      const whole = this.vocab.get(this.opts.byteLevel ? toByteAlphabet(word) : word);
      if (whole !== undefined) {
        out.push(whole);
        starts?.push(0);
        ends?.push(word.length);
        return;
      }
    }
    if (this.opts.byteLevel) this.byteSymbols(word, sym, symStart, symEnd);
    else this.charSymbols(word, sym, symStart, symEnd);
    const n = sym.length;
    const ids = Int32Array.from(sym);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
    if (n <= SMALL_WORD) this.mergeScan(ids, next, prev);
    else this.mergeHeap(ids, next, prev);
    for (let i = 0; i >= 0 && n > 0; i = next[i]!) {
      out.push(ids[i]!);
      if (starts !== null && ends !== null) {
        starts.push(symStart[i]!);
        const last = next[i]! < 0 ? n - 1 : next[i]! - 1;
        ends.push(symEnd[last]!);
      }
    }
  }

  private byteSymbols(word: string, sym: number[], s: number[], e: number[]): void {
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      if (c < 0x80) { this.pushByte(c, sym); s.push(i); e.push(i + 1); continue; }
      const cp = word.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      // Lone surrogates encode as U+FFFD, like TextEncoder and the references.
      const bytes = utf8Encoder.encode(word.slice(i, i + w));
      for (const b of bytes) { this.pushByte(b, sym); s.push(i); e.push(i + w); }
      i += w - 1;
    }
  }

  private pushByte(b: number, sym: number[]): void {
    const id = this.byteIds[b]!;
    if (id >= 0) sym.push(id);
    else this.pushUnk(sym, false);
  }

  private pushUnk(sym: number[], mayFuse: boolean): void {
    if (this.unkId < 0) throw new RangeError(`text: a character has no token and the model has no unk_token`);
    if (mayFuse && this.opts.fuseUnk && sym.length > 0 && sym[sym.length - 1] === this.unkId) return;
    sym.push(this.unkId);
  }

  private charSymbols(word: string, sym: number[], s: number[], e: number[]): void {
    const { continuingSubwordPrefix: pre, endOfWordSuffix: suf } = this.opts;
    for (let i = 0; i < word.length;) {
      const cp = word.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      let piece = word.slice(i, i + w);
      if (pre !== null && i > 0) piece = pre + piece;
      if (suf !== null && i + w >= word.length) piece += suf;
      const id = this.vocab.get(piece);
      if (id !== undefined) { sym.push(id); s.push(i); e.push(i + w); }
      else if (this.opts.byteFallback && this.hasFallback(word.slice(i, i + w))) {
        for (const b of utf8Encoder.encode(word.slice(i, i + w))) { sym.push(this.fallbackIds[b]!); s.push(i); e.push(i + w); }
      } else {
        const before = sym.length;
        this.pushUnk(sym, true);
        if (sym.length > before) { s.push(i); e.push(i + w); } else e[e.length - 1] = i + w;
      }
      i += w;
    }
  }

  private hasFallback(ch: string): boolean {
    for (const b of utf8Encoder.encode(ch)) if (this.fallbackIds[b]! < 0) return false;
    return true;
  }

  /** Packed rank * 2^24 + merged id for a pair, -1 when it does not merge. */
  private pair(a: number, b: number): number {
    const key = a * PAIR_SHIFT + b;
    const v = this.pairs.get(key);
    if (v !== undefined) return v;
    if (this.scoreRank === null) return -1;
    // Score mode (sentencepiece BPE): a pair merges when its concatenation is a token;
    // higher scores merge first and equal scores share a rank, so the leftmost wins.
    const id = this.vocab.get(this.ids[a]! + this.ids[b]!);
    const packed = id === undefined ? -1 : this.scoreRank[id]! * PAIR_SHIFT + id;
    this.pairs.set(key, packed);
    return packed;
  }

  /** Short words: find the lowest-ranked adjacent pair (leftmost on ties), merge, repeat. */
  private mergeScan(ids: Int32Array, next: Int32Array, prev: Int32Array): void {
    for (;;) {
      let best = -1;
      let bestPacked = Infinity;
      for (let i = 0; i >= 0; i = next[i]!) {
        const j = next[i]!;
        if (j < 0) break;
        const r = this.pair(ids[i]!, ids[j]!);
        // Comparing packed values compares ranks: one rank has one merged id.
        if (r >= 0 && r < bestPacked) { bestPacked = r; best = i; }
      }
      bpeCounters.steps++;
      if (best < 0) return;
      const j = next[best]!;
      ids[best] = bestPacked % PAIR_SHIFT;
      next[best] = next[j]!;
      if (next[j]! >= 0) prev[next[j]!] = best;
    }
  }

  /**
   * Long words: the same merge order from a min-heap of (rank, position) with stale entries
   * skipped on pop, so a word of n symbols costs O(n log n), not O(n^2).
   */
  private mergeHeap(ids: Int32Array, next: Int32Array, prev: Int32Array): void {
    const heap = new MinHeap(ids.length);
    for (let i = 0; i >= 0; i = next[i]!) {
      const j = next[i]!;
      if (j < 0) break;
      const r = this.pair(ids[i]!, ids[j]!);
      if (r >= 0) heap.push(Math.floor(r / PAIR_SHIFT), i);
    }
    while (heap.size > 0) {
      bpeCounters.steps++;
      const key = heap.pop();
      const r = Math.floor(key / 2 ** 32);
      const i = key - r * 2 ** 32;
      const j = next[i]!;
      // Stale: the position was merged away, or its pair changed since the push.
      if (ids[i]! < 0 || j < 0) continue;
      const packed = this.pair(ids[i]!, ids[j]!);
      if (packed < 0 || Math.floor(packed / PAIR_SHIFT) !== r) continue;
      ids[i] = packed % PAIR_SHIFT;
      ids[j] = -1;
      next[i] = next[j]!;
      if (next[j]! >= 0) prev[next[j]!] = i;
      const p = prev[i]!;
      if (p >= 0) { const rp = this.pair(ids[p]!, ids[i]!); if (rp >= 0) heap.push(Math.floor(rp / PAIR_SHIFT), p); }
      const q = next[i]!;
      if (q >= 0) { const rq = this.pair(ids[i]!, ids[q]!); if (rq >= 0) heap.push(Math.floor(rq / PAIR_SHIFT), i); }
    }
  }
}

/** Binary min-heap of rank * 2^32 + position: ties on rank pop the leftmost position first. */
class MinHeap {
  private a: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.a = new Float64Array(Math.max(16, capacity));
  }

  push(rank: number, pos: number): void {
    if (this.size === this.a.length) { const b = new Float64Array(this.a.length * 2); b.set(this.a); this.a = b; }
    const a = this.a;
    const v = rank * 2 ** 32 + pos;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }

  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const v = a[--this.size]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && a[r]! < a[l]! ? r : l;
      if (a[c]! >= v) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = v;
    return top;
  }
}

/** Rank 0 for the highest score; equal scores share a rank. */
function denseRankDescending(scores: ArrayLike<number>): Int32Array {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const rank = new Int32Array(scores.length);
  let r = -1;
  let prev = NaN;
  for (const i of order) { if (scores[i] !== prev) { r++; prev = scores[i]!; } rank[i] = r; }
  return rank;
}

/** A word spelled in the GPT-2 byte alphabet, as it appears in byte-level vocabularies. */
export function toByteAlphabet(word: string): string {
  let s = '';
  for (const b of utf8Encoder.encode(word)) s += BYTE_TO_CHAR[b]!;
  return s;
}
