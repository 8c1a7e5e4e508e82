// The contract between the tokenizer pipeline and its models (BPE, WordPiece, Unigram).
// Not an implementation: see bpe.ts, wordpiece.ts, unigram.ts.

export interface Model {
  readonly kind: 'BPE' | 'WordPiece' | 'Unigram';
  /** Number of ids the model owns (added tokens may extend past it). */
  readonly size: number;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Appends the ids of one pre-tokenized word to `out`. */
  encodeWord(word: string, out: number[]): void;
  /** Same ids as encodeWord, plus each token's UTF-16 span [starts[i], ends[i]) inside `word`. */
  encodeWordSpans(word: string, ids: number[], starts: number[], ends: number[]): void;
}

/** A bounded memo of word -> ids: cleared when full, so memory stays flat on endless input. */
export class WordCache {
  private map = new Map<string, readonly number[]>();
  constructor(private readonly capacity = 1 << 16, readonly maxWordLength = 256) {}

  get(word: string): readonly number[] | undefined {
    return this.map.get(word);
  }

  set(word: string, ids: readonly number[]): void {
    if (word.length > this.maxWordLength) return;
    if (this.map.size >= this.capacity) this.map.clear();
    this.map.set(word, ids);
  }
}
