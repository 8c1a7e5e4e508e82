// Post-processors from tokenizer.json (TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel, Sequence): special tokens around sequences and offset trimming. Not splitting text.
import { asArray, asBool, asId, asNumber, asObject, asString, opt, req, typeOf, unknownType, TokenizerFormatError, type JsonObject } from './json.js';

/** One encoded sequence. offsets: (N, 2) UTF-16 spans in the input text. */
export interface Encoding {
  ids: number[];
  offsets: [number, number][];
  /** 1 where the post-processor inserted a special token. */
  specialTokensMask: number[];
  typeIds: number[];
  /** Token strings, used to trim offsets; filled by the tokenizer. */
  tokens: string[];
  /**
   * Set on windows that truncation cut off: the type id the reference leaves them (the index of
   * their sequence, 0 or 1), because TemplateProcessing relabels only the kept windows.
   */
  overflowTypeId?: number;
}

export type PostProcessor = (a: Encoding, b: Encoding | null, addSpecial: boolean) => Encoding;

export function emptyEncoding(): Encoding {
  return { ids: [], offsets: [], specialTokensMask: [], typeIds: [], tokens: [] };
}

type Item = { special: true; name: string; typeId: number } | { special: false; seq: 'A' | 'B'; typeId: number };

function append(out: Encoding, e: Encoding, typeId: number): void {
  for (let i = 0; i < e.ids.length; i++) {
    out.ids.push(e.ids[i]!); out.offsets.push(e.offsets[i]!); out.specialTokensMask.push(e.specialTokensMask[i]!);
    out.typeIds.push(typeId); out.tokens.push(e.tokens[i]!);
  }
}

function appendSpecial(out: Encoding, ids: readonly number[], tokens: readonly string[], typeId: number): void {
  ids.forEach((id, i) => { out.ids.push(id); out.offsets.push([0, 0]); out.specialTokensMask.push(1); out.typeIds.push(typeId); out.tokens.push(tokens[i] ?? ''); });
}

function plain(a: Encoding, b: Encoding | null): Encoding {
  const out = emptyEncoding();
  append(out, a, 0);
  if (b) append(out, b, 1);
  return out;
}

function template(single: Item[], pair: Item[], specials: Map<string, { ids: number[]; tokens: string[] }>, keepOverflowTypes: boolean): PostProcessor {
  return (a, b, addSpecial) => {
    const out = emptyEncoding();
    // Without special tokens the sequences still take the template's type ids, as in the
    // reference (so RoBERTa's and XLM-R's second sequence stays type 0).
    for (const it of b ? pair : single) {
      if (it.special) { if (addSpecial) { const s = specials.get(it.name)!; appendSpecial(out, s.ids, s.tokens, it.typeId); } } else {
        const seq = it.seq === 'A' ? a : b;
        if (seq) append(out, seq, keepOverflowTypes && seq.overflowTypeId !== undefined ? seq.overflowTypeId : it.typeId);
      }
    }
    return out;
  };
}

/**
 * Moves each token's span past the spaces its string starts or ends with (byte-level 'Ġ').
 * With `addPrefixSpace`, a single leading space on the first token was added by the
 * pre-tokenizer and is not in the text, so it is left alone, as the reference does.
 */
export function trimOffsets(e: Encoding, addPrefixSpace = false): Encoding {
  e.offsets = e.offsets.map((o, i) => {
    const t = e.tokens[i] ?? '';
    if (e.specialTokensMask[i] === 1) return o;
    let lead = 0;
    while (lead < t.length && isSpaceChar(t.charCodeAt(lead))) lead++;
    // Counted over the whole token, independently of `lead`, as the reference does.
    let trail = 0;
    while (trail < t.length && isSpaceChar(t.charCodeAt(t.length - 1 - trail))) trail++;
    if (addPrefixSpace && lead === 1 && (i === 0 || o[0] === 0)) lead = 0;
    const s = Math.min(o[0] + lead, o[1]);
    return [s, trail > 0 && o[1] >= trail ? Math.max(o[1] - trail, s) : o[1]];
  });
  return e;
}

function isSpaceChar(c: number): boolean {
  return c === 0x120 || c === 0x20 || c === 9 || c === 10 || c === 13;
}

function readItems(v: unknown, path: string, specials: Map<string, unknown>): Item[] {
  return asArray(v, path).map((x, i) => {
    const p = `${path}[${i}]`;
    const o = asObject(x, p);
    if (o.SpecialToken !== undefined) {
      const s = asObject(o.SpecialToken, `${p}.SpecialToken`);
      const name = req(s, 'id', `${p}.SpecialToken`, asString);
      if (!specials.has(name)) throw new TokenizerFormatError(`${p}.SpecialToken.id`, `'${name}' is not in special_tokens`);
      return { special: true, name, typeId: opt(s, 'type_id', `${p}.SpecialToken`, asNumber, 0) };
    }
    if (o.Sequence !== undefined) {
      const s = asObject(o.Sequence, `${p}.Sequence`);
      const seq = req(s, 'id', `${p}.Sequence`, asString);
      if (seq !== 'A' && seq !== 'B') throw new TokenizerFormatError(`${p}.Sequence.id`, `expected 'A' or 'B', got '${seq}'`);
      return { special: false, seq, typeId: opt(s, 'type_id', `${p}.Sequence`, asNumber, 0) };
    }
    throw new TokenizerFormatError(p, 'expected { SpecialToken } or { Sequence }');
  });
}

function readPairToken(o: JsonObject, key: string, path: string): { ids: number[]; tokens: string[] } {
  const a = req(o, key, path, asArray);
  if (a.length !== 2) throw new TokenizerFormatError(`${path}.${key}`, 'expected [token, id]');
  return { tokens: [asString(a[0], `${path}.${key}[0]`)], ids: [asId(a[1], `${path}.${key}[1]`)] };
}

const TYPES = ['TemplateProcessing', 'BertProcessing', 'RobertaProcessing', 'ByteLevel', 'Sequence'] as const;

export function buildPostProcessor(v: unknown, path: string): PostProcessor | null {
  if (v === null || v === undefined) return null;
  const o = asObject(v, path);
  const type = typeOf(o, path);
  switch (type) {
    case 'TemplateProcessing': {
      const specials = new Map<string, { ids: number[]; tokens: string[] }>();
      const so = opt(o, 'special_tokens', path, asObject, {});
      for (const [name, sv] of Object.entries(so)) {
        const sp = `${path}.special_tokens.${name}`;
        const s = asObject(sv, sp);
        specials.set(name, { ids: req(s, 'ids', sp, asArray).map((x, i) => asId(x, `${sp}.ids[${i}]`)), tokens: opt(s, 'tokens', sp, asArray, []).map((x, i) => asString(x, `${sp}.tokens[${i}]`)) });
      }
      const single = readItems(req(o, 'single', path, asArray), `${path}.single`, specials);
      const pair = readItems(opt(o, 'pair', path, asArray, []), `${path}.pair`, specials);
      return template(single, pair, specials, true);
    }
    case 'BertProcessing': case 'RobertaProcessing': {
      const cls = readPairToken(o, 'cls', path);
      const sep = readPairToken(o, 'sep', path);
      const roberta = type === 'RobertaProcessing';
      const trim = roberta && opt(o, 'trim_offsets', path, asBool, true);
      const prefix = roberta && opt(o, 'add_prefix_space', path, asBool, true);
      const m = new Map([['cls', cls], ['sep', sep]]);
      const single: Item[] = [{ special: true, name: 'cls', typeId: 0 }, { special: false, seq: 'A', typeId: 0 }, { special: true, name: 'sep', typeId: 0 }];
      const pair: Item[] = roberta
        ? [...single, { special: true, name: 'sep', typeId: 0 }, { special: false, seq: 'B', typeId: 0 }, { special: true, name: 'sep', typeId: 0 }]
        : [...single, { special: false, seq: 'B', typeId: 1 }, { special: true, name: 'sep', typeId: 1 }];
      // Both relabel overflowing windows themselves (BERT: 0 and 1, RoBERTa: 0), as the template order says.
      const t = template(single, pair, m, false);
      return trim ? (a, b, add) => t(trimOffsets(a, prefix), b ? trimOffsets(b, prefix) : null, add) : t;
    }
    case 'ByteLevel': {
      const trim = opt(o, 'trim_offsets', path, asBool, true);
      const prefix = opt(o, 'add_prefix_space', path, asBool, true);
      return (a, b) => (trim ? plain(trimOffsets(a, prefix), b ? trimOffsets(b, prefix) : null) : plain(a, b));
    }
    case 'Sequence': {
      const list = req(o, 'processors', path, asArray).map((x, i) => buildPostProcessor(x, `${path}.processors[${i}]`)).filter((x): x is PostProcessor => x !== null);
      // Earlier processors (offset trimming in practice) treat each sequence on its own; the
      // last one sees the pair and joins it, as the reference's encoding list does.
      return (a, b, add) => {
        let x = a;
        let y = b;
        for (let i = 0; i + 1 < list.length; i++) { x = list[i]!(x, null, add); y = y === null ? null : list[i]!(y, null, add); }
        const last = list[list.length - 1];
        return last === undefined ? plain(x, y) : last(x, y, add);
      };
    }
    default: throw unknownType(path, type, TYPES);
  }
}
