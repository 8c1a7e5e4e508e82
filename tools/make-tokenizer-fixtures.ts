// Makes the small tokenizer.json fixtures under test/fixtures/tokenizers/ by training with the
// Hugging Face `tokenizers` package on the committed corpus. Run: npx tsx tools/make-tokenizer-fixtures.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
// The package ships CommonJS with its own typings; only what this script calls is named here.
const hf = require('tokenizers') as typeof import('tokenizers');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpusDir = path.join(root, 'test/fixtures/tokenizer-corpus');
const outDir = path.join(root, 'test/fixtures/tokenizers');

// Training text: the committed corpus, repeated so rare scripts still earn merges.
const corpus = fs.readdirSync(corpusDir).sort().map((f) => fs.readFileSync(path.join(corpusDir, f), 'utf8')).join('\n');
const trainFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tok-')), 'train.txt');
fs.writeFileSync(trainFile, `${corpus}\n`.repeat(3));

type Json = Record<string, unknown>;

function train(tok: InstanceType<typeof hf.Tokenizer>, specials: string[]): Json {
  tok.addSpecialTokens(specials);
  tok.train([trainFile]);
  const tmp = `${trainFile}.json`;
  tok.save(tmp);
  const j = JSON.parse(fs.readFileSync(tmp, 'utf8')) as Json;
  // The binding's default trainer leaves special tokens out of the model vocabulary; real
  // checkpoints carry them in both places, so put them back at their added-token ids.
  const added = j.added_tokens as { id: number; content: string }[];
  const model = j.model as { vocab: Record<string, number> | [string, number][] };
  // Specials take ids 0..k-1 and the trained entries follow in their order.
  if (Array.isArray(model.vocab)) {
    const list = model.vocab.filter((v) => !specials.includes(v[0]));
    model.vocab = [...specials.map((s): [string, number] => [s, 0]), ...list];
  } else {
    const rest = Object.entries(model.vocab).filter(([t]) => !specials.includes(t)).sort((a, b) => a[1] - b[1]);
    model.vocab = Object.fromEntries([...specials.map((s, i): [string, number] => [s, i]), ...rest.map(([t], i): [string, number] => [t, specials.length + i])]);
  }
  added.forEach((a) => { a.id = specials.indexOf(a.content); });
  return j;
}

/** Appends sentencepiece byte pieces <0x00>..<0xFF> so unknown characters fall back to bytes. */
function byteNames(): string[] {
  return Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
}

function write(name: string, json: Json): void {
  fs.writeFileSync(path.join(outDir, name), `${JSON.stringify(json, null, 1)}\n`);
  console.log(`wrote ${name}`);
}

fs.mkdirSync(outDir, { recursive: true });

// 1. BERT-style WordPiece: BERT normalizer and pre-tokenizer, [CLS] A [SEP], WordPiece decoder.
{
  const t = new hf.Tokenizer(hf.WordPiece.empty());
  t.setNormalizer(hf.bertNormalizer({ lowercase: true }));
  t.setPreTokenizer(hf.bertPreTokenizer());
  t.setDecoder(hf.wordPieceDecoder('##', true));
  const j = train(t, ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]']);
  const vocab = (j.model as { vocab: Record<string, number> }).vocab;
  j.post_processor = { type: 'BertProcessing', sep: ['[SEP]', vocab['[SEP]']], cls: ['[CLS]', vocab['[CLS]']] };
  (j.model as Json).unk_token = '[UNK]';
  write('wordpiece-bert.json', j);
}

// 2. sentencepiece-style Unigram: NFKC, Metaspace, byte fallback, <s> A </s> template.
{
  const t = new hf.Tokenizer(hf.Unigram.empty());
  t.setNormalizer(hf.nfkcNormalizer());
  t.setPreTokenizer(hf.metaspacePreTokenizer());
  const j = train(t, ['<unk>', '<s>', '</s>']);
  const model = j.model as { vocab: [string, number][]; unk_id: number; byte_fallback: boolean };
  const min = Math.min(...model.vocab.map((v) => v[1]).filter((x) => x < 0));
  for (const b of byteNames()) model.vocab.push([b, min - 1]);
  model.unk_id = model.vocab.findIndex((v) => v[0] === '<unk>');
  model.byte_fallback = true;
  const id = (s: string): number => model.vocab.findIndex((v) => v[0] === s);
  j.post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '</s>', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [id('<s>')], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [id('</s>')], tokens: ['</s>'] } },
  };
  j.decoder = { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true }] };
  write('unigram-metaspace.json', j);
}

// 3. Llama-style character BPE: prepend and replace spaces with U+2581, byte fallback, fused unknowns.
{
  const t = new hf.Tokenizer(hf.BPE.empty());
  t.setNormalizer(hf.sequenceNormalizer([hf.prependNormalizer('\u2581'), hf.replace(' ', '\u2581')]));
  const j = train(t, ['<unk>', '<s>', '</s>']);
  const model = j.model as Json & { vocab: Record<string, number> };
  let next = Math.max(...Object.values(model.vocab)) + 1;
  for (const b of byteNames()) if (model.vocab[b] === undefined) model.vocab[b] = next++;
  Object.assign(model, { byte_fallback: true, fuse_unk: true, unk_token: '<unk>' });
  j.post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [model.vocab['<s>']], tokens: ['<s>'] } },
  };
  j.decoder = {
    type: 'Sequence',
    decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
  };
  write('bpe-bytefallback.json', j);
}

// 4. Byte-level BPE with a Split regex, digits and a Sequence pre-tokenizer (newer GPT styles).
{
  const t = new hf.Tokenizer(hf.BPE.empty());
  t.setNormalizer(hf.nfcNormalizer());
  t.setPreTokenizer(hf.sequencePreTokenizer([
    hf.digitsPreTokenizer(true),
    hf.byteLevelPreTokenizer(false, true),
  ]));
  const j = train(t, ['<|endoftext|>']);
  // Every byte must have a token, or text outside the corpus could not be encoded.
  const model = j.model as Json & { vocab: Record<string, number> };
  let next = Math.max(...Object.values(model.vocab)) + 1;
  for (const c of hf.byteLevelAlphabet()) if (model.vocab[c] === undefined) model.vocab[c] = next++;
  j.decoder = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  j.post_processor = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  write('bpe-bytelevel-digits.json', j);
}
