// Incremental text for generated ids: holds back bytes of an unfinished UTF-8 character and any
// tail that could still become a stop string. Not a tokenizer: it only calls decode().

export interface TextDecoderLike {
  decode(ids: readonly number[]): string;
}

export interface TextStep {
  /** newly releasable text */
  delta: string;
  /** set when a stop string completed: the text before it is final */
  stopped?: string;
}

/**
 * Tracks the decoded text of the generated ids. Stop strings may span token boundaries, so
 * each step re-decodes the ids and searches the region that could contain a new match.
 */
export class GeneratedText {
  private readonly ids: number[] = [];
  private text = '';
  private released = 0;
  private readonly maxStop: number;

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
    this.text = this.tokenizer.decode(this.ids);
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
    const delta = this.text.slice(this.released);
    this.released = this.text.length;
    return delta;
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
