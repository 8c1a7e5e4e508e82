// Byte-level helpers: the GPT-2 byte <-> printable-character alphabet and UTF-8 code.
// Not a tokenizer: callers decide which pieces of text become bytes.

/** The GPT-2 alphabet: printable bytes map to themselves, the rest to U+0100 upward. */
export const BYTE_TO_CHAR: readonly string[] = buildByteAlphabet();

/** Inverse of BYTE_TO_CHAR, indexed by code point (-1 where not in the alphabet). */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const t = new Int16Array(324).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => { t[c.charCodeAt(0)] = b; });
  return t;
})();

function buildByteAlphabet(): string[] {
  // Bytes that are already visible Latin-1 keep their code point; the others
  // are shifted past 255 in order, so every byte has a character a vocabulary can hold.
  const visible = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(visible(b) ? b : 256 + n++);
  return out;
}

export const utf8Encoder = new TextEncoder();

/** Decodes bytes as the references do: every invalid sequence becomes U+FFFD. */
export const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 length of one code point. */
export function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Parses a byte-fallback token name like `<0x0A>`; -1 when it is not one. */
export function parseByteToken(token: string): number {
  if (token.length !== 6 || !token.startsWith('<0x') || token[5] !== '>') return -1;
  const v = Number.parseInt(token.slice(3, 5), 16);
  return /^[0-9A-Fa-f]{2}$/.test(token.slice(3, 5)) ? v : -1;
}

/** Byte-fallback token name for one byte, as sentencepiece writes it. */
export function byteTokenName(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}
