// Truncation of one encoded sequence or a pair to a token budget, with overflowing windows
// (Hugging Face tokenizers' truncate_encodings and Encoding::truncate). Not padding.
import type { Encoding } from './postprocessors.js';

export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second';

export interface TruncationOptions {
  /** Most tokens in the result, special tokens included. */
  maxLength: number;
  /** Which sequence gives up tokens. Default 'longest_first': the longer one, then both evenly. */
  strategy?: TruncationStrategy;
  /**
   * Tokens each overflowing window repeats from the one before it. Default 0. As in the
   * reference, windows only cover the first whole words that hold maxLength tokens.
   */
  stride?: number;
  /** The end tokens are cut from. Default 'right'. */
  direction?: 'right' | 'left';
}

/** TruncationOptions with every default filled in and checked. */
export interface Truncation {
  maxLength: number;
  strategy: TruncationStrategy;
  stride: number;
  direction: 'right' | 'left';
}

const STRATEGIES: readonly TruncationStrategy[] = ['longest_first', 'only_first', 'only_second'];

function count(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`${name}: expected a non-negative integer, got ${String(v)}`);
  return v;
}

export function readTruncation(t: unknown, name = 'options.truncation'): Truncation {
  if (typeof t !== 'object' || t === null) throw new TypeError(`${name}: expected an object { maxLength, strategy?, stride?, direction? }`);
  const o = t as Record<string, unknown>;
  const strategy = o.strategy ?? 'longest_first';
  if (!(STRATEGIES as readonly unknown[]).includes(strategy)) throw new RangeError(`${name}.strategy: expected one of ${STRATEGIES.join(', ')}, got ${String(strategy)}`);
  const direction = o.direction ?? 'right';
  if (direction !== 'right' && direction !== 'left') throw new RangeError(`${name}.direction: expected 'right' or 'left', got ${String(direction)}`);
  return { maxLength: count(o.maxLength, `${name}.maxLength`), strategy: strategy as TruncationStrategy, stride: count(o.stride ?? 0, `${name}.stride`), direction };
}

/** A sequence cut to its budget: the kept window first, then the windows that did not fit. */
export interface Truncated {
  kept: Encoding;
  overflowing: Encoding[];
}

function slice(e: Encoding, a: number, b: number): Encoding {
  return { ids: e.ids.slice(a, b), offsets: e.offsets.slice(a, b), specialTokensMask: e.specialTokensMask.slice(a, b), typeIds: e.typeIds.slice(a, b), tokens: e.tokens.slice(a, b) };
}

/** Windows of at most `max` tokens stepping by max - stride, as Encoding::truncate makes them. */
function cut(e: Encoding, max: number, t: Truncation, name: string): Truncated {
  const n = e.ids.length;
  if (max >= n) return { kept: e, overflowing: [] };
  if (max === 0) return { kept: slice(e, 0, 0), overflowing: [e] };
  if (t.stride >= max) {
    throw new RangeError(`${name}.stride: ${t.stride} must be less than the ${max} tokens left for this sequence (maxLength less the special tokens)`);
  }
  const step = max - t.stride;
  const windows: Encoding[] = [];
  if (t.direction === 'right') {
    for (let a = 0; ; a += step) {
      const b = Math.min(a + max, n);
      windows.push(slice(e, a, b));
      if (b === n) break;
    }
  } else {
    for (let b = n; ; b -= step) {
      const a = Math.max(b - max, 0);
      windows.push(slice(e, a, b));
      if (a === 0) break;
    }
  }
  return { kept: windows[0]!, overflowing: windows.slice(1) };
}

/**
 * Cuts `a` (and `b`) so that together they hold at most `budget` tokens, the budget being
 * maxLength less the special tokens the post-processor will add. Throws RangeError where the
 * reference reports a truncation error.
 */
export function truncatePair(a: Encoding, b: Encoding | null, t: Truncation, budget: number, aWords: readonly number[] = [], bWords: readonly number[] = [], name = 'options.truncation'): [Truncated, Truncated | null] {
  // The reference first cuts each sequence to whole words (pre-tokenizer pieces), the fewest
  // that still hold maxLength tokens counted from the end it keeps, and forgets the rest; only
  // then does it truncate to the budget. So overflowing windows never reach past that word
  // (observed in tokenizers 0.23, matched here).
  const early = (e: Encoding, words: readonly number[]): Encoding => {
    const n = e.ids.length;
    if (n <= t.maxLength) return e;
    if (t.direction === 'right') {
      const end = words.find((w) => w >= t.maxLength) ?? n;
      return end >= n ? e : slice(e, 0, end);
    }
    let start = 0;
    for (const w of words) if (w < n && n - w >= t.maxLength) start = w;
    return start === 0 ? e : slice(e, start, n);
  };
  a = early(a, aWords);
  if (b !== null) b = early(b, bWords);
  const keep = (e: Encoding): Truncated => ({ kept: e, overflowing: [] });
  const total = a.ids.length + (b?.ids.length ?? 0);
  // A budget of nothing moves every token to the overflowing list, the reference's special case.
  if (budget === 0) return [cut(a, 0, t, name), b === null ? null : cut(b, 0, t, name)];
  if (total <= budget) return [keep(a), b === null ? null : keep(b)];
  const over = total - budget;
  if (t.strategy === 'longest_first') {
    if (b === null) return [cut(a, total - over, t, name), null];
    // The shorter sequence keeps what it has when the longer one can absorb the cut; otherwise
    // both get half the budget, the odd token going to the longer one.
    let n1 = a.ids.length;
    let n2 = b.ids.length;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
    if (n1 + n2 > budget) { n1 = Math.floor(budget / 2); n2 = n1 + (budget % 2); }
    if (swap) [n1, n2] = [n2, n1];
    return [cut(a, n1, t, name), cut(b, n2, t, name)];
  }
  if (t.strategy === 'only_second' && b === null) throw new RangeError(`${name}.strategy: 'only_second' needs a second sequence (options.pair)`);
  const target = t.strategy === 'only_first' ? a : b!;
  if (target.ids.length <= over) {
    throw new RangeError(`${name}.maxLength: ${t.maxLength} cannot be met by cutting only the ${t.strategy === 'only_first' ? 'first' : 'second'} sequence (${target.ids.length} tokens, ${over} too many)`);
  }
  const cutOne = cut(target, target.ids.length - over, t, name);
  return t.strategy === 'only_first' ? [cutOne, b === null ? null : keep(b)] : [keep(a), cutOne];
}
