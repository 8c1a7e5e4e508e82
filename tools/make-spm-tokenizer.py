#!/usr/bin/python3
# Trains a small XLM-R-style sentencepiece Unigram model on the committed tokenizer corpus, converts
# it to tokenizer.json (Precompiled + Metaspace + Unigram) and writes sentencepiece's own ids as goldens.
#
# Run: /usr/bin/python3 tools/make-spm-tokenizer.py   (needs Debian's python3-sentencepiece and python3-protobuf)
# Writes test/fixtures/tokenizers/unigram-xlmr-precompiled.json and xlmr-spm-goldens.json; then trains the
# small .model files of SPM_MODELS and writes spm-model-goldens.json (ids, pieces, decoded text).
# The conversion follows what transformers' XLMRobertaConverter writes: the model's charsmap in a
# Precompiled normalizer, then Replace(" {2,}" -> " "), Metaspace with prepend_scheme "always",
# the spm vocabulary with its scores, and <s> $A </s> (</s> </s> $B </s> for pairs).
import base64
import json
import os
import struct
import sys
import tempfile

import sentencepiece as spm

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
CORPUS = os.path.join(ROOT, 'test/fixtures/tokenizer-corpus')
OUT = os.path.join(ROOT, 'test/fixtures/tokenizers')
GOLDEN_VERSION = 1
# XLM-R's layout of the special ids (fairseq order), given to spm_train directly so that the
# sentencepiece ids and the tokenizer.json ids are the same numbers.
SPECIALS = {'bos_id': 0, 'pad_id': 1, 'eos_id': 2, 'unk_id': 3}
TRAIN_OPTIONS = dict(model_type='unigram', vocab_size=1200, hard_vocab_limit=False,
                     normalization_rule_name='nmt_nfkc', character_coverage=0.9995, num_threads=1,
                     split_by_whitespace=True, byte_fallback=False, **SPECIALS)


def corpus_texts():
    """(name, text) for each corpus file whole and each non-empty line, the order the tests use."""
    out = []
    for f in sorted(os.listdir(CORPUS)):
        with open(os.path.join(CORPUS, f), encoding='utf-8', newline='') as fh:
            text = fh.read()
        out.append((f, text))
        for i, line in enumerate(text.split('\n')):
            if line:
                out.append((f'{f}:{i + 1}', line))
    return out


# Graphemes where the charsmap holds both a one-character key and a longer one: sentencepiece
# takes the longest match (ª + grave -> à), the Rust tokenizers crate the first, shortest one
# (-> a). The tests show that ours follows the crate on these and that sentencepiece differs.
SHORTEST_MATCH = ['\u00aa\u0300', '\u017f\u0301', '\u02b0\u0302']


def read_varint(b, i):
    v = 0
    shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << shift
        if c < 0x80:
            return v, i
        shift += 7


def fields(b):
    """Top-level protobuf fields of message bytes b as (number, wire type, value)."""
    i = 0
    while i < len(b):
        key, i = read_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = read_varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ValueError(f'wire type {wt} in model proto')
        yield num, wt, v


def read_model(path):
    """Pieces (piece, score, type) and the normalizer's precompiled charsmap from a ModelProto.

    sentencepiece_model.proto: ModelProto.pieces = 1 (SentencePiece: piece = 1, score = 2, type = 3),
    normalizer_spec = 3 (NormalizerSpec: name = 1, precompiled_charsmap = 2). Read by hand because
    Debian's python3-sentencepiece works without the protobuf package.
    """
    with open(path, 'rb') as fh:
        b = fh.read()
    pieces = []
    charsmap = b''
    name = ''
    for num, _, v in fields(b):
        if num == 1:
            piece, score, kind = '', 0.0, 1
            for n, _, x in fields(v):
                if n == 1:
                    piece = x.decode('utf-8')
                elif n == 2:
                    score = struct.unpack('<f', x)[0]
                elif n == 3:
                    kind = x
            pieces.append((piece, score, kind))
        elif num == 3:
            for n, _, x in fields(v):
                if n == 1:
                    name = x.decode('utf-8')
                elif n == 2:
                    charsmap = x
    return pieces, charsmap, name


def tokenizer_json(pieces, charsmap):
    vocab = [[p, float(s)] for p, s, _ in pieces]
    tok = lambda i: pieces[i][0]
    special = lambda i: {'SpecialToken': {'id': tok(i), 'type_id': 0}}
    seq = lambda s: {'Sequence': {'id': s, 'type_id': 0}}
    bos, eos = SPECIALS['bos_id'], SPECIALS['eos_id']
    # Control and unknown pieces (type 2 and 3) become special added tokens, as the converter does.
    added = [{'id': i, 'content': p, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}
             for i, (p, _, kind) in enumerate(pieces) if kind in (2, 3)]
    metaspace = {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'always', 'split': True}
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': added,
        'normalizer': {'type': 'Sequence', 'normalizers': [
            {'type': 'Precompiled', 'precompiled_charsmap': base64.b64encode(charsmap).decode('ascii')},
            {'type': 'Replace', 'pattern': {'Regex': ' {2,}'}, 'content': ' '},
        ]},
        'pre_tokenizer': metaspace,
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [special(bos), seq('A'), special(eos)],
            'pair': [special(bos), seq('A'), special(eos), special(eos), seq('B'), special(eos)],
            'special_tokens': {tok(i): {'id': tok(i), 'ids': [i], 'tokens': [tok(i)]} for i in (bos, eos)},
        },
        'decoder': metaspace,
        'model': {'type': 'Unigram', 'unk_id': SPECIALS['unk_id'], 'vocab': vocab, 'byte_fallback': False},
    }


# Small .model files read directly by ts/tokenizer/spm.ts, each exercising other rules: name ->
# spm_train options. Goldens: sentencepiece's ids, pieces and decoded text for every corpus case.
SPM_MODELS = {
    'spm-unigram-nfkc': dict(model_type='unigram', vocab_size=900, normalization_rule_name='nmt_nfkc',
                             user_defined_symbols=['<sep>', '@@'], control_symbols=['<2fr>', '<2de>'], byte_fallback=False),
    'spm-unigram-bytes': dict(model_type='unigram', vocab_size=700, normalization_rule_name='identity',
                              remove_extra_whitespaces=False, byte_fallback=True, user_defined_symbols=['<sep>']),
    'spm-bpe-nfkc': dict(model_type='bpe', vocab_size=800, normalization_rule_name='nmt_nfkc', byte_fallback=True,
                         user_defined_symbols=['<sep>'], control_symbols=['<2fr>']),
    'spm-bpe-identity': dict(model_type='bpe', vocab_size=600, normalization_rule_name='identity', add_dummy_prefix=False,
                             byte_fallback=False),
}
SPM_COMMON = dict(hard_vocab_limit=False, character_coverage=0.9995, num_threads=1, split_by_whitespace=True,
                  bos_id=1, eos_id=2, unk_id=0, pad_id=3)
# Inputs beyond the corpus: whitespace rules, user-defined and control symbols written in the text
# (sentencepiece keeps the first as one piece and segments the second like any text), no text.
EXTRA_TEXTS = ['', '   ', ' leading and trailing  ', 'a<sep>b <sep> c<sep>', 'x@@y @@', 'translate <2fr> this',
               '<s> and </s> and <unk> and <pad>', 'tab\there\nnewline', '\u00a0nbsp\u3000wide', 'ｆｕｌｌｗｉｄｔｈ ＡＢＣ ①②',
               'unknown: \u0f00\u0f01 \U0001f9ec\U0001f9ec', '<0x41> is a byte piece name']


RANDOM_SEED = 7
RANDOM_CASES = 150


def random_texts(texts):
    """Seeded random inputs: runs of corpus characters (with spaces, tabs, newlines and the user-defined
    symbols mixed in) and shuffled corpus words, to reach segmentations the corpus lines do not."""
    import random
    rng = random.Random(RANDOM_SEED)
    corpus = ''.join(t for n, t in texts if ':' not in n)
    chars = sorted(set(corpus)) + [' ', ' ', ' ', '<sep>', '@@', '\t', '\n', '  ']
    words = corpus.split()
    out = []
    for i in range(RANDOM_CASES):
        if i % 2:
            out.append(''.join(rng.choice(chars) for _ in range(rng.randint(1, 40))))
        else:
            out.append(' '.join(rng.choice(words) for _ in range(rng.randint(1, 12))))
    return out


def without_paths(model_file):
    """The model's bytes without trainer_spec.input and model_prefix (temporary paths), so that a rerun
    writes the same file."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    m = pb.ModelProto()
    with open(model_file, 'rb') as fh:
        m.ParseFromString(fh.read())
    del m.trainer_spec.input[:]
    m.trainer_spec.ClearField('model_prefix')
    return m.SerializeToString()


def spm_goldens(work, texts):
    out = {}
    randoms = random_texts(texts)
    for name, options in SPM_MODELS.items():
        train = os.path.join(work, 'train.txt')
        prefix = os.path.join(work, name)
        spm.SentencePieceTrainer.train(input=train, model_prefix=prefix, minloglevel=2, **SPM_COMMON, **options)
        blob = without_paths(prefix + '.model')
        with open(os.path.join(OUT, name + '.model'), 'wb') as fh:
            fh.write(blob)
        sp = spm.SentencePieceProcessor(model_proto=blob)
        cases = [{'name': n, 'text': t, 'ids': sp.encode(t), 'pieces': sp.encode(t, out_type=str), 'decoded': sp.decode(sp.encode(t))}
                 for n, t in texts + [(f'extra:{i}', t) for i, t in enumerate(EXTRA_TEXTS)] + [(f'random:{i}', t) for i, t in enumerate(randoms)]]
        # Id sequences decoded as given: control and unknown pieces, bytes that do and do not form
        # UTF-8, and leading spaces.
        size = sp.get_piece_size()
        byte = lambda b: sp.piece_to_id(f'<0x{b:02X}>')
        seqs = [[1, 0, 2], [sp.piece_to_id('\u2581'), sp.piece_to_id('\u2581')] + sp.encode('a b'), list(range(min(size, 60))),
                list(range(size - 40, size))]
        if options['byte_fallback']:
            seqs += [[byte(0xe6), byte(0x97), byte(0xa5)], [byte(0xe6), byte(0x97)] + sp.encode('x'), [byte(0xff), byte(0x41), byte(0xc3)]]
        decode = [{'ids': ids, 'text': sp.decode(ids)} for ids in seqs]
        out[name] = {'train_options': {**SPM_COMMON, **options}, 'pieces': size, 'cases': cases, 'decode': decode}
    return out


def main():
    texts = corpus_texts()
    work = tempfile.mkdtemp(prefix='spm-')
    train = os.path.join(work, 'train.txt')
    with open(train, 'w', encoding='utf-8') as fh:
        # Three copies, like tools/make-tokenizer-fixtures.ts, so rare scripts earn pieces.
        for _ in range(3):
            for name, text in texts:
                if ':' in name:
                    fh.write(text + '\n')
    prefix = os.path.join(work, 'm')
    spm.SentencePieceTrainer.train(input=train, model_prefix=prefix, **TRAIN_OPTIONS)
    pieces, charsmap, rule = read_model(prefix + '.model')
    if rule != 'nmt_nfkc' or not charsmap:
        sys.exit(f'expected an nmt_nfkc charsmap, got rule {rule!r} with {len(charsmap)} bytes')
    sp = spm.SentencePieceProcessor(model_file=prefix + '.model')
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'unigram-xlmr-precompiled.json'), 'w', encoding='utf-8') as fh:
        json.dump(tokenizer_json(pieces, charsmap), fh, ensure_ascii=False, indent=1)
        fh.write('\n')
    goldens = {
        'header': {
            'made_by': 'tools/make-spm-tokenizer.py',
            'reference': f'sentencepiece {spm.__version__} (Debian python3-sentencepiece), SentencePieceProcessor.encode(text), no BOS/EOS',
            'model': 'trained by the same run; converted to unigram-xlmr-precompiled.json',
            'train_options': TRAIN_OPTIONS,
            'version': GOLDEN_VERSION,
        },
        'cases': [{'name': name, 'text': text, 'ids': sp.encode(text)} for name, text in texts],
        'shortest_match': [{'text': text, 'ids': sp.encode(text)} for text in SHORTEST_MATCH],
    }
    with open(os.path.join(OUT, 'xlmr-spm-goldens.json'), 'w', encoding='utf-8') as fh:
        json.dump(goldens, fh, ensure_ascii=False, indent=1)
        fh.write('\n')
    models = spm_goldens(work, texts)
    spm_out = {
        'header': {
            'made_by': 'tools/make-spm-tokenizer.py',
            'reference': f'sentencepiece {spm.__version__} (Debian python3-sentencepiece): encode(text), encode(text, out_type=str), decode(ids); no BOS/EOS',
            'models': 'test/fixtures/tokenizers/<name>.model, trained by the same run on the corpus lines',
            'random_cases': f'{RANDOM_CASES} per model, seed {RANDOM_SEED} (random_texts)',
            'version': GOLDEN_VERSION,
        },
        'models': models,
    }
    with open(os.path.join(OUT, 'spm-model-goldens.json'), 'w', encoding='utf-8') as fh:
        json.dump(spm_out, fh, ensure_ascii=False, indent=1)
        fh.write('\n')
    print(f'{len(pieces)} pieces, charsmap {len(charsmap)} bytes, {len(texts)} golden cases; .model files: {", ".join(models)}')


if __name__ == '__main__':
    main()
