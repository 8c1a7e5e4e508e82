// Streaming detokenization: ids arrive one by one, text leaves only once it is complete
// UTF-8, so a character split across tokens never prints as U+FFFD. Not batch decoding.
import { TextDecoder } from 'node:util';
import type { Tokenizer } from './tokenizer.js';

// Ids re-decoded with each new one so decoders that look at neighbours (leading-space
// rules, cleanup) see context; more than covers a 4-byte character split into bytes.
const CONTEXT = 6;
// A tail still ending in U+FFFD after this many ids is a real replacement character.
const MAX_PENDING = 8;

export class StreamDecoder {
  private readonly bytes: TextDecoder | null;
  private context: string[] = [];
  private contextText = '';
  private pending: string[] = [];

  constructor(private readonly tok: Tokenizer, private readonly skip: boolean) {
    this.bytes = tok.byteLevelDecoder ? new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }) : null;
  }

  /** Adds ids; returns the text that became complete (often '', never a partial character). */
  push(ids: number | ArrayLike<number>): string {
    const list = typeof ids === 'number' ? [ids] : ids;
    let out = '';
    for (let i = 0; i < list.length; i++) out += this.pushOne(list[i]!, i);
    return out;
  }

  private pushOne(id: number, index: number): string {
    if (this.bytes !== null) {
      // Byte-level: the WHATWG streaming decoder holds an incomplete sequence back exactly.
      const b = this.tok.bytesOf(id, index, this.skip);
      return b === null ? '' : this.bytes.decode(b, { stream: true });
    }
    const t = this.tok.tokenFor(id, index, this.skip);
    if (t === null) return '';
    this.pending.push(t);
    const text = this.tok.decodeTokens([...this.context, ...this.pending]);
    const aligned = text.startsWith(this.contextText);
    if ((text.endsWith('\ufffd') || !aligned) && this.pending.length < MAX_PENDING) return '';
    const fresh = aligned ? text.slice(this.contextText.length) : this.tok.decodeTokens(this.pending);
    this.context = [...this.context, ...this.pending].slice(-CONTEXT);
    this.contextText = this.tok.decodeTokens(this.context);
    this.pending = [];
    return fresh;
  }

  /** Ends the stream: whatever is held back, with U+FFFD for bytes that never completed. */
  flush(): string {
    if (this.bytes !== null) return this.bytes.decode();
    if (this.pending.length === 0) return '';
    const text = this.tok.decodeTokens([...this.context, ...this.pending]);
    this.pending = [];
    return text.startsWith(this.contextText) ? text.slice(this.contextText.length) : text;
  }
}
