// Incremental text for generated ids: holds back bytes of an unfinished UTF-8 character and any
// tail that could still become a stop string. Not a tokenizer: it only calls decode().

export interface TextDecoderLike {
  decode(ids: readonly number[]): string;
}

/** Most bytes of one UTF-8 character: ids that end in an unfinished one wait at most this many ids. */
const kMaxCharBytes = 4;

export interface TextStep {
  /** newly releasable text */
  delta: string;
  /** set when a stop string completed: the text before it is final */
  stopped?: string;
}

/**
 * Tracks the decoded text of the generated ids. Each step decodes only a short window of ids
 * (what the previous step's text ended on, plus the new id), not all of them again, and keeps
 * the difference; stop strings may span token boundaries, so each step searches the region of
 * the text that could hold a new match.
 */
export class GeneratedText {
  private readonly ids: number[] = [];
  private text = '';
  private released = 0;
  private readonly maxStop: number;
  /**
   * Window of the incremental decode: ids [prefixStart, readStart) decoded to text that is
   * already in `text`; decoding [prefixStart, end) and removing that prefix gives the new text.
   * Starting the window a token early keeps what decoders do at the start of a text (drop a
   * leading space, merge '##' pieces) from leaking into the middle of it.
   */
  private prefixStart = 0;
  private readStart = 0;

  constructor(private readonly tokenizer: TextDecoderLike, private readonly stops: readonly string[]) {
    for (const s of stops) if (typeof s !== 'string' || s.length === 0) throw new RangeError(`'stop' entries must be non-empty strings, got ${JSON.stringify(s)}`);
    this.maxStop = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /** The text released so far. */
  get output(): string {
    return this.text.slice(0, this.released);
  }

  push(id: number): TextStep {
    this.ids.push(id);
    const prevLen = this.text.length;
    this.text += this.decodeNew();
    // Search from where a stop string ending in the new text could begin.
    const from = Math.max(0, Math.min(prevLen, this.released) - this.maxStop + 1);
    let cut = -1;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, from);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const delta = this.text.slice(this.released, cut);
      this.released = cut;
      return { delta, stopped: this.text.slice(0, cut) };
    }
    let end = this.text.length;
    // An unfinished multi-byte character decodes to U+FFFD at the end; wait for its other bytes.
    while (end > this.released && this.text.charCodeAt(end - 1) === 0xfffd) end--;
    end -= this.pendingStopPrefix(end);
    const delta = this.text.slice(this.released, end);
    this.released = end;
    return { delta };
  }

  /** Everything not yet released (at the end of generation nothing more can complete a stop). */
  flush(): string {
    // Once per request the whole text is decoded, so that the result is exactly decode(ids)
    // even where a decoder treats the window's edges differently, and held-back ids count.
    const full = this.tokenizer.decode(this.ids);
    if (full.startsWith(this.text.slice(0, this.released))) this.text = full;
    else this.text += this.decodeNew(true);
    const delta = this.text.slice(this.released);
    this.released = this.text.length;
    return delta;
  }

  /**
   * The text the ids since the last complete step add. While they end in an unfinished UTF-8
   * character (decoded as U+FFFD) they wait for the next id, up to the 4 bytes a character
   * can take; `final` takes them as they are.
   */
  private decodeNew(final = false): string {
    const before = this.tokenizer.decode(this.ids.slice(this.prefixStart, this.readStart));
    const now = this.tokenizer.decode(this.ids.slice(this.prefixStart));
    if (!final && now.endsWith('\ufffd') && this.ids.length - this.readStart < kMaxCharBytes) return '';
    this.prefixStart = this.readStart;
    this.readStart = this.ids.length;
    if (now.startsWith(before)) return now.slice(before.length);
    // The decoder rewrote the window's start (rare): take the new text from the whole decode.
    const full = this.tokenizer.decode(this.ids);
    return full.startsWith(this.text) ? full.slice(this.text.length) : '';
  }

  /** Length of the longest tail of text[0, end) that is a proper prefix of some stop string. */
  private pendingStopPrefix(end: number): number {
    let best = 0;
    for (const s of this.stops)
      for (let k = Math.min(s.length - 1, end - this.released); k > best; k--)
        if (this.text.startsWith(s.slice(0, k), end - k)) {
          best = k;
          break;
        }
    return best;
  }
}
