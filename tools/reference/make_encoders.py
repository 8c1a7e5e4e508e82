"""Writes the tiny encoder test checkpoints (Hugging Face layout) with random weights, and their
PyTorch goldens: BERT (BertModel, ...ForMaskedLM, ...ForSequenceClassification,
...ForTokenClassification) under test/fixtures/models/bert-*/, and RoBERTa, XLM-RoBERTa and
DistilBERT (encoder_families.py) under roberta-*/, xlmr-*/, distilbert-*/. Forward passes are plain
torch written from HF modeling code's eager semantics (no transformers library here); run with
Debian's python3-torch:

    /usr/bin/python3 tools/reference/make_encoders.py [--out test/fixtures/models]
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import write_safetensors  # noqa: E402
import encoder_families as fam  # noqa: E402
import gguf_writer as gw  # noqa: E402

LAYOUT_VERSION = 2
SEED = 4321
LENGTHS = (1, 7, 33)

BASE = dict(model_type='bert', vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, hidden_act='gelu', hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            max_position_embeddings=64, type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12,
            pad_token_id=0, position_embedding_type='absolute', use_cache=True, classifier_dropout=None)


def labels(n):
    id2label = {str(i): f'L{i}' for i in range(n)}
    return dict(id2label=id2label, label2id={v: int(k) for k, v in id2label.items()})


# Each checkpoint exercises another hidden_act and layer_norm_eps.
MODELS = {
    'bert-tiny': dict(BASE, architectures=['BertModel']),
    'bert-tiny-mlm': dict(BASE, architectures=['BertForMaskedLM'], layer_norm_eps=1e-5),
    'bert-tiny-cls': dict(BASE, architectures=['BertForSequenceClassification'], hidden_act='relu',
                          problem_type='single_label_classification', **labels(3)),
    'bert-tiny-tok': dict(BASE, architectures=['BertForTokenClassification'], hidden_act='gelu_new', **labels(5)),
    # Last, so that the draws of the models above stay the same: a decoder of its own.
    'bert-tiny-mlm-untied': dict(BASE, architectures=['BertForMaskedLM'], tie_word_embeddings=False),
}


# RoBERTa, XLM-R and DistilBERT, drawn after the BERT models so that their bytes stay the same.
# Each exercises another hidden_act / activation, layer_norm_eps and head; the MLM ones carry a
# tokenizer.json (their vocab_size is the tokenizer's).
ROBERTA_TOK, ROBERTA_V = fam.roberta_tokenizer()
XLMR_TOK, XLMR_V = fam.xlmr_tokenizer()
RB = dict(fam.ROBERTA_BASE, model_type='roberta')
XB = dict(fam.ROBERTA_BASE, model_type='xlm-roberta')
DB = fam.DISTILBERT_BASE
FAMILY_MODELS = {
    'roberta-tiny': (dict(RB, architectures=['RobertaModel']), None, None),
    # hidden_act gelu_new in the layers; RobertaLMHead applies erf gelu all the same.
    'roberta-tiny-mlm': (dict(RB, architectures=['RobertaForMaskedLM'], vocab_size=ROBERTA_V, hidden_act='gelu_new', layer_norm_eps=1e-12), ROBERTA_TOK, None),
    'roberta-tiny-cls': (dict(RB, architectures=['RobertaForSequenceClassification'], hidden_act='relu',
                              problem_type='multi_label_classification', **labels(3)), None, None),
    'roberta-tiny-tok': (dict(RB, architectures=['RobertaForTokenClassification'], **labels(5)), None, None),
    # xlm-roberta-base's file keeps the encoder under 'roberta.' even for the bare model.
    'xlmr-tiny': (dict(XB, architectures=['XLMRobertaModel']), None, 'roberta.'),
    'xlmr-tiny-mlm': (dict(XB, architectures=['XLMRobertaForMaskedLM'], vocab_size=XLMR_V), XLMR_TOK, None),
    'distilbert-tiny': (dict(DB, architectures=['DistilBertModel'], sinusoidal_pos_embds=True), None, None),
    'distilbert-tiny-mlm': (dict(DB, architectures=['DistilBertForMaskedLM']), None, None),
    'distilbert-tiny-cls': (dict(DB, architectures=['DistilBertForSequenceClassification'], activation='relu', **labels(3)), None, None),
    'distilbert-tiny-tok': (dict(DB, architectures=['DistilBertForTokenClassification'], activation='gelu_new', **labels(4)), None, None),
}
FAMILY_LENGTHS = (1, 6, 13)


def init(cfg, arch, g, std=0.2):
    """Random weights under HF's names: a bare BertModel has no prefix, heads put the encoder under 'bert.'."""
    H, I, V, P, TV = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size'], cfg['max_position_embeddings'], cfg['type_vocab_size']
    r = lambda *s: torch.randn(*s, generator=g) * std
    ln = lambda: (1 + torch.randn(H, generator=g) * 0.1, torch.randn(H, generator=g) * 0.1)
    pre = '' if arch == 'BertModel' else 'bert.'
    w = {}
    w[pre + 'embeddings.word_embeddings.weight'] = r(V, H) * 5
    w[pre + 'embeddings.position_embeddings.weight'] = r(P, H) * 5
    w[pre + 'embeddings.token_type_embeddings.weight'] = r(TV, H) * 5
    w[pre + 'embeddings.LayerNorm.weight'], w[pre + 'embeddings.LayerNorm.bias'] = ln()
    for i in range(cfg['num_hidden_layers']):
        p = f'{pre}encoder.layer.{i}.'
        for n in ('query', 'key', 'value'):
            w[p + f'attention.self.{n}.weight'], w[p + f'attention.self.{n}.bias'] = r(H, H), r(H)
        w[p + 'attention.output.dense.weight'], w[p + 'attention.output.dense.bias'] = r(H, H), r(H)
        w[p + 'attention.output.LayerNorm.weight'], w[p + 'attention.output.LayerNorm.bias'] = ln()
        w[p + 'intermediate.dense.weight'], w[p + 'intermediate.dense.bias'] = r(I, H), r(I)
        w[p + 'output.dense.weight'], w[p + 'output.dense.bias'] = r(H, I), r(H)
        w[p + 'output.LayerNorm.weight'], w[p + 'output.LayerNorm.bias'] = ln()
    # BertForMaskedLM and BertForTokenClassification are built with add_pooling_layer=False.
    if arch in ('BertModel', 'BertForSequenceClassification'):
        w[pre + 'pooler.dense.weight'], w[pre + 'pooler.dense.bias'] = r(H, H), r(H)
    if arch == 'BertForMaskedLM':
        w['cls.predictions.transform.dense.weight'], w['cls.predictions.transform.dense.bias'] = r(H, H), r(H)
        w['cls.predictions.transform.LayerNorm.weight'], w['cls.predictions.transform.LayerNorm.bias'] = ln()
        # Tied (the default), the decoder is the word embeddings: save_pretrained drops the copy.
        if not cfg.get('tie_word_embeddings', True):
            w['cls.predictions.decoder.weight'] = r(V, H) * 5
        w['cls.predictions.bias'] = r(V)
    if arch in ('BertForSequenceClassification', 'BertForTokenClassification'):
        n = len(cfg['id2label'])
        w['classifier.weight'], w['classifier.bias'] = r(n, H), r(n)
    return w


def act(name, x):
    if name == 'gelu':
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if name == 'relu':
        return torch.relu(x)
    if name == 'gelu_new':
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError(name)


def forward(cfg, arch, w, ids, types):
    """One sequence (no padding, so no attention mask), as modeling_bert in eval mode."""
    pre = '' if arch == 'BertModel' else 'bert.'
    H, nh, eps = cfg['hidden_size'], cfg['num_attention_heads'], cfg['layer_norm_eps']
    d = H // nh
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (H,), w[p + '.weight'], w[p + '.bias'], eps)
    lin = lambda x, p: x @ w[p + '.weight'].T + w[p + '.bias']
    T = len(ids)
    ids_t, types_t = torch.tensor(ids), torch.tensor(types)
    e = pre + 'embeddings.'
    x = w[e + 'word_embeddings.weight'][ids_t] + w[e + 'token_type_embeddings.weight'][types_t] + w[e + 'position_embeddings.weight'][:T]
    x = ln(x, e + 'LayerNorm')
    for i in range(cfg['num_hidden_layers']):
        p = f'{pre}encoder.layer.{i}.'
        heads = lambda t: t.view(T, nh, d).transpose(0, 1)  # (nh, T, d)
        q, k, v = (heads(lin(x, p + f'attention.self.{n}')) for n in ('query', 'key', 'value'))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1) @ v
        a = a.transpose(0, 1).reshape(T, H)
        x = ln(lin(a, p + 'attention.output.dense') + x, p + 'attention.output.LayerNorm')
        h = act(cfg['hidden_act'], lin(x, p + 'intermediate.dense'))
        x = ln(lin(h, p + 'output.dense') + x, p + 'output.LayerNorm')
    out = {'lastHiddenState': x}
    if pre + 'pooler.dense.weight' in w:
        out['pooled'] = torch.tanh(lin(x[0], pre + 'pooler.dense'))
    if arch == 'BertForMaskedLM':
        t = act(cfg['hidden_act'], lin(x, 'cls.predictions.transform.dense'))
        t = ln(t, 'cls.predictions.transform.LayerNorm')
        dec = w['cls.predictions.decoder.weight'] if 'cls.predictions.decoder.weight' in w else w[e + 'word_embeddings.weight']
        out['logits'] = t @ dec.T + w['cls.predictions.bias']
    if arch == 'BertForSequenceClassification':
        out['logits'] = lin(out['pooled'], 'classifier')
    if arch == 'BertForTokenClassification':
        out['logits'] = lin(x, 'classifier')
    return out


# llama.cpp's names for BERT tensors (gguf-py's tensor map): HF name -> GGUF name.
BERT_GGUF_NAMES = {
    'embeddings.word_embeddings': 'token_embd', 'embeddings.token_type_embeddings': 'token_types',
    'embeddings.position_embeddings': 'position_embd', 'embeddings.LayerNorm': 'token_embd_norm',
    'attention.self.query': 'attn_q', 'attention.self.key': 'attn_k', 'attention.self.value': 'attn_v',
    'attention.output.dense': 'attn_output', 'attention.output.LayerNorm': 'attn_output_norm',
    'intermediate.dense': 'ffn_up', 'output.dense': 'ffn_down', 'output.LayerNorm': 'layer_output_norm',
}


def bert_gguf(cfg, w, path):
    """bert-tiny as llama.cpp's convert_hf_to_gguf.py writes a BertModel: bert.* hyperparameters,
    causal false, CLS pooling, the pooler dropped, every tensor renamed, and WordPiece vocabulary
    metadata (tokenizer.ggml.model 'bert', word starts as '\u2581' + token, '##' continuations bare)."""
    g = gw.GGUFWriter()
    g.add('general.architecture', gw.STRING, 'bert')
    g.add('general.name', gw.STRING, 'bert-tiny')
    g.add('bert.context_length', gw.UINT32, cfg['max_position_embeddings'])
    g.add('bert.embedding_length', gw.UINT32, cfg['hidden_size'])
    g.add('bert.feed_forward_length', gw.UINT32, cfg['intermediate_size'])
    g.add('bert.block_count', gw.UINT32, cfg['num_hidden_layers'])
    g.add('bert.attention.head_count', gw.UINT32, cfg['num_attention_heads'])
    g.add('bert.attention.layer_norm_epsilon', gw.FLOAT32, cfg['layer_norm_eps'])
    g.add('bert.attention.causal', gw.BOOL, False)
    g.add('bert.pooling_type', gw.UINT32, 2)  # llama.cpp's LLAMA_POOLING_TYPE_CLS
    V = cfg['vocab_size']
    specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    words = [('\u2581' + c) if i % 2 == 0 else c for i, c in enumerate(f'w{n}' for n in range(V - len(specials)))]
    g.add('tokenizer.ggml.model', gw.STRING, 'bert')
    g.add('tokenizer.ggml.tokens', gw.ARRAY, (gw.STRING, specials + words))
    g.add('tokenizer.ggml.token_type', gw.ARRAY, (gw.INT32, [3] * len(specials) + [1] * len(words)))
    for key, i in (('padding', 0), ('unknown', 1), ('cls', 2), ('seperator', 3), ('mask', 4)):
        g.add(f'tokenizer.ggml.{key}_token_id', gw.UINT32, i)
    for name, t in w.items():
        if name.startswith('pooler.'):
            continue
        stem, suffix = name.rsplit('.', 1)
        if stem.startswith('encoder.layer.'):
            _, _, i, rest = stem.split('.', 3)
            new = f'blk.{i}.{BERT_GGUF_NAMES[rest]}'
        else:
            new = BERT_GGUF_NAMES[stem]
        g.add_tensor(f'{new}.{suffix}', t.numpy())
    g.write(path)


def r7(t):
    """Values at float32's precision (7 significant digits), to keep the JSON small."""
    return [float(f'{v:.7g}') for v in t.reshape(-1).tolist()]


def family_goldens(name, cfg, tok, prefix, g, out_dir):
    """Writes one RoBERTa / XLM-R / DistilBERT fixture; returns its single-text cases (every layer's
    hidden states and attention probabilities included) and one padded ragged batch of them."""
    arch = cfg['architectures'][0]
    distil = cfg['model_type'] == 'distilbert'
    w = fam.distilbert_init(cfg, arch, g) if distil else fam.roberta_init(cfg, arch, g, prefix=prefix)
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
    if tok is not None:
        json.dump(tok, open(os.path.join(d, 'tokenizer.json'), 'w', encoding='utf-8'), ensure_ascii=False)
    V, pad = cfg['vocab_size'], cfg['pad_token_id']
    seqs = [torch.randint(0, V, (T,), generator=g).tolist() for T in FAMILY_LENGTHS]
    if not distil:
        # The padding id inside a text (attended to, as with an all-ones mask): its position is
        # padding_idx and the tokens after it are numbered as if it were not there.
        s = torch.randint(0, V, (8,), generator=g).tolist()
        s[3], s[5] = pad, pad
        seqs.append(s)

    def run(batch):
        T = max(len(s) for s in batch)
        ids = torch.tensor([s + [pad] * (T - len(s)) for s in batch])
        mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in batch])
        return fam.forward(cfg, arch, w, ids, torch.zeros_like(ids), mask)

    def case(o, b, s, layers):
        t = len(s)
        c = dict(ids=s, tokenTypeIds=[0] * t, lastHiddenState=r7(o['lastHiddenState'][b, :t]))
        if 'pooled' in o:
            c['pooled'] = r7(o['pooled'][b])
        if 'logits' in o:
            c['logits'] = r7(o['logits'][b] if arch.endswith('ForSequenceClassification') else o['logits'][b, :t])
        if layers:
            c['hiddenStates'] = [r7(h[b, :t]) for h in o['hiddenStates']]
            c['attentions'] = [r7(a[b, :, :t, :t]) for a in o['attentions']]
        return c

    # Every layer's outputs for the shorter texts only: the 13-token one would triple the JSON.
    cases = [case(run([s]), 0, s, len(s) <= 8) for s in seqs]
    o = run(seqs)
    batch = [case(o, b, s, False) for b, s in enumerate(seqs)]
    return cases, batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join('test', 'fixtures', 'models'))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(SEED)
    goldens = {}
    with torch.no_grad():
        for name, cfg in MODELS.items():
            arch = cfg['architectures'][0]
            w = init(cfg, arch, g)
            d = os.path.join(args.out, name)
            os.makedirs(d, exist_ok=True)
            json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
            write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
            cases = []
            for T in LENGTHS:
                ids = torch.randint(0, cfg['vocab_size'], (T,), generator=g).tolist()
                # Sentence A then sentence B, as a tokenizer's pair encoding gives them.
                types = [0] * ((T + 1) // 2) + [1] * (T // 2)
                out = forward(cfg, arch, w, ids, types)
                cases.append(dict(ids=ids, tokenTypeIds=types, **{k: v.reshape(-1).tolist() for k, v in out.items()}))
            goldens[name] = cases
            if name == 'bert-tiny':
                bert_gguf(cfg, w, os.path.join(args.out, 'bert-tiny.gguf'))
        batches = {}
        for name, (cfg, tok, prefix) in FAMILY_MODELS.items():
            goldens[name], batches[name] = family_goldens(name, cfg, tok, prefix, g, args.out)
    header = dict(script='tools/reference/make_encoders.py', reference=f'PyTorch {torch.__version__} (float32, CPU), modeling_bert semantics in plain torch',
                  seed=SEED, layout_version=LAYOUT_VERSION, note='models: per text alone, lastHiddenState (T x H), pooled (H), logits of the head and, for the '
                  'roberta/xlmr/distilbert fixtures, hiddenStates (layers + 1 of T x H) and attentions (layers of heads x T x T); '
                  'batches: the same texts as one padded batch with an attention mask (HF semantics), rows of real tokens only')
    json.dump(dict(header=header, models=goldens, batches=batches), open(os.path.join(args.out, 'encoder-goldens.json'), 'w'))


if __name__ == '__main__':
    main()
