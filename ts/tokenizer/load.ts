// Reads a Hugging Face tokenizer.json into a Tokenizer, checking every field it uses.
// Not the GPT-2 vocab.json/merges.txt layout (gpt2.ts) or GGUF metadata (gguf.ts).
import { AddedTokens, type AddedToken } from './added.js';
import { BpeModel, modelFields } from './bpe.js';
import { buildDecoder } from './decoders.js';
import { TokenizerFormatError, asArray, asBool, asId, asNumber, asObject, asString, opt, req, typeOf, unknownType, type JsonObject } from './json.js';
import type { Model } from './model.js';
import { buildNormalizer } from './normalizers.js';
import { buildPostProcessor } from './postprocessors.js';
import { buildPreTokenizer } from './pretokenizers.js';
import { Tokenizer } from './tokenizer.js';
import { UnigramModel } from './unigram.js';
import { WordPieceModel } from './wordpiece.js';

/** Parses tokenizer.json text (or its already-parsed object). */
export function tokenizerFromJSON(source: string | object): Tokenizer {
  let root: unknown = source;
  if (typeof source === 'string') {
    try {
      root = JSON.parse(source);
    } catch (e) {
      throw new TokenizerFormatError('tokenizer.json', `not valid JSON: ${(e as Error).message}`);
    }
  }
  const o = asObject(root, 'tokenizer.json');
  if (o.model === undefined || o.model === null) throw new TokenizerFormatError('model', 'missing');
  const preTokenizer = buildPreTokenizer(o.pre_tokenizer, 'pre_tokenizer');
  const decoderJson = o.decoder;
  const byteLevelDecoder = typeof decoderJson === 'object' && decoderJson !== null && !Array.isArray(decoderJson) && decoderJson.type === 'ByteLevel';
  const model = buildModel(o.model, 'model', preTokenizer?.byteLevel === true || byteLevelDecoder);
  const added = readAddedTokens(o.added_tokens, 'added_tokens');
  return new Tokenizer({
    model,
    normalizer: buildNormalizer(o.normalizer, 'normalizer'),
    preTokenizer,
    postProcessor: buildPostProcessor(o.post_processor, 'post_processor'),
    decoder: buildDecoder(decoderJson, 'decoder'),
    byteLevelDecoder,
    added,
  });
}

function readAddedTokens(v: unknown, path: string): AddedTokens {
  if (v === undefined || v === null) return new AddedTokens([]);
  const list: AddedToken[] = asArray(v, path).map((x, i) => {
    const p = `${path}[${i}]`;
    const t = asObject(x, p);
    return {
      id: req(t, 'id', p, asId),
      content: req(t, 'content', p, asString),
      special: opt(t, 'special', p, asBool, false),
      lstrip: opt(t, 'lstrip', p, asBool, false),
      rstrip: opt(t, 'rstrip', p, asBool, false),
      singleWord: opt(t, 'single_word', p, asBool, false),
    };
  });
  return new AddedTokens(list);
}

/** token -> id map and the id -> token table; ids must be unique. */
export function readVocabMap(v: unknown, path: string): { vocab: Map<string, number>; ids: string[] } {
  const o = asObject(v, path);
  const vocab = new Map<string, number>();
  const ids: string[] = [];
  for (const [tok, idv] of Object.entries(o)) {
    const id = asId(idv, `${path}[${JSON.stringify(tok)}]`);
    if (ids[id] !== undefined) throw new TokenizerFormatError(`${path}[${JSON.stringify(tok)}]`, `id ${id} is already used by '${ids[id]}'`);
    vocab.set(tok, id);
    ids[id] = tok;
  }
  return { vocab, ids };
}

function readMerges(v: unknown, path: string): [string, string][] {
  return asArray(v, path).map((m, i) => {
    if (typeof m === 'string') {
      const sp = m.indexOf(' ', 1);
      if (sp < 0 || m.indexOf(' ', sp + 1) >= 0) throw new TokenizerFormatError(`${path}[${i}]`, `expected "left right", got ${JSON.stringify(m)}`);
      return [m.slice(0, sp), m.slice(sp + 1)];
    }
    const a = asArray(m, `${path}[${i}]`);
    if (a.length !== 2) throw new TokenizerFormatError(`${path}[${i}]`, 'expected a pair [left, right]');
    return [asString(a[0], `${path}[${i}][0]`), asString(a[1], `${path}[${i}][1]`)];
  });
}

const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram'] as const;

function buildModel(v: unknown, path: string, byteLevel: boolean): Model {
  const o: JsonObject = asObject(v, path);
  // Files written by older versions leave out the type; the fields tell the model apart.
  const type = o.type !== undefined ? typeOf(o, path) : o.merges !== undefined ? 'BPE' : Array.isArray(o.vocab) ? 'Unigram' : 'WordPiece';
  switch (type) {
    case 'BPE': {
      const { vocab, ids } = readVocabMap(req(o, 'vocab', path, asObject), `${path}.vocab`);
      const merges = readMerges(req(o, 'merges', path, asArray), `${path}.merges`);
      if (opt(o, 'dropout', path, asNumber, 0) !== 0) throw new TokenizerFormatError(`${path}.dropout`, 'BPE dropout is a training feature and is not supported for inference');
      return new BpeModel(vocab, ids, merges, {
        byteLevel,
        unkToken: opt<string | null>(o, 'unk_token', path, asString, null),
        continuingSubwordPrefix: opt<string | null>(o, 'continuing_subword_prefix', path, asString, null),
        endOfWordSuffix: opt<string | null>(o, 'end_of_word_suffix', path, asString, null),
        fuseUnk: opt(o, 'fuse_unk', path, asBool, false),
        byteFallback: opt(o, 'byte_fallback', path, asBool, false),
        ignoreMerges: opt(o, 'ignore_merges', path, asBool, false),
      }, modelFields(path));
    }
    case 'WordPiece': {
      const { vocab, ids } = readVocabMap(req(o, 'vocab', path, asObject), `${path}.vocab`);
      return new WordPieceModel(vocab, ids, opt(o, 'unk_token', path, asString, '[UNK]'), opt(o, 'continuing_subword_prefix', path, asString, '##'),
        opt(o, 'max_input_chars_per_word', path, asNumber, 100), path);
    }
    case 'Unigram': {
      const list = req(o, 'vocab', path, asArray);
      const pieces: string[] = [];
      const scores = new Float64Array(list.length);
      list.forEach((e, i) => {
        const p = `${path}.vocab[${i}]`;
        const a = asArray(e, p);
        if (a.length !== 2) throw new TokenizerFormatError(p, 'expected [piece, score]');
        pieces.push(asString(a[0], `${p}[0]`));
        scores[i] = asNumber(a[1], `${p}[1]`);
      });
      const unkId = opt<number | null>(o, 'unk_id', path, asId, null);
      if (unkId === null) throw new TokenizerFormatError(`${path}.unk_id`, 'missing (a Unigram model needs an unknown token)');
      return new UnigramModel(pieces, scores, unkId, opt(o, 'byte_fallback', path, asBool, false), path);
    }
    default: throw unknownType(path, type, MODEL_TYPES);
  }
}
