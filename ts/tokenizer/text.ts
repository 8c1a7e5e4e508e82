// Text with alignment: a normalized or pre-tokenized piece that remembers which span of the
// caller's original string each UTF-16 unit came from. Not a normalizer itself.

/**
 * A piece of text and its alignment to the original input. When `starts` is null the piece is
 * an unmodified slice of the input beginning at `offset`, and unit i spans [offset+i, offset+i+1).
 * Otherwise unit i spans [starts[i], ends[i]) of the original string.
 */
export interface Piece {
  text: string;
  offset: number;
  starts: number[] | null;
  ends: number[] | null;
  /** Nobody will ask for offsets: builders skip the alignment arrays (ids-only encoding). */
  noAlign?: boolean;
}

export function wholePiece(text: string, offset = 0, noAlign = false): Piece {
  return { text, offset, starts: null, ends: null, noAlign };
}

/** The sub-piece covering units [a, b). */
export function slicePiece(p: Piece, a: number, b: number): Piece {
  if (p.starts === null || p.ends === null) return { text: p.text.slice(a, b), offset: p.offset + a, starts: null, ends: null, noAlign: p.noAlign === true };
  return { text: p.text.slice(a, b), offset: p.starts[a] ?? p.offset, starts: p.starts.slice(a, b), ends: p.ends.slice(a, b) };
}

/** Original span of units [a, b) of the piece; an empty range maps to an empty span. */
export function pieceSpan(p: Piece, a: number, b: number): [number, number] {
  if (p.starts === null || p.ends === null) return [p.offset + a, p.offset + b];
  if (b <= a) {
    const at = a < p.starts.length ? p.starts[a]! : (p.ends[p.ends.length - 1] ?? p.offset);
    return [at, at];
  }
  return [p.starts[a]!, p.ends[b - 1]!];
}

const CHUNK_UNITS = 1 << 16;

/** Builds a new piece unit by unit, carrying each output unit's original span. */
export class PieceBuilder {
  // The text so far: `chunks` joined, then `parts`. Parts are joined into a chunk every
  // CHUNK_UNITS units, so a long text rewritten in many small parts never holds one string
  // object per part (tens of bytes each) but about the text itself.
  private chunks: string[] = [];
  private parts: string[] = [];
  private partUnits = 0;
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  private readonly track: boolean;

  /** `src`: the piece being rewritten; its noAlign flag carries over. */
  constructor(src: Piece) {
    this.track = src.noAlign !== true;
  }

  /** Appends `s`, every unit of which came from the original span [start, end). */
  push(s: string, start: number, end: number): void {
    this.part(s);
    if (!this.track) return;
    for (let i = 0; i < s.length; i++) { this.starts.push(start); this.ends.push(end); }
  }

  /** Appends units [a, b) of `p` unchanged. */
  copy(p: Piece, a: number, b: number): void {
    if (b <= a) return;
    this.part(a === 0 && b === p.text.length ? p.text : p.text.slice(a, b));
    if (!this.track) return;
    for (let i = a; i < b; i++) {
      if (p.starts === null || p.ends === null) { this.starts.push(p.offset + i); this.ends.push(p.offset + i + 1); } else { this.starts.push(p.starts[i]!); this.ends.push(p.ends[i]!); }
    }
  }

  build(fallbackOffset: number): Piece {
    const text = this.chunks.length === 0 ? this.parts.join('') : this.chunks.join('') + this.parts.join('');
    if (!this.track) return { text, offset: fallbackOffset, starts: null, ends: null, noAlign: true };
    return { text, offset: this.starts[0] ?? fallbackOffset, starts: this.starts, ends: this.ends };
  }

  private part(s: string): void {
    this.parts.push(s);
    this.partUnits += s.length;
    if (this.partUnits < CHUNK_UNITS) return;
    this.chunks.push(this.parts.join(''));
    this.parts = [];
    this.partUnits = 0;
  }
}

/**
 * Rewrites a piece one code point at a time; `f` returns the replacement (or the same string).
 * Returns the input object when nothing changed, so unmodified text keeps its cheap alignment.
 */
export function mapCodePoints(p: Piece, f: (ch: string, cp: number) => string): Piece {
  const t = p.text;
  let changed = -1;
  for (let i = 0; i < t.length;) {
    const cp = t.codePointAt(i)!;
    const ch = cp > 0xffff ? t.slice(i, i + 2) : t[i]!;
    if (f(ch, cp) !== ch) { changed = i; break; }
    i += ch.length;
  }
  if (changed < 0) return p;
  const b = new PieceBuilder(p);
  // Unchanged characters are copied in runs, not one part each: a part per character of a long
  // text costs tens of bytes per character.
  let run = 0;
  for (let i = changed; i < t.length;) {
    const cp = t.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    const ch = t.slice(i, i + n);
    const r = f(ch, cp);
    if (r !== ch) {
      if (run < i) b.copy(p, run, i);
      const [s, e] = pieceSpan(p, i, i + n);
      b.push(r, s, e);
      run = i + n;
    }
    i += n;
  }
  if (run < t.length) b.copy(p, run, t.length);
  return b.build(p.offset);
}
