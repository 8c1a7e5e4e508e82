// GPT-2's byte-level BPE built from a GGUF file's embedded vocabulary (tokenizer.ggml.tokens,
// .merges, .token_type). Not a general tokenizer library: only tokenizer.ggml.model = 'gpt2'.

import type { TextTokenizer } from './generate.js';
import type { GGUFFile } from './gguf.js';

// GPT-2's pre-tokenizer: contractions, letter runs, number runs, other runs, and whitespace
// (a run of spaces leaves its last space to the following word).
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const CONTROL = 3;

/** GPT-2 maps every byte to a printable character so that tokens are plain strings. */
function byteAlphabet(): { enc: string[]; dec: Map<string, number> } {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const enc = new Array<string>(256);
  const dec = new Map<string, number>();
  bs.forEach((b, i) => {
    enc[b] = String.fromCharCode(cs[i]!);
    dec.set(enc[b]!, b);
  });
  return { enc, dec };
}

export class Gpt2Tokenizer implements TextTokenizer {
  readonly vocabSize: number;
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly specials: string[] = [];
  private readonly alphabet = byteAlphabet();
  private readonly cache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();
  private readonly special: RegExp | undefined;

  /** tokens: id -> token string; merges: 'a b' pairs by priority; types: 3 marks control tokens. */
  constructor(readonly tokens: readonly string[], merges: readonly string[], types?: readonly number[]) {
    this.vocabSize = tokens.length;
    tokens.forEach((t, i) => {
      if (!this.ids.has(t)) this.ids.set(t, i);
      if (types?.[i] === CONTROL) this.specials.push(t);
    });
    merges.forEach((m, i) => this.ranks.set(m, i));
    if (this.specials.length > 0) this.special = new RegExp(`(${this.specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`);
  }

  /** The tokenizer embedded in a GGUF file; only GPT-2-style byte-level BPE is supported. */
  static fromGGUF(f: GGUFFile): Gpt2Tokenizer {
    const model = f.metadata.get('tokenizer.ggml.model');
    const tokens = f.metadata.get('tokenizer.ggml.tokens');
    const merges = f.metadata.get('tokenizer.ggml.merges');
    const types = f.metadata.get('tokenizer.ggml.token_type');
    if (model !== 'gpt2') throw new RangeError(`GGUF tokenizer.ggml.model is '${String(model)}'; only 'gpt2' (byte-level BPE) is supported here`);
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) throw new RangeError('GGUF tokenizer.ggml.tokens is missing or not a string array');
    if (!Array.isArray(merges) || !merges.every((t) => typeof t === 'string')) throw new RangeError('GGUF tokenizer.ggml.merges is missing or not a string array');
    return new Gpt2Tokenizer(tokens as string[], merges as string[], Array.isArray(types) ? types.map(Number) : undefined);
  }

  /** Control tokens written in the text (e.g. <|endoftext|>) become their ids. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TypeError("encode: 'text' must be a string");
    const out: number[] = [];
    const parts = this.special ? text.split(this.special) : [text];
    parts.forEach((part, i) => {
      if (i % 2 === 1) out.push(this.ids.get(part)!);
      else for (const m of part.matchAll(PRETOKENIZE)) for (const id of this.word(m[0])) out.push(id);
    });
    return out;
  }

  /** Bytes of an unfinished UTF-8 character decode to U+FFFD until the rest arrives. */
  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      const t = Number.isInteger(id) ? this.tokens[id] : undefined;
      if (t === undefined) throw new RangeError(`decode: ids must be in [0, ${this.vocabSize}), got ${String(id)}`);
      if (this.specials.includes(t)) for (const b of this.utf8.encode(t)) bytes.push(b);
      else for (const ch of t) bytes.push(this.alphabet.dec.get(ch) ?? 0x3f);
    }
    return new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
  }

  /** BPE of one pre-token: merge the best-ranked adjacent pair until none is in the merge list. */
  private word(w: string): number[] {
    const hit = this.cache.get(w);
    if (hit) return hit;
    let syms = Array.from(this.utf8.encode(w), (b) => this.alphabet.enc[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.ranks.get(`${syms[i]} ${syms[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const a = syms[best]!;
      const b = syms[best + 1]!;
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(syms[i]!);
      }
      syms = next;
    }
    const ids = syms.map((s) => {
      const id = this.ids.get(s);
      if (id === undefined) throw new RangeError(`encode: the vocabulary has no token for '${s}'`);
      return id;
    });
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(w, ids);
    return ids;
  }
}
