"""Trains a small sentencepiece BPE model as mBART ships it (sentencepiece.bpe.model: <unk> 0, <s> 1,
</s> 2, no pad) on the tokenizer corpus and writes the ids Hugging Face's MBartTokenizer and
MBart50Tokenizer give, computed here from python3-sentencepiece and the tokenizers' documented fairseq
logic: fairseq's <s> 0, <pad> 1, </s> 2, <unk> 3; piece i at i + 1 (sentencepiece's unknown id as
<unk>); language code k at len(sp) + 1 + k; <mask> at len(sp) + 1 + len(codes); special tokens in the
text (<mask> swallowing the spaces before it) split out first; MBartTokenizer appends </s> and the
source code, MBart50Tokenizer prefixes the code and appends </s>. Decoding is their
convert_tokens_to_string (sentencepiece decode of piece runs, special tokens after a space unless the
token before was special, strip), without clean_up_tokenization_spaces.

    python3 tools/reference/make_mbart_spm.py

Writes test/fixtures/tokenizers/mbart-spm/{sentencepiece.bpe.model, tokenizer_config.json} and
test/fixtures/tokenizers/mbart-spm-goldens.json (both variants; MBart50Tokenizer's with src_lang ro_RO).
"""
import json
import os
import random
import re
import shutil
import sys
import tempfile

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_bart_marian as mbm  # noqa: E402  (its make_spm: the corpus and path-free model bytes)

VERSION = 1
SEED = 5150
OUT = os.path.join(mbm.ROOT, 'test', 'fixtures', 'tokenizers')
MBART = ['ar_AR', 'cs_CZ', 'de_DE', 'en_XX', 'es_XX', 'et_EE', 'fi_FI', 'fr_XX', 'gu_IN', 'hi_IN', 'it_IT', 'ja_XX', 'kk_KZ', 'ko_KR', 'lt_LT',
         'lv_LV', 'my_MM', 'ne_NP', 'nl_XX', 'ro_RO', 'ru_RU', 'si_LK', 'tr_TR', 'vi_VN', 'zh_CN']
MBART50 = MBART + ['af_ZA', 'az_AZ', 'bn_IN', 'fa_IR', 'he_IL', 'hr_HR', 'id_ID', 'ka_GE', 'km_KH', 'mk_MK', 'ml_IN', 'mn_MN', 'mr_IN', 'pl_PL',
                   'ps_AF', 'pt_XX', 'sv_SE', 'sw_KE', 'ta_IN', 'te_IN', 'th_TH', 'tl_XX', 'uk_UA', 'ur_PK', 'xh_ZA', 'gl_ES', 'sl_SI']
TRAIN = dict(model_type='bpe', vocab_size=300, hard_vocab_limit=False, character_coverage=0.995, num_threads=1, split_by_whitespace=True,
             normalization_rule_name='nmt_nfkc', unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
FAIRSEQ = {'<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3}


class Reference:
    """MBartTokenizer (variant 'mbart') or MBart50Tokenizer ('mbart50') over one sentencepiece model."""

    def __init__(self, sp, variant, src_lang):
        self.sp, self.variant = sp, variant
        codes = MBART50 if variant == 'mbart50' else MBART
        n = sp.get_piece_size()
        self.ids = dict(FAIRSEQ)
        for k, c in enumerate(codes):
            self.ids[c] = n + 1 + k
        self.ids['<mask>'] = n + 1 + len(codes)
        self.inv = {v: k for k, v in self.ids.items()}
        self.lang = self.ids[src_lang]
        self.size = n + len(codes) + 2
        # Longest first, as a trie of added tokens matches.
        self.split_re = re.compile('(%s)' % '|'.join(re.escape(t) for t in sorted(self.ids, key=len, reverse=True)))

    def piece_id(self, p):
        i = self.sp.piece_to_id(p)
        return i + 1 if i else FAIRSEQ['<unk>']

    def encode(self, text, add_special=True):
        ids = []
        parts = self.split_re.split(text)
        for k, part in enumerate(parts):
            if k % 2:
                ids.append(self.ids[part])
                continue
            # <mask> has lstrip: the spaces before it belong to it.
            if k + 1 < len(parts) and parts[k + 1] == '<mask>':
                part = part.rstrip()
            if part:
                ids += [self.piece_id(p) for p in self.sp.encode(part, out_type=str)]
        if not add_special:
            return ids
        if self.variant == 'mbart50':
            return [self.lang] + ids + [FAIRSEQ['</s>']]
        return ids + [FAIRSEQ['</s>'], self.lang]

    def decode(self, ids, skip_special):
        out, run, prev_special = '', [], False
        for i in ids:
            if i in self.inv:
                if skip_special:
                    continue
                if not prev_special:
                    out += ' '
                out += self.sp.decode_pieces(run) + self.inv[i]
                run, prev_special = [], True
            else:
                run.append(self.sp.id_to_piece(i - 1))
                prev_special = False
        out += self.sp.decode_pieces(run)
        return out.strip()


def main():
    work = tempfile.mkdtemp(prefix='mbart-spm-')
    texts = mbm.make_spm.corpus_texts()
    lines = [t for n, t in texts if ':' in n]
    train = os.path.join(work, 'train.txt')
    with open(train, 'w', encoding='utf-8') as fh:
        for _ in range(3):
            fh.write('\n'.join(lines) + '\n')
    prefix = os.path.join(work, 'sentencepiece.bpe')
    spm.SentencePieceTrainer.train(input=train, model_prefix=prefix, **TRAIN)
    blob = mbm.make_spm.without_paths(prefix + '.model')
    sp = spm.SentencePieceProcessor(model_proto=blob)
    extra = ['Hello <mask> world', 'two  <mask>spaces', '<s>inside</s> text <pad> <unk>', 'en_XX ro_RO as text', 'ends with code de_DE',
             '', ' ', 'ༀ unknown ꙮ', 'Ça coûte 5 € à Zürich.']
    rng = random.Random(SEED)
    words = ' '.join(lines).split()
    randoms = [' '.join(rng.choice(words) for _ in range(rng.randint(1, 10))) for _ in range(20)]
    cases = [t for _, t in texts] + extra + randoms
    goldens = dict(header=dict(script='tools/reference/make_mbart_spm.py', reference='sentencepiece %s (Debian python3-sentencepiece) with '
                               'MBartTokenizer / MBart50Tokenizer fairseq id logic' % spm.__version__, seed=SEED, version=VERSION,
                               train_options=TRAIN, pieces=sp.get_piece_size()), variants={})
    drng = random.Random(SEED + 1)
    for variant, src in (('mbart', 'en_XX'), ('mbart50', 'ro_RO')):
        # One directory (MBartTokenizer's); the test writes MBart50Tokenizer's tokenizer_config.json beside a copy.
        if variant == 'mbart':
            d = os.path.join(OUT, 'mbart-spm')
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, 'sentencepiece.bpe.model'), 'wb') as fh:
                fh.write(blob)
            mbm.write_json(os.path.join(d, 'tokenizer_config.json'), dict(tokenizer_class='MBartTokenizer', src_lang=src, tgt_lang='ro_RO', model_max_length=1024))
        ref = Reference(sp, variant, src)
        enc = [dict(text=t, ids=ref.encode(t), plain=ref.encode(t, False)) for t in cases]
        seqs = [c['ids'] for c in enc[:12]] + [[drng.randrange(4, ref.size) for _ in range(15)] for _ in range(8)]
        dec = [dict(ids=s, text=ref.decode(s, False), skipSpecial=ref.decode(s, True)) for s in seqs]
        goldens['variants'][variant] = dict(srcLang=src, vocabSize=ref.size, mask=ref.ids['<mask>'], encode=enc, decode=dec)
    mbm.write_json(os.path.join(OUT, 'mbart-spm-goldens.json'), goldens)
    shutil.rmtree(work)


if __name__ == '__main__':
    main()
