// WordPiece: greedy longest-match-first over a vocabulary with a continuation prefix (BERT).
// Not normalization or splitting into words.
import { TokenizerFormatError } from './json.js';
import { WordCache, type Model } from './model.js';

export class WordPieceModel implements Model {
  readonly kind = 'WordPiece';
  readonly size: number;
  private readonly unkId: number;
  private readonly cache = new WordCache();
  private readonly maxTokenLength: number;

  constructor(private readonly vocab: Map<string, number>, private readonly ids: string[], unkToken: string,
    private readonly prefix: string, private readonly maxChars: number, path = 'model') {
    this.size = ids.length;
    const unk = vocab.get(unkToken);
    if (unk === undefined) throw new TokenizerFormatError(`${path}.unk_token`, `'${unkToken}' is not in the vocabulary`);
    this.unkId = unk;
    // Longest vocabulary entry in UTF-16 units bounds the search for each sub-word.
    let m = 1;
    for (const t of ids) if (t !== undefined && t.length > m) m = t.length;
    this.maxTokenLength = m;
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
      for (const id of hit) out.push(id);
      return;
    }
    const ids: number[] = [];
    this.encodeWordSpans(word, ids, [], []);
    this.cache.set(word, ids);
    for (const id of ids) out.push(id);
  }

  encodeWordSpans(word: string, ids: number[], starts: number[], ends: number[]): void {
    let chars = 0;
    for (let i = 0; i < word.length; i++) { const c = word.charCodeAt(i); if (c < 0xdc00 || c > 0xdfff) chars++; }
    if (chars > this.maxChars) { ids.push(this.unkId); starts.push(0); ends.push(word.length); return; }
    const n0 = ids.length;
    for (let start = 0; start < word.length;) {
      let found = -1;
      let end = Math.min(word.length, start + this.maxTokenLength);
      for (; end > start; end--) {
        // Never cut a surrogate pair in half.
        const c = word.charCodeAt(end - 1);
        if (end < word.length && c >= 0xd800 && c <= 0xdbff) continue;
        const sub = start > 0 ? this.prefix + word.slice(start, end) : word.slice(start, end);
        const id = this.vocab.get(sub);
        if (id !== undefined) { found = id; break; }
      }
      if (found < 0) {
        // One unmatched piece makes the whole word unknown, as in BERT.
        ids.length = n0; starts.length = n0; ends.length = n0;
        ids.push(this.unkId); starts.push(0); ends.push(word.length);
        return;
      }
      ids.push(found); starts.push(start); ends.push(end);
      start = end;
    }
  }
}
