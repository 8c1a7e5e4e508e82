// mBART's tokenizer from its sentencepiece.bpe.model alone, as Hugging Face's MBartTokenizer and
// MBart50Tokenizer build it: fairseq's ids (<s> 0, <pad> 1, </s> 2, <unk> 3, sentencepiece piece i
// at i + 1), the language codes after the pieces, <mask> last; MBartTokenizer appends </s> and the
// source language code, MBart50Tokenizer puts the code first and </s> last. Not XLM-R (no codes).
import { AddedTokens, type AddedToken } from './added.js';
import type { Decoder } from './decoders.js';
import type { Model } from './model.js';
import type { Encoding, PostProcessor } from './postprocessors.js';
import { parseSentencePieceModel, SPM_PIECE_TYPE } from './spm-proto.js';
import { sentencePieceDecoder, sentencePieceParts } from './spm.js';
import { Tokenizer } from './tokenizer.js';

/** MBartTokenizer's FAIRSEQ_LANGUAGE_CODES (mbart-large-cc25, mbart-large-en-ro). */
export const MBART_LANGUAGE_CODES: readonly string[] = [
  'ar_AR', 'cs_CZ', 'de_DE', 'en_XX', 'es_XX', 'et_EE', 'fi_FI', 'fr_XX', 'gu_IN', 'hi_IN', 'it_IT', 'ja_XX', 'kk_KZ', 'ko_KR', 'lt_LT',
  'lv_LV', 'my_MM', 'ne_NP', 'nl_XX', 'ro_RO', 'ru_RU', 'si_LK', 'tr_TR', 'vi_VN', 'zh_CN',
];

/** MBart50Tokenizer's: the 25 above, then 27 more. */
export const MBART50_LANGUAGE_CODES: readonly string[] = [
  ...MBART_LANGUAGE_CODES,
  'af_ZA', 'az_AZ', 'bn_IN', 'fa_IR', 'he_IL', 'hr_HR', 'id_ID', 'ka_GE', 'km_KH', 'mk_MK', 'ml_IN', 'mn_MN', 'mr_IN', 'pl_PL', 'ps_AF',
  'pt_XX', 'sv_SE', 'sw_KE', 'ta_IN', 'te_IN', 'th_TH', 'tl_XX', 'uk_UA', 'ur_PK', 'xh_ZA', 'gl_ES', 'sl_SI',
];

export type MBartVariant = 'mbart' | 'mbart50';

export interface MBartOptions {
  /** 'mbart' (MBartTokenizer: A </s> <src_lang>) or 'mbart50' (MBart50Tokenizer: <src_lang> A </s>). */
  variant: MBartVariant;
  /** The source language code the post-processor adds; default 'en_XX' (as HF's). */
  srcLang?: string;
  /** The file's name in errors. */
  path?: string;
}

// fairseq's dictionary puts these four first; every sentencepiece piece moves up by one
// (the tokenizer's fairseq_offset), and sentencepiece's own <unk>, <s>, </s> are reached by name.
const FAIRSEQ_SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'] as const;
const FAIRSEQ_OFFSET = 1;
const UNK = 3;
const EOS = 2;

/** The tokenizer of an mBART checkpoint's sentencepiece.bpe.model. */
export function tokenizerFromMBart(bytes: Uint8Array, options: MBartOptions): Tokenizer {
  const path = options.path ?? 'sentencepiece.bpe.model';
  const codes = options.variant === 'mbart50' ? MBART50_LANGUAGE_CODES : MBART_LANGUAGE_CODES;
  const srcLang = options.srcLang ?? 'en_XX';
  if (!codes.includes(srcLang)) throw new RangeError(`${path}: src_lang '${srcLang}' is not one of the ${codes.length} ${options.variant === 'mbart50' ? 'MBart50Tokenizer' : 'MBartTokenizer'} language codes (${codes.join(', ')})`);
  const m = parseSentencePieceModel(bytes, path);
  const parts = sentencePieceParts(m, false, path);
  const n = m.pieces.length;
  const spmUnk = m.pieces.findIndex((p) => p.type === SPM_PIECE_TYPE.unknown);
  const codeId = (i: number): number => n + FAIRSEQ_OFFSET + i;
  const maskId = n + codes.length + FAIRSEQ_OFFSET;
  const added: AddedToken[] = [
    ...FAIRSEQ_SPECIALS.map((content, id) => ({ id, content, special: true, lstrip: false, rstrip: false, singleWord: false })),
    ...codes.map((content, i) => ({ id: codeId(i), content, special: true, lstrip: false, rstrip: false, singleWord: false })),
    // <mask> swallows the space before it (HF's AddedToken(mask_token, lstrip=True)).
    { id: maskId, content: '<mask>', special: true, lstrip: true, rstrip: false, singleWord: false },
  ];
  const lang = codeId(codes.indexOf(srcLang));
  const prefix = options.variant === 'mbart50' ? [lang] : [];
  const suffix = options.variant === 'mbart50' ? [EOS] : [EOS, lang];
  const tokenOf = (id: number): string => (id === EOS ? '</s>' : srcLang);
  const post: PostProcessor = (a, b, add) => {
    const out: Encoding = { ids: [], offsets: [], specialTokensMask: [], typeIds: [], tokens: [] };
    const special = (id: number): void => { out.ids.push(id); out.offsets.push([0, 0]); out.specialTokensMask.push(1); out.typeIds.push(0); out.tokens.push(tokenOf(id)); };
    const copy = (e: Encoding): void => {
      for (let i = 0; i < e.ids.length; i++) { out.ids.push(e.ids[i]!); out.offsets.push(e.offsets[i]!); out.specialTokensMask.push(e.specialTokensMask[i]!); out.typeIds.push(0); out.tokens.push(e.tokens[i]!); }
    };
    if (add) prefix.forEach(special);
    copy(a);
    if (b !== null) copy(b);
    if (add) suffix.forEach(special);
    return out;
  };
  const specials = new Set(added.map((t) => t.content));
  return new Tokenizer({
    model: new FairseqModel(parts.model, spmUnk, n + codes.length + 2),
    normalizer: parts.normalizer,
    preTokenizer: null,
    postProcessor: post,
    decoder: mbartDecoder(sentencePieceDecoder(m), specials),
    byteLevelDecoder: false,
    added: new AddedTokens(added),
  });
}

/** Sentencepiece's segmentation with fairseq's ids: piece i is id i + 1, the unknown piece is <unk> (3). */
class FairseqModel implements Model {
  readonly kind: 'Unigram' | 'BPE';

  constructor(private readonly spm: Model, private readonly spmUnk: number, readonly size: number) {
    this.kind = spm.kind === 'BPE' ? 'BPE' : 'Unigram';
  }

  tokenToId(token: string): number | undefined {
    const id = this.spm.tokenToId(token);
    return id === undefined ? undefined : id === this.spmUnk ? UNK : id + FAIRSEQ_OFFSET;
  }

  idToToken(id: number): string | undefined {
    // Ids below 4 are the fairseq specials (added tokens); above the pieces, codes and <mask>.
    return id > UNK ? this.spm.idToToken(id - FAIRSEQ_OFFSET) : undefined;
  }

  encodeWord(word: string, out: number[]): void {
    const n = out.length;
    this.spm.encodeWord(word, out);
    for (let i = n; i < out.length; i++) out[i] = out[i] === this.spmUnk ? UNK : out[i]! + FAIRSEQ_OFFSET;
  }

  encodeWordSpans(word: string, ids: number[], starts: number[], ends: number[]): void {
    const n = ids.length;
    this.spm.encodeWordSpans(word, ids, starts, ends);
    for (let i = n; i < ids.length; i++) ids[i] = ids[i] === this.spmUnk ? UNK : ids[i]! + FAIRSEQ_OFFSET;
  }
}

/**
 * MBart(50)Tokenizer.convert_tokens_to_string: runs of pieces go through sentencepiece's decoding;
 * a special token is written as it is, after a space unless the token before was special too;
 * the ends are trimmed. (clean_up_tokenization_spaces is not applied.)
 */
function mbartDecoder(spm: Decoder, specials: ReadonlySet<string>): Decoder {
  return (tokens) => {
    let out = '';
    let run: string[] = [];
    let prevSpecial = false;
    for (const t of tokens) {
      if (specials.has(t)) {
        if (!prevSpecial) out += ' ';
        out += spm(run).join('') + t;
        run = [];
        prevSpecial = true;
      } else {
        run.push(t);
        prevSpecial = false;
      }
    }
    out += spm(run).join('');
    return [out.trim()];
  };
}
