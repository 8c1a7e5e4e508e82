// Decoders from tokenizer.json (ByteLevel, WordPiece, Metaspace, ByteFallback, Fuse, Strip,
// Replace, BPEDecoder, Sequence): token strings back to text. Not id lookup or streaming.
import { CHAR_TO_BYTE, parseByteToken, utf8Decoder, utf8Encoder } from './bytes.js';
import { asArray, asBool, asNumber, asObject, asString, opt, readPattern, req, typeOf, unknownType } from './json.js';
import { readPrependScheme } from './pretokenizers.js';

/** Maps the token list to a new token list; the tokenizer joins the final list. */
export type Decoder = (tokens: string[]) => string[];

/** Bytes a byte-level token stands for; characters outside the alphabet pass as their UTF-8. */
export function byteLevelBytes(token: string, out: number[]): void {
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c]! : -1;
    if (b >= 0) { out.push(b); continue; }
    const cp = token.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    for (const x of utf8Encoder.encode(token.slice(i, i + w))) out.push(x);
    i += w - 1;
  }
}

export const byteLevelDecoder: Decoder = (tokens) => {
  const bytes: number[] = [];
  for (const t of tokens) byteLevelBytes(t, bytes);
  return [utf8Decoder.decode(Uint8Array.from(bytes))];
};

export function wordPieceDecoder(prefix: string, cleanup: boolean): Decoder {
  return (tokens) => tokens.map((t, i) => {
    // The first token keeps a leading prefix, as the reference does.
    let s = i === 0 ? t : t.startsWith(prefix) ? t.slice(prefix.length) : ` ${t}`;
    if (cleanup) s = cleanupTokenization(s);
    return s;
  });
}

/** BERT's detokenization cleanup: no space before punctuation and common contractions. */
export function cleanupTokenization(s: string): string {
  return s.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',').replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(' do not', " don't").replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
}

export function metaspaceDecoder(replacement: string, stripFirst: boolean): Decoder {
  // The reference drops every replacement character of the first token when it prepends one.
  return (tokens) => tokens.map((t, i) => t.replaceAll(replacement, i === 0 && stripFirst ? '' : ' '));
}

/** Runs of <0xNN> tokens become their UTF-8 text; an invalid run gives one U+FFFD per byte. */
export const byteFallbackDecoder: Decoder = (tokens) => {
  const out: string[] = [];
  let run: number[] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    const bytes = Uint8Array.from(run);
    const strict = tryDecode(bytes);
    if (strict !== null) out.push(strict); else for (let i = 0; i < run.length; i++) out.push('\ufffd');
    run = [];
  };
  for (const t of tokens) {
    const b = parseByteToken(t);
    if (b >= 0) run.push(b);
    else { flush(); out.push(t); }
  }
  flush();
  return out;
};

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function tryDecode(bytes: Uint8Array): string | null {
  try { return strictDecoder.decode(bytes); } catch { return null; }
}

export const fuseDecoder: Decoder = (tokens) => [tokens.join('')];

export function stripDecoder(content: string, start: number, stop: number): Decoder {
  return (tokens) => tokens.map((t) => {
    const cs = [...t];
    let a = 0;
    while (a < start && a < cs.length && cs[a] === content) a++;
    let e = cs.length;
    while (cs.length - e < stop && e > a && cs[e - 1] === content) e--;
    return cs.slice(a, e).join('');
  });
}

function replaceDecoder(pattern: RegExp, content: string): Decoder {
  return (tokens) => tokens.map((t) => t.replace(pattern, content));
}

function bpeDecoder(suffix: string): Decoder {
  return (tokens) => tokens.map((t, i) => t.replaceAll(suffix, i === tokens.length - 1 ? '' : ' '));
}

const TYPES = ['ByteLevel', 'WordPiece', 'Metaspace', 'ByteFallback', 'Fuse', 'Strip', 'Replace', 'BPEDecoder', 'Sequence'] as const;

export function buildDecoder(v: unknown, path: string): Decoder | null {
  if (v === null || v === undefined) return null;
  const o = asObject(v, path);
  const type = typeOf(o, path);
  switch (type) {
    case 'ByteLevel': return byteLevelDecoder;
    case 'WordPiece': return wordPieceDecoder(opt(o, 'prefix', path, asString, '##'), opt(o, 'cleanup', path, asBool, true));
    case 'Metaspace': return metaspaceDecoder(req(o, 'replacement', path, asString), readPrependScheme(o, path) !== 'never');
    case 'ByteFallback': return byteFallbackDecoder;
    case 'Fuse': return fuseDecoder;
    case 'Strip': return stripDecoder(req(o, 'content', path, asString), opt(o, 'start', path, asNumber, 0), opt(o, 'stop', path, asNumber, 0));
    case 'Replace': return replaceDecoder(req(o, 'pattern', path, (x, p) => readPattern(x, p, 'gu')), req(o, 'content', path, asString));
    case 'BPEDecoder': return bpeDecoder(opt(o, 'suffix', path, asString, '</w>'));
    case 'Sequence': {
      const list = req(o, 'decoders', path, asArray).map((x, i) => buildDecoder(x, `${path}.decoders[${i}]`)).filter((x): x is Decoder => x !== null);
      return (tokens) => list.reduce((ts, d) => d(ts), tokens);
    }
    default: throw unknownType(path, type, TYPES);
  }
}
