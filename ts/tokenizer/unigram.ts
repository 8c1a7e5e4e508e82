// Unigram language-model tokenization: the best-scoring segmentation by Viterbi over the
// vocabulary's log-probabilities (sentencepiece / HF Unigram). Not training.
import { byteTokenName, utf8Encoder } from './bytes.js';
import { TokenizerFormatError } from './json.js';
import { WordCache, type Model } from './model.js';

// sentencepiece's penalty that keeps unknown characters the last resort.
const UNK_PENALTY = 10;

export class UnigramModel implements Model {
  readonly kind = 'Unigram';
  readonly size: number;
  // Pieces the segmentation may use; `all` also holds the others (control, byte ...) for lookups.
  private readonly vocab = new Map<string, number>();
  private readonly all = new Map<string, number>();
  private readonly unkScore: number;
  private readonly maxPieceUnits: number;
  private readonly cache = new WordCache();

  /**
   * `segmentable` (one flag per id), when given, limits the pieces the segmentation may use and
   * the minimum score the unknown penalty starts from: sentencepiece segments with normal pieces
   * only, while control, byte and unknown pieces keep their ids.
   */
  constructor(private readonly pieces: string[], private readonly scores: Float64Array, private readonly unkId: number,
    private readonly byteFallback: boolean, path = 'model', segmentable: Uint8Array | null = null) {
    this.size = pieces.length;
    let min = Infinity;
    let maxLen = 1;
    pieces.forEach((p, i) => {
      if (!this.all.has(p)) this.all.set(p, i);
      if (segmentable !== null && segmentable[i] !== 1) return;
      if (!this.vocab.has(p)) this.vocab.set(p, i);
      if (scores[i]! < min) min = scores[i]!;
      if (p.length > maxLen) maxLen = p.length;
    });
    if (unkId < 0 || unkId >= pieces.length) throw new TokenizerFormatError(`${path}.unk_id`, `${unkId} is outside the vocabulary (size ${pieces.length})`);
    this.unkScore = (min === Infinity ? 0 : min) - UNK_PENALTY;
    this.maxPieceUnits = maxLen;
  }

  tokenToId(token: string): number | undefined {
    return this.all.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.pieces[id];
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
    const n = word.length;
    if (n === 0) return;
    // best[e]: best score of a segmentation of word[0, e); from[e]: where its last piece starts.
    const best = new Float64Array(n + 1).fill(-Infinity);
    const from = new Int32Array(n + 1).fill(-1);
    const pieceId = new Int32Array(n + 1).fill(-1);
    best[0] = 0;
    for (let b = 0; b < n; b++) {
      if (from[b]! < 0 && b > 0) continue;
      // Begins ascend, so for a fixed end the longest piece is seen first and wins ties,
      // the order in which the reference lattice visits its nodes.
      const c = word.charCodeAt(b);
      if (c >= 0xdc00 && c <= 0xdfff && b > 0 && isHigh(word.charCodeAt(b - 1))) continue;
      const charEnd = isHigh(c) && b + 1 < n && isLow(word.charCodeAt(b + 1)) ? b + 2 : b + 1;
      let hasSingle = false;
      const limit = Math.min(n, b + this.maxPieceUnits);
      for (let e = charEnd; e <= limit; e++) {
        if (e < n && isLow(word.charCodeAt(e)) && isHigh(word.charCodeAt(e - 1))) continue;
        const id = this.vocab.get(word.slice(b, e));
        if (id === undefined) continue;
        if (e === charEnd) hasSingle = true;
        const s = best[b]! + this.scores[id]!;
        if (from[e]! < 0 || s > best[e]!) { best[e] = s; from[e] = b; pieceId[e] = id; }
      }
      if (!hasSingle) {
        const s = best[b]! + this.unkScore;
        if (from[charEnd]! < 0 || s > best[charEnd]!) { best[charEnd] = s; from[charEnd] = b; pieceId[charEnd] = -2; }
      }
    }
    const segs: [number, number, number][] = [];
    for (let e = n; e > 0; e = from[e]!) segs.push([from[e]!, e, pieceId[e]!]);
    segs.reverse();
    // Adjacent unknown characters fuse into one unknown token.
    const fused: [number, number, number][] = [];
    for (const sg of segs) {
      const last = fused[fused.length - 1];
      if (sg[2] === -2 && last !== undefined && last[2] === -2) last[1] = sg[1];
      else fused.push(sg);
    }
    for (const [a, e, id] of fused) {
      if (id >= 0) { ids.push(id); starts.push(a); ends.push(e); continue; }
      if (this.byteFallback) {
        const bytes = utf8Encoder.encode(word.slice(a, e));
        const bids = Array.from(bytes, (b) => this.all.get(byteTokenName(b)));
        if (bids.every((x) => x !== undefined)) {
          for (const x of bids) { ids.push(x!); starts.push(a); ends.push(e); }
          continue;
        }
      }
      ids.push(this.unkId); starts.push(a); ends.push(e);
    }
  }
}

function isHigh(c: number): boolean { return c >= 0xd800 && c <= 0xdbff; }
function isLow(c: number): boolean { return c >= 0xdc00 && c <= 0xdfff; }
