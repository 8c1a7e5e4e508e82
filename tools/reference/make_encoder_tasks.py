"""Writes the text-level encoder task fixtures (tiny BERT checkpoints in the real Hugging Face layout,
with a WordPiece tokenizer.json or only vocab.txt, and sentence-transformers' modules.json /
1_Pooling/config.json where a model is an embedder) under test/fixtures/encoder-tasks/, and the
goldens of the task pipelines: sentence embeddings, cross-encoder rerank scores, text
classification, token classification with each aggregation strategy, and fill-mask.

The forward pass is make_encoders.py's (plain torch from modeling_bert's eager semantics). The
tokenizer (BertNormalizer lowercase, BertPreTokenizer, WordPiece, [CLS] A [SEP] B [SEP]) and the
pipelines' post-processing are written here from the algorithms of Hugging Face's tokenizers and
transformers pipelines (TextClassificationPipeline, TokenClassificationPipeline, FillMaskPipeline)
and sentence-transformers' Pooling / Normalize modules; none of those libraries is used. Run with
Debian's python3-torch:

    /usr/bin/python3 tools/reference/make_encoder_tasks.py [--out test/fixtures/encoder-tasks]
"""
import argparse
import json
import math
import os
import sys
import unicodedata

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_encoders import BASE, forward, init  # noqa: E402
from make_models import write_safetensors  # noqa: E402

LAYOUT_VERSION = 1
SEED = 8765

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
PUNCT = ['.', ',', '!', '?', "'", '-']
LETTERS = [chr(c) for c in range(ord('a'), ord('z') + 1)]
WORDS = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'runs', 'in', 'park', 'john', 'smith', 'lives', 'new', 'york', 'paris',
         'is', 'city', 'of', 'france', 'mary', 'works', 'at', 'google', 'london', 'what', 'capital', 'weather',
         'today', 'sunny', 'play', 'love', 'it', 'this', 'was', 'good', 'bad', 'movie', 'great']
SUFFIXES = ['##ing', '##ed', '##er', '##son']
VOCAB = SPECIALS + PUNCT + LETTERS + ['##' + c for c in LETTERS] + WORDS + SUFFIXES
TOK = {t: i for i, t in enumerate(VOCAB)}
assert len(TOK) == len(VOCAB), 'vocabulary entries are distinct'
CLS, SEP, UNK, MASK = TOK['[CLS]'], TOK['[SEP]'], TOK['[UNK]'], TOK['[MASK]']

ENC = dict(BASE, vocab_size=len(VOCAB))


def labels(names):
    id2label = {str(i): n for i, n in enumerate(names)}
    return dict(id2label=id2label, label2id={n: i for i, n in enumerate(names)})


NER_LABELS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG']
MODELS = {
    'embed-mean': dict(ENC, architectures=['BertModel']),
    'embed-cls': dict(ENC, architectures=['BertModel'], hidden_act='gelu_new'),
    'rerank': dict(ENC, architectures=['BertForSequenceClassification'], **labels(['LABEL_0'])),
    'classify': dict(ENC, architectures=['BertForSequenceClassification'], problem_type='single_label_classification', **labels(['NEGATIVE', 'POSITIVE'])),
    'classify-multi': dict(ENC, architectures=['BertForSequenceClassification'], problem_type='multi_label_classification',
                           **labels(['sports', 'politics', 'weather', 'travel'])),
    'ner': dict(ENC, architectures=['BertForTokenClassification'], **labels(NER_LABELS)),
    'fill-mask': dict(ENC, architectures=['BertForMaskedLM']),
}


# ---- tokenizer: BertNormalizer (lowercase), BertPreTokenizer, WordPiece, BertProcessing ----

def is_punct(ch):
    c = ord(ch)
    if 33 <= c <= 47 or 58 <= c <= 64 or 91 <= c <= 96 or 123 <= c <= 126:
        return True
    return unicodedata.category(ch).startswith('P')


def words_of(text):
    """(start, end) spans of pre-tokenized words: whitespace removed, each punctuation char alone."""
    out, start = [], None
    for i, ch in enumerate(text):
        if ch.isspace() or is_punct(ch):
            if start is not None:
                out.append((start, i))
                start = None
            if is_punct(ch):
                out.append((i, i + 1))
        elif start is None:
            start = i
    if start is not None:
        out.append((start, len(text)))
    return out


def wordpiece(word, start):
    """Greedy longest-match-first; a word with any unmatched part is one [UNK] over the whole word."""
    pieces, i = [], 0
    while i < len(word):
        j = len(word)
        while j > i:
            sub = word[i:j] if i == 0 else '##' + word[i:j]
            if sub in TOK:
                break
            j -= 1
        if j == i:
            return [(UNK, start, start + len(word))]
        pieces.append((TOK[sub], start + i, start + j))
        i = j
    return pieces


def tokenize(text):
    """ASCII text only (lowercasing keeps offsets): ids and (start, end) offsets, no specials."""
    assert all(ord(c) < 128 for c in text), 'fixture texts are ASCII'
    low = text.lower()
    out = []
    for a, b in words_of(low):
        out += wordpiece(low[a:b], a)
    return out


def encode(text, pair=None):
    a = tokenize(text)
    ids = [CLS] + [t[0] for t in a] + [SEP]
    offsets = [(0, 0)] + [(t[1], t[2]) for t in a] + [(0, 0)]
    types = [0] * len(ids)
    special = [1] + [0] * len(a) + [1]
    if pair is not None:
        b = tokenize(pair)
        ids += [t[0] for t in b] + [SEP]
        offsets += [(t[1], t[2]) for t in b] + [(0, 0)]
        types += [1] * (len(b) + 1)
        special += [0] * len(b) + [1]
    return dict(ids=ids, offsets=offsets, types=types, special=special)


def cleanup(s):
    for a, b in ((' .', '.'), (' ?', '?'), (' !', '!'), (' ,', ','), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                 (' do not', " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        s = s.replace(a, b)
    return s


def tokens_to_string(tokens):
    """The WordPiece decoder (prefix '##', cleanup on), as convert_tokens_to_string of a fast BERT tokenizer."""
    return ''.join(cleanup(t if i == 0 else t[2:] if t.startswith('##') else ' ' + t) for i, t in enumerate(tokens))


def decode(ids, skip_special):
    toks = [VOCAB[i] for i in ids if not (skip_special and VOCAB[i] in SPECIALS)]
    return cleanup(tokens_to_string(toks))


def tokenizer_json():
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [dict(id=TOK[t], content=t, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True) for t in SPECIALS],
        'normalizer': dict(type='BertNormalizer', clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True),
        'pre_tokenizer': dict(type='BertPreTokenizer'),
        'post_processor': dict(type='TemplateProcessing',
                               single=[dict(SpecialToken=dict(id='[CLS]', type_id=0)), dict(Sequence=dict(id='A', type_id=0)), dict(SpecialToken=dict(id='[SEP]', type_id=0))],
                               pair=[dict(SpecialToken=dict(id='[CLS]', type_id=0)), dict(Sequence=dict(id='A', type_id=0)), dict(SpecialToken=dict(id='[SEP]', type_id=0)),
                                     dict(Sequence=dict(id='B', type_id=1)), dict(SpecialToken=dict(id='[SEP]', type_id=1))],
                               special_tokens={t: dict(id=t, ids=[TOK[t]], tokens=[t]) for t in ('[CLS]', '[SEP]')}),
        'decoder': dict(type='WordPiece', prefix='##', cleanup=True),
        'model': dict(type='WordPiece', unk_token='[UNK]', continuing_subword_prefix='##', max_input_chars_per_word=100, vocab=TOK),
    }


TOKENIZER_CONFIG = dict(do_lower_case=True, unk_token='[UNK]', sep_token='[SEP]', pad_token='[PAD]', cls_token='[CLS]', mask_token='[MASK]',
                        model_max_length=64, tokenizer_class='BertTokenizer', clean_up_tokenization_spaces=True)


def write_sentence_transformers(d, mode, normalize):
    mods = [dict(idx=0, name='0', path='', type='sentence_transformers.models.Transformer'),
            dict(idx=1, name='1', path='1_Pooling', type='sentence_transformers.models.Pooling')]
    if normalize:
        mods.append(dict(idx=2, name='2', path='2_Normalize', type='sentence_transformers.models.Normalize'))
        os.makedirs(os.path.join(d, '2_Normalize'), exist_ok=True)
    json.dump(mods, open(os.path.join(d, 'modules.json'), 'w'), indent=2)
    os.makedirs(os.path.join(d, '1_Pooling'), exist_ok=True)
    pool = dict(word_embedding_dimension=ENC['hidden_size'], pooling_mode_cls_token=mode == 'cls', pooling_mode_mean_tokens=mode == 'mean',
                pooling_mode_max_tokens=mode == 'max', pooling_mode_mean_sqrt_len_tokens=False, pooling_mode_weightedmean_tokens=False,
                pooling_mode_lasttoken=False, include_prompt=True)
    json.dump(pool, open(os.path.join(d, '1_Pooling', 'config.json'), 'w'), indent=2)
    json.dump(dict(max_seq_length=32, do_lower_case=False), open(os.path.join(d, 'sentence_bert_config.json'), 'w'), indent=2)


# ---- pipelines ----

def run(name, cfg, w, enc):
    return forward(cfg, cfg['architectures'][0], w, enc['ids'], enc['types'])


def pool(hidden, mode):
    """sentence-transformers Pooling over every (real) token, specials included as the attention mask has them."""
    if mode == 'cls':
        return hidden[0]
    if mode == 'mean':
        return hidden.mean(0)
    if mode == 'max':
        return hidden.max(0).values
    raise ValueError(mode)


def softmax(x):
    x = x.double()
    return torch.softmax(x, -1)


def classify(logits, fn, top_k, id2label):
    x = logits.double()
    scores = torch.sigmoid(x) if fn == 'sigmoid' else torch.softmax(x, -1) if fn == 'softmax' else x
    out = [dict(label=id2label[str(i)], score=float(s)) for i, s in enumerate(scores)]
    out.sort(key=lambda e: -e['score'])
    return out if top_k is None else out[:top_k]


def gather_pre_entities(text, enc, scores):
    pre = []
    for idx, s in enumerate(scores):
        if enc['special'][idx]:
            continue
        word = VOCAB[enc['ids'][idx]]
        a, b = enc['offsets'][idx]
        ref = text[a:b]
        # The model has a continuing_subword_prefix: a token longer or shorter than its text is a subword.
        is_sub = len(word) != len(ref)
        if enc['ids'][idx] == UNK:
            word, is_sub = ref, False
        pre.append(dict(word=word, scores=s, start=a, end=b, index=idx, is_subword=is_sub))
    return pre


def aggregate_word(group, strategy, id2label):
    word = tokens_to_string([e['word'] for e in group])
    if strategy == 'first':
        s = group[0]['scores']
    elif strategy == 'max':
        s = max(group, key=lambda e: float(e['scores'].max()))['scores']
    else:
        s = torch.stack([e['scores'] for e in group]).mean(0)
    i = int(s.argmax())
    return dict(entity=id2label[str(i)], score=float(s[i]), word=word, start=group[0]['start'], end=group[-1]['end'])


def tag(name):
    if name.startswith('B-'):
        return 'B', name[2:]
    if name.startswith('I-'):
        return 'I', name[2:]
    return 'I', name


def group_entities(entities):
    groups, cur = [], []

    def close():
        groups.append(dict(entity_group=cur[0]['entity'].split('-', 1)[-1],
                           score=sum(e['score'] for e in cur) / len(cur), word=tokens_to_string([e['word'] for e in cur]),
                           start=cur[0]['start'], end=cur[-1]['end']))
    for e in entities:
        if not cur:
            cur.append(e)
            continue
        bi, t = tag(e['entity'])
        _, last = tag(cur[-1]['entity'])
        if t == last and bi != 'B':
            cur.append(e)
        else:
            close()
            cur = [e]
    if cur:
        close()
    return groups


def token_classify(text, enc, logits, strategy, id2label, ignore=('O',)):
    scores = softmax(logits)
    pre = gather_pre_entities(text, enc, scores)
    if strategy in ('none', 'simple'):
        ents = []
        for p in pre:
            i = int(p['scores'].argmax())
            ents.append(dict(entity=id2label[str(i)], score=float(p['scores'][i]), index=p['index'], word=p['word'], start=p['start'], end=p['end']))
    else:
        ents, group = [], None
        for p in pre:
            if group is None:
                group = [p]
            elif p['is_subword']:
                group.append(p)
            else:
                ents.append(aggregate_word(group, strategy, id2label))
                group = [p]
        if group is not None:
            ents.append(aggregate_word(group, strategy, id2label))
    if strategy != 'none':
        ents = group_entities(ents)
    return [e for e in ents if e.get('entity') not in ignore and e.get('entity_group') not in ignore]


def fill_mask(enc, logits, top_k, targets=None):
    V = len(VOCAB)
    lg = logits.reshape(len(enc['ids']), V)
    masks = [i for i, t in enumerate(enc['ids']) if t == MASK]
    single = len(masks) == 1
    target_ids = None
    if targets is not None:
        target_ids = sorted({TOK[t] if t in TOK else tokenize(t)[0][0] for t in targets})
        top_k = min(top_k, len(target_ids))
    out = []
    for m in masks:
        probs = softmax(lg[m])
        if target_ids is not None:
            sub = probs[target_ids]
            v, p = sub.topk(top_k)
            p = [target_ids[int(j)] for j in p]
        else:
            v, p = probs.topk(top_k)
            p = [int(j) for j in p]
        row = []
        for score, tok in zip(v.tolist(), p):
            ids = list(enc['ids'])
            ids[m] = tok
            row.append(dict(score=score, token=tok, tokenStr=decode([tok], False), sequence=decode(ids, single)))
        out.append(row)
    return out


EMBED_TEXTS = ['The cat sat on the mat.', 'A dog runs in the park', 'Paris is the capital of France!', 'weather today: sunny', 'x']
QUERY = 'what is the capital of france?'
DOCS = ['Paris is the capital of France.', 'The cat sat on the mat', 'London is a great city', 'paris', 'It was sunny today in Paris, France.']
CLASSIFY_TEXTS = ['I love this movie!', 'This was bad.', 'the weather is great', 'Mary works at Google in London']
NER_TEXTS = ['John Johnson lives in New York.', 'Mary works at Google, London; playing 42 games.', 'The capital of France is Paris']
FILL_TEXTS = [('The cat sat on the [MASK].', None, 5), ('Paris is the [MASK] of France.', ['capital', 'city', 'cats', 'dog'], 5),
              ('[MASK] works at [MASK].', None, 3)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join('test', 'fixtures', 'encoder-tasks'))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(SEED)
    weights = {}
    for name, cfg in MODELS.items():
        arch = cfg['architectures'][0]
        w = init(cfg, arch, g)
        if name == 'ner':
            # Random heads rarely pick 'O'; a bias toward it gives texts both kept and ignored tokens.
            w['classifier.bias'][0] += 1.5
        weights[name] = w
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
        write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
        json.dump(TOKENIZER_CONFIG, open(os.path.join(d, 'tokenizer_config.json'), 'w'), indent=2)
        if name == 'embed-cls':
            # Only the slow tokenizer's vocab.txt: the loader builds the WordPiece pipeline from it.
            open(os.path.join(d, 'vocab.txt'), 'w').write('\n'.join(VOCAB) + '\n')
        else:
            json.dump(tokenizer_json(), open(os.path.join(d, 'tokenizer.json'), 'w'), indent=1)
    write_sentence_transformers(os.path.join(args.out, 'embed-mean'), 'mean', True)
    write_sentence_transformers(os.path.join(args.out, 'embed-cls'), 'cls', False)

    gold = dict(tokens=[], embed=[], rerank=[], classify=[], tokenClassify=[], fillMask=[])
    with torch.no_grad():
        for t in EMBED_TEXTS + DOCS + CLASSIFY_TEXTS + NER_TEXTS:
            e = encode(t)
            gold['tokens'].append(dict(text=t, ids=e['ids'], offsets=e['offsets']))
        e = encode(QUERY, DOCS[0])
        gold['tokens'].append(dict(text=QUERY, pair=DOCS[0], ids=e['ids'], offsets=e['offsets'], typeIds=e['types']))

        for name, default, cases in (('embed-mean', ('mean', True), [('cls', False), ('max', False), ('mean', False)]),
                                     ('embed-cls', ('cls', False), [('mean', True), ('max', True)])):
            cfg = MODELS[name]
            for opts in [None] + cases:
                mode, norm = default if opts is None else opts
                vecs = []
                for t in EMBED_TEXTS:
                    v = pool(run(name, cfg, weights[name], encode(t))['lastHiddenState'], mode)
                    if norm:
                        v = v / v.norm().clamp_min(1e-12)
                    vecs.append(v.tolist())
                gold['embed'].append(dict(model=name, texts=EMBED_TEXTS, options=None if opts is None else dict(pooling=mode, normalize=norm), embeddings=vecs))

        for name in ('rerank', 'classify'):
            cfg = MODELS[name]
            scores = []
            for i, doc in enumerate(DOCS):
                lg = run(name, cfg, weights[name], encode(QUERY, doc))['logits']
                scores.append(dict(index=i, score=float(lg[0]) if lg.numel() == 1 else float(softmax(lg)[1])))
            scores.sort(key=lambda r: -r['score'])
            gold['rerank'].append(dict(model=name, query=QUERY, documents=DOCS, results=scores))

        for name, fn in (('classify', 'softmax'), ('classify-multi', 'sigmoid'), ('rerank', 'sigmoid')):
            cfg = MODELS[name]
            for top_k in (1, None):
                res = [classify(run(name, cfg, weights[name], encode(t))['logits'], fn, top_k, cfg['id2label']) for t in CLASSIFY_TEXTS]
                gold['classify'].append(dict(model=name, texts=CLASSIFY_TEXTS, topK=top_k, function=fn, results=res))
        cfg = MODELS['classify']
        res = [classify(run('classify', cfg, weights['classify'], encode(t))['logits'], 'none', None, cfg['id2label']) for t in CLASSIFY_TEXTS]
        gold['classify'].append(dict(model='classify', texts=CLASSIFY_TEXTS, topK=None, function='none', results=res, explicit=True))

        cfg = MODELS['ner']
        for t in NER_TEXTS:
            e = encode(t)
            lg = run('ner', cfg, weights['ner'], e)['logits'].reshape(len(e['ids']), len(NER_LABELS))
            for strategy in ('none', 'simple', 'first', 'average', 'max'):
                gold['tokenClassify'].append(dict(model='ner', text=t, aggregation=strategy, entities=token_classify(t, e, lg, strategy, cfg['id2label'])))
            gold['tokenClassify'].append(dict(model='ner', text=t, aggregation='simple', ignoreLabels=[], entities=token_classify(t, e, lg, 'simple', cfg['id2label'], ())))

        cfg = MODELS['fill-mask']
        for t, targets, k in FILL_TEXTS:
            # The mask is an added token: split it out before the word pipeline, as the tokenizer does.
            e = encode_with_masks(t)
            lg = run('fill-mask', cfg, weights['fill-mask'], e)['logits']
            gold['fillMask'].append(dict(model='fill-mask', text=t, topK=k, targets=targets, results=fill_mask(e, lg, k, targets)))

    header = dict(script='tools/reference/make_encoder_tasks.py',
                  reference=f'PyTorch {torch.__version__} (float32 forward, float64 softmax/sigmoid), modeling_bert semantics in plain torch; '
                            'pipelines written from transformers text-classification / token-classification / fill-mask and sentence-transformers Pooling',
                  seed=SEED, layout_version=LAYOUT_VERSION, note='offsets are [start, end) character indices of the ASCII texts')
    json.dump(dict(header=header, **gold), open(os.path.join(args.out, 'goldens.json'), 'w'), indent=0)


def encode_with_masks(text):
    """encode() for a text holding literal [MASK] tokens (an added special token, split out before normalizing)."""
    parts = text.split('[MASK]')
    ids, offsets, pos = [CLS], [(0, 0)], 0
    for k, part in enumerate(parts):
        for t in tokenize(part):
            ids.append(t[0])
            offsets.append((t[1] + pos, t[2] + pos))
        pos += len(part)
        if k < len(parts) - 1:
            ids.append(MASK)
            offsets.append((pos, pos + 6))
            pos += 6
    ids.append(SEP)
    offsets.append((0, 0))
    return dict(ids=ids, offsets=offsets, types=[0] * len(ids), special=[1] + [0] * (len(ids) - 2) + [1])


if __name__ == '__main__':
    main()
