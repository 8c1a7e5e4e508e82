"""Writes tiny random BART, mBART and Marian checkpoints in the Hugging Face layout and weight names
(config.json, model.safetensors, generation_config.json; BART: byte-level BPE tokenizer.json,
vocab.json and merges.txt; Marian: source.spm, target.spm, vocab.json, tokenizer_config.json) and
their PyTorch goldens: encoder outputs, teacher-forced decoder logits, greedy and beam outputs with
scores, and Marian's ids as HF's MarianTokenizer gives them. The forward passes are plain torch
written from the semantics of HF's modeling_bart.py, modeling_mbart.py and modeling_marian.py (no
transformers library here); the beam search is tools/reference/beam_search.py's, with HF's
ForcedBOS / ForcedEOS logits processors. Run with Debian's python3-torch and python3-sentencepiece:

    python3 tools/reference/make_bart_marian.py [--out test/fixtures/models]
"""
import argparse
import importlib.util
import json
import math
import os
import re
import sys
import tempfile
from collections import Counter

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import beam_search as bs  # noqa: E402
from make_models import write_safetensors  # noqa: E402

LAYOUT_VERSION = 1
SEED = 6060
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))

_spec = importlib.util.spec_from_file_location('make_spm', os.path.join(ROOT, 'tools', 'make-spm-tokenizer.py'))
make_spm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_spm)

DIMS = dict(d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4, decoder_attention_heads=4,
            encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64, dropout=0.1, attention_dropout=0.0,
            activation_dropout=0.0, init_std=0.02, encoder_layerdrop=0.0, decoder_layerdrop=0.0, use_cache=True,
            is_encoder_decoder=True)
# facebook/bart-large-cnn's special layout and generation fields; scale_embedding off as in BART.
BART = dict(DIMS, model_type='bart', architectures=['BartForConditionalGeneration'], activation_function='gelu',
            scale_embedding=False, bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2,
            forced_bos_token_id=0, forced_eos_token_id=2)
# mBART: pre-LayerNorm blocks and a final layer_norm in the encoder and the decoder, scaled embeddings.
MBART = dict(DIMS, model_type='mbart', architectures=['MBartForConditionalGeneration'], activation_function='gelu',
             scale_embedding=True, bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2,
             forced_eos_token_id=2)
# Helsinki-NLP/opus-mt-*: swish, sinusoidal positions, scaled embeddings, pad as the decoder start.
MARIAN = dict(DIMS, model_type='marian', architectures=['MarianMTModel'], activation_function='swish',
              scale_embedding=True, static_position_embeddings=True, normalize_embedding=False, add_bias_logits=False,
              share_encoder_decoder_embeddings=True, bos_token_id=0, eos_token_id=0, forced_eos_token_id=0)

CASES = [
    ('es-false-lp1', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=False, max_new_tokens=10, eos='greedy3')),
    ('es-true-lp1', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=True, max_new_tokens=10, eos='greedy3')),
    ('es-false-lp2', dict(num_beams=4, num_return_sequences=2, length_penalty=2.0, early_stopping=False, max_new_tokens=10, eos='greedy3')),
    ('es-never-lp1.5', dict(num_beams=4, num_return_sequences=2, length_penalty=1.5, early_stopping='never', max_new_tokens=8, eos='greedy3')),
    ('ngram2', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=False, max_new_tokens=12, eos='config', no_repeat_ngram_size=2)),
]
GREEDY_TOKENS = 12
DECODER_STEPS = 6


# ---------------------------------------------------------------- BART tokenizer (byte-level BPE)

def bytes_to_unicode():
    """GPT-2's byte alphabet: printable bytes keep their code point, the others move past 255."""
    bs_ = list(range(ord('!'), ord('~') + 1)) + list(range(ord('\xa1'), ord('\xac') + 1)) + list(range(ord('\xae'), ord('\xff') + 1))
    cs = bs_[:]
    n = 0
    for b in range(256):
        if b not in bs_:
            bs_.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs_, map(chr, cs)))


def bart_tokenizer(n_merges=200):
    """A byte-level BPE with BART's ids (<s> 0, <pad> 1, </s> 2, <unk> 3, bytes, merges, <mask> last),
    merges learnt greedily on the corpus lines. Returns (tokenizer.json, vocab.json, merges.txt, vocab size)."""
    b2u = bytes_to_unicode()
    words = Counter()
    for name, text in make_spm.corpus_texts():
        if ':' in name:
            for m in re.finditer(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+", text):
                words[tuple(b2u[b] for b in m.group(0).encode('utf-8'))] += 1
    vocab = {'<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3}
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        vocab.setdefault(a + b, len(vocab))
        nw = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            nw[tuple(out)] += c
        words = nw
    vocab['<mask>'] = len(vocab)
    specials = [(t, vocab[t]) for t in ('<s>', '<pad>', '</s>', '<unk>', '<mask>')]
    added = [dict(id=i, content=t, single_word=False, lstrip=(t == '<mask>'), rstrip=False, normalized=False, special=True) for t, i in specials]
    byte_level = dict(type='ByteLevel', add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok = dict(version='1.0', truncation=None, padding=None, added_tokens=added, normalizer=None, pre_tokenizer=byte_level,
               post_processor=dict(type='RobertaProcessing', sep=['</s>', 2], cls=['<s>', 0], trim_offsets=True, add_prefix_space=False),
               decoder=byte_level,
               model=dict(type='BPE', dropout=None, unk_token=None, continuing_subword_prefix='', end_of_word_suffix='', fuse_unk=False,
                          byte_fallback=False, vocab=vocab, merges=['%s %s' % m for m in merges]))
    merges_txt = '#version: 0.2\n' + ''.join('%s %s\n' % m for m in merges)
    return tok, vocab, merges_txt, len(vocab)


# ---------------------------------------------------------------- Marian tokenizer (two spm + vocab.json)

MARIAN_SPM = dict(model_type='unigram', hard_vocab_limit=False, character_coverage=0.995, num_threads=1, split_by_whitespace=True,
                  unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)


def marian_tokenizer(work):
    """source.spm (nmt_nfkc) on the corpus's Latin-script lines, target.spm (identity rule) on all lines;
    vocab.json as opus-mt writes it: </s> 0, <unk> 1, the union of both models' pieces, <pad> last."""
    import sentencepiece as spm
    lines = [t for n, t in make_spm.corpus_texts() if ':' in n]
    latin = [t for t in lines if all(ord(c) < 0x250 or c.isspace() for c in t)]
    paths = {}
    for side, data, rule, size in (('source', latin, 'nmt_nfkc', 220), ('target', lines, 'identity', 420)):
        train = os.path.join(work, side + '.txt')
        with open(train, 'w', encoding='utf-8') as fh:
            for _ in range(3):
                fh.write('\n'.join(data) + '\n')
        prefix = os.path.join(work, side)
        spm.SentencePieceTrainer.train(input=train, model_prefix=prefix, vocab_size=size, normalization_rule_name=rule, **MARIAN_SPM)
        blob = make_spm.without_paths(prefix + '.model')
        with open(prefix + '.model', 'wb') as fh:
            fh.write(blob)
        paths[side] = prefix + '.model'
    src = spm.SentencePieceProcessor(model_file=paths['source'])
    tgt = spm.SentencePieceProcessor(model_file=paths['target'])
    vocab = {'</s>': 0, '<unk>': 1}
    for sp in (src, tgt):
        for i in range(sp.get_piece_size()):
            p = sp.id_to_piece(i)
            if sp.is_control(i) or sp.is_unknown(i):
                continue
            vocab.setdefault(p, len(vocab))
    vocab['>>fr<<'] = len(vocab)
    vocab['<pad>'] = len(vocab)
    return paths, src, tgt, vocab


LANG_CODE = re.compile(r'>>.+?<<')


def marian_encode(src, vocab, text):
    """MarianTokenizer: a leading >>lang<< code kept as one token (every code removed from the text),
    the text split around its special tokens, each part encoded by source.spm as pieces, the pieces
    looked up in vocab.json (<unk> when missing), </s> appended."""
    m = LANG_CODE.match(text)
    code = [m.group(0)] if m else []
    text = LANG_CODE.sub('', text)
    ids = [vocab[c] for c in code]
    for part in re.split(r'(</s>|<unk>|<pad>)', text):
        if part in ('</s>', '<unk>', '<pad>'):
            ids.append(vocab[part])
        elif part:
            ids += [vocab.get(p, vocab['<unk>']) for p in src.encode(part, out_type=str)]
    return ids + [vocab['</s>']]


def marian_decode(tgt, vocab, ids, skip_special):
    """MarianTokenizer.decode: ids to pieces through vocab.json, special tokens kept apart (or skipped),
    the rest joined by target.spm's decode_pieces, '▁' to spaces, stripped."""
    inv = {i: p for p, i in vocab.items()}
    specials = ('</s>', '<unk>', '<pad>')
    out, cur = '', []
    for i in ids:
        t = inv[i]
        if t in specials:
            if skip_special:
                continue
            out += tgt.decode_pieces(cur) + t + ' '
            cur = []
        else:
            cur.append(t)
    out += tgt.decode_pieces(cur)
    return out.replace('\u2581', ' ').strip()


# ---------------------------------------------------------------- weights

def init(cfg, g, kind):
    """Random weights under HF's names; biases and LayerNorm parameters random too, so that every
    term of the forward pass shows in the goldens."""
    C, V = cfg['d_model'], cfg['vocab_size']
    r = lambda *s, std=1.0: torch.randn(*s, generator=g) * std
    ln = lambda p: {p + '.weight': 1.0 + 0.1 * torch.randn(C, generator=g), p + '.bias': 0.1 * torch.randn(C, generator=g)}
    w = {'model.shared.weight': r(V, C, std=1.0)}
    # Marian's sinusoidal tables are not saved (MarianMTModel._keys_to_ignore_on_save).
    if kind != 'marian':
        for side in ('encoder', 'decoder'):
            w['model.%s.embed_positions.weight' % side] = r(cfg['max_position_embeddings'] + 2, C, std=0.5)

    def attn(p):
        for n in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
            w['%s.%s.weight' % (p, n)] = r(C, C, std=C ** -0.5)
            w['%s.%s.bias' % (p, n)] = r(C, std=0.1)

    def ffn(p, F):
        w[p + 'fc1.weight'] = r(F, C, std=C ** -0.5)
        w[p + 'fc1.bias'] = r(F, std=0.1)
        w[p + 'fc2.weight'] = r(C, F, std=F ** -0.5)
        w[p + 'fc2.bias'] = r(C, std=0.1)

    for i in range(cfg['encoder_layers']):
        p = 'model.encoder.layers.%d.' % i
        attn(p + 'self_attn')
        w.update(ln(p + 'self_attn_layer_norm'))
        ffn(p, cfg['encoder_ffn_dim'])
        w.update(ln(p + 'final_layer_norm'))
    for i in range(cfg['decoder_layers']):
        p = 'model.decoder.layers.%d.' % i
        attn(p + 'self_attn')
        w.update(ln(p + 'self_attn_layer_norm'))
        attn(p + 'encoder_attn')
        w.update(ln(p + 'encoder_attn_layer_norm'))
        ffn(p, cfg['decoder_ffn_dim'])
        w.update(ln(p + 'final_layer_norm'))
    if kind in ('bart', 'mbart'):
        w.update(ln('model.encoder.layernorm_embedding'))
        w.update(ln('model.decoder.layernorm_embedding'))
    if kind == 'mbart':
        w.update(ln('model.encoder.layer_norm'))
        w.update(ln('model.decoder.layer_norm'))
    w['final_logits_bias'] = r(1, V, std=0.5)
    return w


def sinusoidal(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight: sin of pos / 10000^(2k/dim) in columns [0, dim/2),
    cos in [dim/2, dim)."""
    enc = torch.tensor([[pos / math.pow(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)], dtype=torch.float64)
    out = torch.zeros(n_pos, dim, dtype=torch.float64)
    half = dim // 2
    out[:, :half] = torch.sin(enc[:, 0::2])
    out[:, half:] = torch.cos(enc[:, 1::2])
    return out.float()


# ---------------------------------------------------------------- forward (modeling_bart / mbart / marian)

def layer_norm(x, w, p):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w[p + '.weight'], w[p + '.bias'], 1e-5)


def linear(x, w, p):
    return x @ w[p + '.weight'].T + w[p + '.bias']


def attention(x, kv, w, p, heads, causal):
    """BartAttention: q scaled by head_dim ** -0.5 after its bias, softmax, out_proj."""
    tq, tk, C = x.shape[0], kv.shape[0], x.shape[1]
    D = C // heads
    q = (linear(x, w, p + '.q_proj') * D ** -0.5).view(tq, heads, D).transpose(0, 1)
    k = linear(kv, w, p + '.k_proj').view(tk, heads, D).transpose(0, 1)
    v = linear(kv, w, p + '.v_proj').view(tk, heads, D).transpose(0, 1)
    s = q @ k.transpose(1, 2)
    if causal:
        s = s.masked_fill(torch.ones(tq, tk, dtype=torch.bool).triu(1 + tk - tq), float('-inf'))
    a = torch.softmax(s, dim=-1) @ v
    return linear(a.transpose(0, 1).reshape(tq, C), w, p + '.out_proj')


def act(cfg, x):
    f = cfg['activation_function']
    if f == 'gelu':
        return torch.nn.functional.gelu(x)
    if f in ('swish', 'silu'):
        return torch.nn.functional.silu(x)
    raise ValueError(f)


def embed(cfg, w, kind, side, ids):
    scale = math.sqrt(cfg['d_model']) if cfg['scale_embedding'] else 1.0
    x = w['model.shared.weight'][ids] * scale
    pos = torch.arange(len(ids))
    if kind == 'marian':
        x = x + sinusoidal(cfg['max_position_embeddings'], cfg['d_model'])[pos]
    else:
        # BartLearnedPositionalEmbedding: position p reads row p + 2.
        x = x + w['model.%s.embed_positions.weight' % side][pos + 2]
        x = layer_norm(x, w, 'model.%s.layernorm_embedding' % side)
    return x


def encode(cfg, w, kind, ids):
    """(T) ids -> (T, C) the encoder's last hidden state."""
    pre = kind == 'mbart'
    x = embed(cfg, w, kind, 'encoder', ids)
    for i in range(cfg['encoder_layers']):
        p = 'model.encoder.layers.%d.' % i
        if pre:
            x = x + attention(layer_norm(x, w, p + 'self_attn_layer_norm'), layer_norm(x, w, p + 'self_attn_layer_norm'), w, p + 'self_attn', cfg['encoder_attention_heads'], False)
            h = layer_norm(x, w, p + 'final_layer_norm')
            x = x + linear(act(cfg, linear(h, w, p + 'fc1')), w, p + 'fc2')
        else:
            x = layer_norm(x + attention(x, x, w, p + 'self_attn', cfg['encoder_attention_heads'], False), w, p + 'self_attn_layer_norm')
            x = layer_norm(x + linear(act(cfg, linear(x, w, p + 'fc1')), w, p + 'fc2'), w, p + 'final_layer_norm')
    if pre:
        x = layer_norm(x, w, 'model.encoder.layer_norm')
    return x


def decode(cfg, w, kind, enc, ids):
    """(n) decoder ids (start token first) over the encoder output -> (n, V) logits."""
    pre = kind == 'mbart'
    H = cfg['decoder_attention_heads']
    x = embed(cfg, w, kind, 'decoder', ids)
    for i in range(cfg['decoder_layers']):
        p = 'model.decoder.layers.%d.' % i
        if pre:
            h = layer_norm(x, w, p + 'self_attn_layer_norm')
            x = x + attention(h, h, w, p + 'self_attn', H, True)
            x = x + attention(layer_norm(x, w, p + 'encoder_attn_layer_norm'), enc, w, p + 'encoder_attn', H, False)
            x = x + linear(act(cfg, linear(layer_norm(x, w, p + 'final_layer_norm'), w, p + 'fc1')), w, p + 'fc2')
        else:
            x = layer_norm(x + attention(x, x, w, p + 'self_attn', H, True), w, p + 'self_attn_layer_norm')
            x = layer_norm(x + attention(x, enc, w, p + 'encoder_attn', H, False), w, p + 'encoder_attn_layer_norm')
            x = layer_norm(x + linear(act(cfg, linear(x, w, p + 'fc1')), w, p + 'fc2'), w, p + 'final_layer_norm')
    if pre:
        x = layer_norm(x, w, 'model.decoder.layer_norm')
    # lm_head is tied to the shared embeddings; final_logits_bias is added to every position.
    return x @ w['model.shared.weight'].T + w['final_logits_bias'][0]


# ---------------------------------------------------------------- generation

def forced(cfg, max_new):
    """ForcedBOSTokenLogitsProcessor (the first generated token) and ForcedEOSTokenLogitsProcessor (the
    token that reaches max_length = max_new + 1, the start token counted): every other score -inf, the
    forced one 0."""
    bos, eos = cfg.get('forced_bos_token_id'), cfg.get('forced_eos_token_id')

    def process(scores, gen):
        tok = bos if gen == 0 and bos is not None else eos if gen == max_new - 1 and eos is not None else None
        if tok is not None:
            scores[:, :] = -float('inf')
            scores[:, tok] = 0
    return process


def greedy(cfg, w, kind, enc, n):
    """n arg-max tokens with the config's forced tokens, not stopping at EOS."""
    start = cfg['decoder_start_token_id']
    seq = [start]
    process = forced(cfg, n)
    with torch.no_grad():
        for gen in range(n):
            s = torch.log_softmax(decode(cfg, w, kind, enc, torch.tensor(seq))[-1:], dim=-1)
            process(s, gen)
            seq.append(int(s[0].argmax()))
    return seq[1:]


def goldens_for(cfg, w, kind, inputs, g):
    out = []
    start = cfg['decoder_start_token_id']
    V = cfg['vocab_size']
    with torch.no_grad():
        for ids in inputs:
            enc = encode(cfg, w, kind, torch.tensor(ids))
            dec_ids = [start] + torch.randint(4, V - 1, (DECODER_STEPS - 1,), generator=g).tolist()
            logits = decode(cfg, w, kind, enc, torch.tensor(dec_ids))
            fwd = lambda _c, _w, seq, enc=enc: decode(cfg, w, kind, enc, seq)
            gr = greedy(cfg, w, kind, enc, GREEDY_TOKENS)
            # The 3rd token the model picks without forcing: an EOS that finishes hypotheses early.
            free = bs.greedy(fwd, cfg, w, [start], 3)
            beams = []
            for name, o in CASES:
                eos = [free[2]] if o['eos'] == 'greedy3' else [cfg['eos_token_id']]
                seqs = bs.beam_search(fwd, cfg, w, [start], o, eos, forced(cfg, o['max_new_tokens']))
                beams.append(dict(name=name, eos=eos, options={k: v for k, v in o.items() if k != 'eos'}, sequences=seqs))
                print('  %s: %s' % (name, ' | '.join('%s %.4f%s' % (s['ids'], s['score'], ' eos' if s['eos'] else '') for s in seqs)))
            out.append(dict(input=ids, encoder=enc.reshape(-1).tolist(), decoderIds=dec_ids, logits=logits.reshape(-1).tolist(),
                            greedy=gr, beams=beams))
    return out


# ---------------------------------------------------------------- files

def write_json(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write('\n')


def generation_config(cfg):
    keys = ('bos_token_id', 'decoder_start_token_id', 'eos_token_id', 'forced_bos_token_id', 'forced_eos_token_id', 'pad_token_id')
    return dict({k: cfg[k] for k in keys if cfg.get(k) is not None}, num_beams=4, max_length=12, early_stopping=True, no_repeat_ngram_size=3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(ROOT, 'test', 'fixtures', 'models'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    work = tempfile.mkdtemp(prefix='bart-marian-')
    import shutil
    import sentencepiece as spm_mod

    tok, bpe_vocab, merges_txt, bart_v = bart_tokenizer()
    paths, src, tgt, mvocab = marian_tokenizer(work)
    marian_v = len(mvocab)
    texts = ['Hello world, this is a test.', 'The quick brown fox -- jumps over 3 lazy dogs!', '  spaces   and\ttabs  ',
             '>>fr<< Translate this sentence.', 'unknown ༀ symbols </s> inside', '', 'a code >>fr<< mid-text', ' >>fr<< after a space']
    goldens = dict(header=dict(script='tools/reference/make_bart_marian.py',
                               reference='PyTorch %s (float32, CPU), forwards written from HF modeling_bart / modeling_mbart / modeling_marian '
                                         'semantics; beams: tools/reference/beam_search.py (HF BeamSearchScorer semantics) with ForcedBOS/ForcedEOS '
                                         'logits processors; Marian ids: sentencepiece %s with MarianTokenizer semantics'
                                         % (torch.__version__, spm_mod.__version__),
                               seed=SEED, layout_version=LAYOUT_VERSION,
                               note='encoder: (T, C) row-major; logits: (n, V) teacher-forced over decoderIds (start token first); greedy and '
                                    'beam ids exclude the start token; greedy: GREEDY_TOKENS tokens, not stopping at EOS; every run applies the '
                                    "config's forced_bos_token_id / forced_eos_token_id as HF generate does (eos 'greedy3' overrides eos_token_id only)"),
                   marianTokenizer=[dict(text=t, ids=marian_encode(src, mvocab, t)) for t in texts],
                   marianDecode=[], models={})
    dg = torch.Generator().manual_seed(SEED + 1)
    for _ in range(4):
        ids = torch.randint(0, marian_v, (12,), generator=dg).tolist()
        goldens['marianDecode'].append(dict(ids=ids, text=marian_decode(tgt, mvocab, ids, False), skipSpecial=marian_decode(tgt, mvocab, ids, True)))
    for t in texts:
        ids = marian_encode(src, mvocab, t)
        goldens['marianDecode'].append(dict(ids=ids, text=marian_decode(tgt, mvocab, ids, False), skipSpecial=marian_decode(tgt, mvocab, ids, True)))

    specs = (('bart-tiny', 'bart', dict(BART, vocab_size=bart_v)),
             ('mbart-tiny', 'mbart', dict(MBART, vocab_size=bart_v)),
             ('marian-tiny', 'marian', dict(MARIAN, vocab_size=marian_v, decoder_vocab_size=marian_v, pad_token_id=mvocab['<pad>'],
                                            decoder_start_token_id=mvocab['<pad>'])))
    for name, kind, cfg in specs:
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        w = init(cfg, g, kind)
        write_json(os.path.join(d, 'config.json'), cfg)
        write_json(os.path.join(d, 'generation_config.json'), generation_config(cfg))
        # save_pretrained keeps one copy of the tied embeddings (model.shared.weight): no
        # encoder/decoder embed_tokens and no lm_head.weight in the file.
        write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
        if kind == 'marian':
            shutil.copy(paths['source'], os.path.join(d, 'source.spm'))
            shutil.copy(paths['target'], os.path.join(d, 'target.spm'))
            write_json(os.path.join(d, 'vocab.json'), mvocab)
            write_json(os.path.join(d, 'tokenizer_config.json'), dict(source_lang='en', target_lang='fr', separate_vocabs=False, model_max_length=512,
                                                                       eos_token='</s>', unk_token='<unk>', pad_token='<pad>', tokenizer_class='MarianTokenizer'))
            inputs = [marian_encode(src, mvocab, texts[0]), torch.randint(2, marian_v - 1, (23,), generator=g).tolist()]
        else:
            write_json(os.path.join(d, 'tokenizer.json'), tok)
            write_json(os.path.join(d, 'vocab.json'), bpe_vocab)
            with open(os.path.join(d, 'merges.txt'), 'w', encoding='utf-8') as f:
                f.write(merges_txt)
            inputs = [[0] + torch.randint(4, bart_v - 1, (5,), generator=g).tolist() + [2], [0] + torch.randint(4, bart_v - 1, (21,), generator=g).tolist() + [2]]
        print(name)
        goldens['models'][name] = goldens_for(cfg, w, kind, inputs, g)
    with open(os.path.join(args.out, 'bart-marian-goldens.json'), 'w') as f:
        json.dump(goldens, f)


if __name__ == '__main__':
    main()
