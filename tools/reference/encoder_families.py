"""RoBERTa, XLM-RoBERTa and DistilBERT for make_encoders.py: random weights under HF's real names,
a padded-batch forward pass in plain torch written from HF modeling_roberta / modeling_distilbert
(eval mode: attention mask as finfo.min on padded keys, as HF's extended mask), and the tiny
tokenizer.json files (byte-level BPE for RoBERTa, Unigram for XLM-R) the fixtures carry.
"""
import math

import torch

ROBERTA_BASE = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                    hidden_act='gelu', hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=50,
                    type_vocab_size=1, initializer_range=0.02, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
                    eos_token_id=2, position_embedding_type='absolute', use_cache=True, classifier_dropout=None)
DISTILBERT_BASE = dict(model_type='distilbert', vocab_size=120, dim=32, n_layers=2, n_heads=4, hidden_dim=64, activation='gelu',
                       dropout=0.1, attention_dropout=0.1, max_position_embeddings=64, sinusoidal_pos_embds=False,
                       initializer_range=0.02, qa_dropout=0.1, seq_classif_dropout=0.2, pad_token_id=0, tie_weights_=True)


def act(name, x):
    if name == 'gelu':
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if name == 'relu':
        return torch.relu(x)
    if name in ('gelu_new', 'gelu_pytorch_tanh'):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError(name)


def sinusoidal_table(n_pos, dim):
    """modeling_distilbert.create_sinusoidal_embeddings: sin on even columns, cos on odd ones."""
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    enc = pos / torch.pow(10000, 2 * torch.div(j, 2, rounding_mode='floor') / dim)
    out = torch.zeros(n_pos, dim, dtype=torch.float64)
    out[:, 0::2] = torch.sin(enc[:, 0::2])
    out[:, 1::2] = torch.cos(enc[:, 1::2])
    return out.float()


def _rand(g, std):
    r = lambda *s: torch.randn(*s, generator=g) * std
    return r


def roberta_init(cfg, arch, g, std=0.2, prefix=None):
    """RobertaModel keys have no prefix (unless `prefix` says so); heads put the encoder under 'roberta.'."""
    H, I, V, P, TV = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size'], cfg['max_position_embeddings'], cfg['type_vocab_size']
    r = _rand(g, std)
    ln = lambda: (1 + torch.randn(H, generator=g) * 0.1, torch.randn(H, generator=g) * 0.1)
    bare = arch.endswith('Model')
    pre = prefix if prefix is not None else ('' if bare else 'roberta.')
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
    # Only the bare model is built with add_pooling_layer=True.
    if bare:
        w[pre + 'pooler.dense.weight'], w[pre + 'pooler.dense.bias'] = r(H, H), r(H)
    if arch.endswith('ForMaskedLM'):
        w['lm_head.dense.weight'], w['lm_head.dense.bias'] = r(H, H), r(H)
        w['lm_head.layer_norm.weight'], w['lm_head.layer_norm.bias'] = ln()
        # Tied: save_pretrained keeps lm_head.bias and drops the decoder's copies of it and the table.
        w['lm_head.bias'] = r(V)
    if arch.endswith('ForSequenceClassification'):
        n = len(cfg['id2label'])
        w['classifier.dense.weight'], w['classifier.dense.bias'] = r(H, H), r(H)
        w['classifier.out_proj.weight'], w['classifier.out_proj.bias'] = r(n, H), r(n)
    if arch.endswith('ForTokenClassification'):
        n = len(cfg['id2label'])
        w['classifier.weight'], w['classifier.bias'] = r(n, H), r(n)
    return w


def distilbert_init(cfg, arch, g, std=0.2):
    H, I, V, P = cfg['dim'], cfg['hidden_dim'], cfg['vocab_size'], cfg['max_position_embeddings']
    r = _rand(g, std)
    ln = lambda: (1 + torch.randn(H, generator=g) * 0.1, torch.randn(H, generator=g) * 0.1)
    pre = '' if arch == 'DistilBertModel' else 'distilbert.'
    w = {}
    w[pre + 'embeddings.word_embeddings.weight'] = r(V, H) * 5
    # HF writes the sin/cos table into the position weight when it builds the module, and saves it.
    w[pre + 'embeddings.position_embeddings.weight'] = sinusoidal_table(P, H) if cfg['sinusoidal_pos_embds'] else r(P, H) * 5
    w[pre + 'embeddings.LayerNorm.weight'], w[pre + 'embeddings.LayerNorm.bias'] = ln()
    for i in range(cfg['n_layers']):
        p = f'{pre}transformer.layer.{i}.'
        for n in ('q_lin', 'k_lin', 'v_lin', 'out_lin'):
            w[p + f'attention.{n}.weight'], w[p + f'attention.{n}.bias'] = r(H, H), r(H)
        w[p + 'sa_layer_norm.weight'], w[p + 'sa_layer_norm.bias'] = ln()
        w[p + 'ffn.lin1.weight'], w[p + 'ffn.lin1.bias'] = r(I, H), r(I)
        w[p + 'ffn.lin2.weight'], w[p + 'ffn.lin2.bias'] = r(H, I), r(H)
        w[p + 'output_layer_norm.weight'], w[p + 'output_layer_norm.bias'] = ln()
    if arch == 'DistilBertForMaskedLM':
        w['vocab_transform.weight'], w['vocab_transform.bias'] = r(H, H), r(H)
        w['vocab_layer_norm.weight'], w['vocab_layer_norm.bias'] = ln()
        w['vocab_projector.bias'] = r(V)
    if arch == 'DistilBertForSequenceClassification':
        n = len(cfg['id2label'])
        w['pre_classifier.weight'], w['pre_classifier.bias'] = r(H, H), r(H)
        w['classifier.weight'], w['classifier.bias'] = r(n, H), r(n)
    if arch == 'DistilBertForTokenClassification':
        n = len(cfg['id2label'])
        w['classifier.weight'], w['classifier.bias'] = r(n, H), r(n)
    return w


def create_position_ids_from_input_ids(ids, padding_idx):
    """modeling_roberta: cumsum of the non-pad mask, times the mask, plus padding_idx."""
    mask = ids.ne(padding_idx).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + padding_idx


def forward(cfg, arch, w, ids, types, mask):
    """A padded batch: ids, types, mask (B, T) long. Returns per-batch tensors: hidden states of
    every layer (embeddings first), attention probabilities of every layer (B, heads, T, T), the
    pooled output where the model has a pooler, and the head's logits."""
    distil = cfg['model_type'] == 'distilbert'
    H = cfg['dim'] if distil else cfg['hidden_size']
    nh = cfg['n_heads'] if distil else cfg['num_attention_heads']
    L = cfg['n_layers'] if distil else cfg['num_hidden_layers']
    eps = 1e-12 if distil else cfg['layer_norm_eps']
    hidden_act = cfg['activation'] if distil else cfg['hidden_act']
    d = H // nh
    B, T = ids.shape
    pre = next(p for p in ('roberta.', 'distilbert.', '') if p + 'embeddings.word_embeddings.weight' in w)
    ln = lambda x, p, e=eps: torch.nn.functional.layer_norm(x, (H,), w[p + '.weight'], w[p + '.bias'], e)
    lin = lambda x, p: x @ w[p + '.weight'].T + w[p + '.bias']
    e = pre + 'embeddings.'
    if distil:
        pos = torch.arange(T)[None, :].expand(B, T)
        x = w[e + 'word_embeddings.weight'][ids] + w[e + 'position_embeddings.weight'][pos]
    else:
        pos = create_position_ids_from_input_ids(ids, cfg['pad_token_id'])
        x = w[e + 'word_embeddings.weight'][ids] + w[e + 'token_type_embeddings.weight'][types] + w[e + 'position_embeddings.weight'][pos]
    x = ln(x, e + 'LayerNorm')
    # HF's extended attention mask: 0 on kept keys, the float32 minimum on padded ones.
    bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    hidden_states, attentions = [x], []
    names = (('attention.q_lin', 'attention.k_lin', 'attention.v_lin', 'attention.out_lin', 'sa_layer_norm', 'ffn.lin1', 'ffn.lin2', 'output_layer_norm') if distil else
             ('attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense', 'attention.output.LayerNorm',
              'intermediate.dense', 'output.dense', 'output.LayerNorm'))
    for i in range(L):
        p = f'{pre}transformer.layer.{i}.' if distil else f'{pre}encoder.layer.{i}.'
        qn, kn, vn, on, n1, up, down, n2 = (p + n for n in names)
        heads = lambda t: t.view(B, T, nh, d).transpose(1, 2)  # (B, nh, T, d)
        q, k, v = heads(lin(x, qn)), heads(lin(x, kn)), heads(lin(x, vn))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
        attentions.append(probs)
        a = (probs @ v).transpose(1, 2).reshape(B, T, H)
        x = ln(lin(a, on) + x, n1)
        x = ln(lin(act(hidden_act, lin(x, up)), down) + x, n2)
        hidden_states.append(x)
    out = dict(hiddenStates=hidden_states, attentions=attentions, lastHiddenState=x)
    if pre + 'pooler.dense.weight' in w:
        out['pooled'] = torch.tanh(lin(x[:, 0], pre + 'pooler.dense'))
    if arch.endswith('ForMaskedLM'):
        if distil:
            t = ln(act(hidden_act, lin(x, 'vocab_transform')), 'vocab_layer_norm', 1e-12)
            out['logits'] = t @ w[e + 'word_embeddings.weight'].T + w['vocab_projector.bias']
        else:
            # RobertaLMHead: gelu (erf) whatever hidden_act says, then layer_norm and the tied decoder.
            t = ln(act('gelu', lin(x, 'lm_head.dense')), 'lm_head.layer_norm')
            out['logits'] = t @ w[e + 'word_embeddings.weight'].T + w['lm_head.bias']
    if arch.endswith('ForSequenceClassification'):
        if distil:
            out['logits'] = lin(torch.relu(lin(x[:, 0], 'pre_classifier')), 'classifier')
        else:
            out['logits'] = lin(torch.tanh(lin(x[:, 0], 'classifier.dense')), 'classifier.out_proj')
    if arch.endswith('ForTokenClassification'):
        out['logits'] = lin(x, 'classifier')
    return out


# ---------------------------------------------------------------- tokenizers

def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table, which byte-level BPE vocabularies use."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


CORPUS = 'the quick brown fox jumps over the lazy dog. the dog sleeps; the fox runs. hello world, hello there.'


def _special(content, id_, lstrip=False):
    return dict(id=id_, content=content, single_word=False, lstrip=lstrip, rstrip=False, normalized=False, special=True)


def roberta_tokenizer(n_merges=24):
    """A byte-level BPE tokenizer.json as roberta-base's, with merges learned greedily on CORPUS:
    <s> <pad> </s> <unk>, the 256 byte symbols, the merges' symbols, then <mask>."""
    b2u = bytes_to_unicode()
    vocab = {'<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3}
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    words = []
    for i, wd in enumerate(CORPUS.split(' ')):
        words.append([b2u[c] for c in ((' ' if i else '') + wd).encode('utf-8')])
    merges = []
    for _ in range(n_merges):
        counts = {}
        for wd in words:
            for a, b in zip(wd, wd[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(sorted(counts), key=lambda k: counts[k])
        merges.append(f'{best[0]} {best[1]}')
        vocab[best[0] + best[1]] = len(vocab)
        for j, wd in enumerate(words):
            out, k = [], 0
            while k < len(wd):
                if k + 1 < len(wd) and (wd[k], wd[k + 1]) == best:
                    out.append(wd[k] + wd[k + 1])
                    k += 2
                else:
                    out.append(wd[k])
                    k += 1
            words[j] = out
    mask = len(vocab)
    vocab['<mask>'] = mask
    return dict(
        version='1.0', truncation=None, padding=None,
        added_tokens=[_special('<s>', 0), _special('<pad>', 1), _special('</s>', 2), _special('<unk>', 3), _special('<mask>', mask, lstrip=True)],
        normalizer=None,
        pre_tokenizer=dict(type='ByteLevel', add_prefix_space=False, trim_offsets=True, use_regex=True),
        post_processor=dict(type='RobertaProcessing', sep=['</s>', 2], cls=['<s>', 0], trim_offsets=True, add_prefix_space=False),
        decoder=dict(type='ByteLevel', add_prefix_space=True, trim_offsets=True, use_regex=True),
        model=dict(type='BPE', dropout=None, unk_token=None, continuing_subword_prefix='', end_of_word_suffix='', fuse_unk=False,
                   byte_fallback=False, vocab=vocab, merges=merges)), len(vocab)


def xlmr_tokenizer():
    """A Unigram tokenizer.json laid out as xlm-roberta-base's (<s> <pad> </s> <unk> first, <mask>
    last, Metaspace, the <s> A </s> </s> B </s> template), over the characters and words of CORPUS;
    without the Precompiled charsmap (hundreds of KB), which only normalizes unusual characters."""
    words = sorted(set(CORPUS.replace('.', ' .').replace(',', ' ,').replace(';', ' ;').split()))
    chars = sorted(set(CORPUS.replace(' ', '')))
    pieces = [['<s>', 0.0], ['<pad>', 0.0], ['</s>', 0.0], ['<unk>', 0.0], ['▁', -3.0]]
    pieces += [['▁' + wd, -4.0 - 0.1 * i] for i, wd in enumerate(words)]
    pieces += [[c, -8.0 - 0.05 * i] for i, c in enumerate(chars)]
    mask = len(pieces)
    pieces.append(['<mask>', 0.0])
    st = lambda t: {'SpecialToken': {'id': t, 'type_id': 0}}
    sq = lambda s: {'Sequence': {'id': s, 'type_id': 0}}
    return dict(
        version='1.0', truncation=None, padding=None,
        added_tokens=[_special('<s>', 0), _special('<pad>', 1), _special('</s>', 2), _special('<unk>', 3), _special('<mask>', mask, lstrip=True)],
        normalizer=dict(type='Sequence', normalizers=[dict(type='Replace', pattern=dict(Regex=' {2,}'), content=' ')]),
        pre_tokenizer=dict(type='Metaspace', replacement='▁', prepend_scheme='always', split=True),
        post_processor=dict(type='TemplateProcessing', single=[st('<s>'), sq('A'), st('</s>')],
                            pair=[st('<s>'), sq('A'), st('</s>'), st('</s>'), sq('B'), st('</s>')],
                            special_tokens={t: dict(id=t, ids=[i], tokens=[t]) for t, i in (('<s>', 0), ('</s>', 2))}),
        decoder=dict(type='Metaspace', replacement='▁', prepend_scheme='always', split=True),
        model=dict(type='Unigram', unk_id=3, vocab=pieces, byte_fallback=False)), len(pieces)
