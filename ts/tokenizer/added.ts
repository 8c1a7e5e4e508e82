// Added and special tokens: matched in the raw text before normalization and never split.
// Not the model vocabulary.

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** Swallow whitespace on the left / right of the match. */
  lstrip: boolean;
  rstrip: boolean;
  /** Match only as a whole word. */
  singleWord: boolean;
}

export type Segment = { id: -1; start: number; end: number } | { id: number; start: number; end: number };

const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}]/u;
const SPACE = /\s/u;

export class AddedTokens {
  private readonly re: RegExp | null;
  readonly byContent = new Map<string, AddedToken>();
  readonly byId = new Map<number, AddedToken>();

  constructor(readonly list: readonly AddedToken[]) {
    for (const t of list) { this.byContent.set(t.content, t); this.byId.set(t.id, t); }
    const contents = list.map((t) => t.content).filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
    // One alternation, longest first, compiled once: the leftmost match wins, then the longest.
    this.re = contents.length === 0 ? null : new RegExp(contents.map((c) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'gu');
  }

  /** Splits text into plain segments (id -1) and added-token segments. */
  split(text: string): Segment[] {
    if (this.re === null) return [{ id: -1, start: 0, end: text.length }];
    const out: Segment[] = [];
    let last = 0;
    const re = this.re;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const tok = this.byContent.get(m[0])!;
      let s = m.index;
      let e = s + m[0].length;
      if (tok.singleWord && ((s > 0 && WORD_CHAR.test(charBefore(text, s))) || (e < text.length && WORD_CHAR.test(charAt(text, e))))) {
        re.lastIndex = s + 1;
        continue;
      }
      if (tok.lstrip) while (s > last && SPACE.test(text[s - 1]!)) s--;
      if (tok.rstrip) while (e < text.length && SPACE.test(text[e]!)) e++;
      if (s > last) out.push({ id: -1, start: last, end: s });
      out.push({ id: tok.id, start: s, end: e });
      last = e;
      re.lastIndex = e;
    }
    if (last < text.length) out.push({ id: -1, start: last, end: text.length });
    return out;
  }
}

function charBefore(t: string, i: number): string {
  const c = t.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && i >= 2 ? t.slice(i - 2, i) : t[i - 1]!;
}

function charAt(t: string, i: number): string {
  return String.fromCodePoint(t.codePointAt(i)!);
}
