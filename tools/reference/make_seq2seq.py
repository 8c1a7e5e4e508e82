"""Writes tiny random T5 checkpoints in the Hugging Face layout (v1.0: ReLU FFN, tied head; v1.1:
gated-GELU, untied lm_head, sharded safetensors, generation_config.json) with a T5-style Unigram
tokenizer.json, and their PyTorch goldens: encoder outputs, teacher-forced decoder logits, greedy
and beam outputs. The forward pass is plain torch written from the semantics of HF's modeling_t5.py
(no transformers library here); the beam search is tools/reference/beam_search.py's. Run with
Debian's python3-torch and python3-sentencepiece:

    python3 tools/reference/make_seq2seq.py [--out test/fixtures/models]
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import beam_search as bs  # noqa: E402
from make_models import write_safetensors  # noqa: E402

LAYOUT_VERSION = 1
SEED = 5150
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))

# tools/make-spm-tokenizer.py's protobuf reader and corpus (its file name has a hyphen).
_spec = importlib.util.spec_from_file_location('make_spm', os.path.join(ROOT, 'tools', 'make-spm-tokenizer.py'))
make_spm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_spm)

# T5's special ids: <pad> 0 (also the decoder start), </s> 1, <unk> 2; no BOS.
T5_SPECIALS = dict(pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
SPM_OPTIONS = dict(model_type='unigram', vocab_size=300, hard_vocab_limit=False, normalization_rule_name='nmt_nfkc',
                   character_coverage=0.9995, num_threads=1, split_by_whitespace=True, byte_fallback=False, **T5_SPECIALS)
EXTRA_IDS = 4

BASE = dict(d_model=32, d_kv=8, num_heads=4, num_layers=2, num_decoder_layers=3, relative_attention_num_buckets=8,
            relative_attention_max_distance=20, layer_norm_epsilon=1e-6, dropout_rate=0.1, initializer_factor=1.0,
            is_encoder_decoder=True, use_cache=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
V10 = dict(BASE, model_type='t5', architectures=['T5ForConditionalGeneration'], d_ff=64, feed_forward_proj='relu', tie_word_embeddings=True)
V11 = dict(BASE, model_type='t5', architectures=['T5ForConditionalGeneration'], d_ff=48, feed_forward_proj='gated-gelu', tie_word_embeddings=False)
# v1.1's generation_config.json: generate() without options uses these.
V11_GENERATION = dict(decoder_start_token_id=0, eos_token_id=1, pad_token_id=0, num_beams=4, max_length=9, length_penalty=1.0, early_stopping=False)

# Beam cases (4 beams, 2 returned); eos 'greedy3' = the model's greedy 3rd new token, so hypotheses
# finish early, 'config' = the config's eos_token_id.
CASES = [
    ('es-false-lp1', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=False, max_new_tokens=10, eos='greedy3')),
    ('es-true-lp1', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=True, max_new_tokens=10, eos='greedy3')),
    ('es-false-lp2', dict(num_beams=4, num_return_sequences=2, length_penalty=2.0, early_stopping=False, max_new_tokens=10, eos='greedy3')),
    ('es-never-lp1.5', dict(num_beams=4, num_return_sequences=2, length_penalty=1.5, early_stopping='never', max_new_tokens=8, eos='greedy3')),
    ('ngram2', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=False, max_new_tokens=12, eos='config', no_repeat_ngram_size=2)),
    ('min-new-5', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=False, max_new_tokens=10, eos='greedy3', min_new_tokens=5)),
]
GREEDY_TOKENS = 12
DECODER_STEPS = 6


# ---------------------------------------------------------------- tokenizer

def t5_tokenizer(vocab_size):
    """A sentencepiece Unigram model trained on the tokenizer corpus with T5's special ids, converted as
    transformers' T5Converter does: Precompiled charsmap + Replace(' {2,}'), Metaspace, $A </s>, and
    <extra_id_N> added tokens after the pieces. Returns (tokenizer.json dict, pieces, sentencepiece processor)."""
    import sentencepiece as spm
    work = tempfile.mkdtemp(prefix='t5spm-')
    train = os.path.join(work, 'train.txt')
    with open(train, 'w', encoding='utf-8') as fh:
        for _ in range(3):
            for name, text in make_spm.corpus_texts():
                if ':' in name:
                    fh.write(text + '\n')
    prefix = os.path.join(work, 'm')
    spm.SentencePieceTrainer.train(input=train, model_prefix=prefix, **SPM_OPTIONS)
    pieces, charsmap, _ = make_spm.read_model(prefix + '.model')
    sp = spm.SentencePieceProcessor(model_file=prefix + '.model')
    n = len(pieces)
    assert n + EXTRA_IDS <= vocab_size, (n, vocab_size)
    added = [dict(id=i, content=p, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
             for i, (p, _, kind) in enumerate(pieces) if kind in (2, 3)]
    # <extra_id_0> is the last id (T5 counts them down from the end of the pieces).
    for j in range(EXTRA_IDS):
        added.append(dict(id=n + EXTRA_IDS - 1 - j, content='<extra_id_%d>' % j, single_word=False, lstrip=False, rstrip=False,
                          normalized=False, special=True))
    added.sort(key=lambda a: a['id'])
    vocab = [[p, float(s)] for p, s, _ in pieces] + [['<extra_id_%d>' % (EXTRA_IDS - 1 - j), 0.0] for j in range(EXTRA_IDS)]
    meta = {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'always', 'split': True}
    eos = pieces[1][0]
    tok = {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': added,
        'normalizer': {'type': 'Sequence', 'normalizers': [
            {'type': 'Precompiled', 'precompiled_charsmap': __import__('base64').b64encode(charsmap).decode('ascii')},
            {'type': 'Replace', 'pattern': {'Regex': ' {2,}'}, 'content': ' '},
        ]},
        'pre_tokenizer': meta,
        'post_processor': {'type': 'TemplateProcessing',
                           'single': [{'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': eos, 'type_id': 0}}],
                           'pair': [{'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': eos, 'type_id': 0}},
                                    {'Sequence': {'id': 'B', 'type_id': 0}}, {'SpecialToken': {'id': eos, 'type_id': 0}}],
                           'special_tokens': {eos: {'id': eos, 'ids': [1], 'tokens': [eos]}}},
        'decoder': meta,
        'model': {'type': 'Unigram', 'unk_id': 2, 'vocab': vocab, 'byte_fallback': False},
    }
    return tok, sp


# ---------------------------------------------------------------- weights

def ffn_names(prefix, gated):
    return [prefix + n for n in (('wi_0', 'wi_1', 'wo') if gated else ('wi', 'wo'))]


def init(cfg, g):
    """Random weights under HF's T5 names, scaled so that logits are peaked enough for beams to differ."""
    C, H, D, F, V = cfg['d_model'], cfg['num_heads'], cfg['d_kv'], cfg['d_ff'], cfg['vocab_size']
    gated = cfg['feed_forward_proj'].startswith('gated-')
    r = lambda *s, std=1.0: torch.randn(*s, generator=g) * std
    ln = lambda n: 1.0 + 0.1 * torch.randn(n, generator=g)
    # A tied head reads the residual stream through the embeddings: blocks that write more than the
    # token's own row keep a random tied model from repeating its input token forever.
    out_std = 3.0 if cfg['tie_word_embeddings'] else 1.0
    w = {'shared.weight': r(V, C, std=1.0)}

    def attn(p, bias):
        w[p + 'q.weight'] = r(H * D, C, std=C ** -0.5)
        w[p + 'k.weight'] = r(H * D, C, std=C ** -0.5)
        w[p + 'v.weight'] = r(H * D, C, std=C ** -0.5)
        w[p + 'o.weight'] = r(C, H * D, std=out_std * (H * D) ** -0.5)
        if bias:
            w[p + 'relative_attention_bias.weight'] = r(cfg['relative_attention_num_buckets'], H, std=1.0)

    def ffn(p):
        for n in ffn_names(p + 'DenseReluDense.', gated):
            w[n + '.weight'] = r(C, F, std=out_std * F ** -0.5) if n.endswith('wo') else r(F, C, std=C ** -0.5)

    for i in range(cfg['num_layers']):
        p = 'encoder.block.%d.' % i
        attn(p + 'layer.0.SelfAttention.', i == 0)
        w[p + 'layer.0.layer_norm.weight'] = ln(C)
        ffn(p + 'layer.1.')
        w[p + 'layer.1.layer_norm.weight'] = ln(C)
    w['encoder.final_layer_norm.weight'] = ln(C)
    for i in range(cfg['num_decoder_layers']):
        p = 'decoder.block.%d.' % i
        attn(p + 'layer.0.SelfAttention.', i == 0)
        w[p + 'layer.0.layer_norm.weight'] = ln(C)
        attn(p + 'layer.1.EncDecAttention.', False)
        w[p + 'layer.1.layer_norm.weight'] = ln(C)
        ffn(p + 'layer.2.')
        w[p + 'layer.2.layer_norm.weight'] = ln(C)
    w['decoder.final_layer_norm.weight'] = ln(C)
    if not cfg['tie_word_embeddings']:
        w['lm_head.weight'] = r(V, C, std=C ** -0.5 * 3)
    return w


# ---------------------------------------------------------------- forward (modeling_t5 semantics)

def rms_norm(x, w, eps):
    """T5LayerNorm: no mean, no bias; the variance in float32."""
    var = x.float().pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def relative_bucket(rel, bidirectional, num_buckets, max_distance):
    """T5Attention._relative_position_bucket."""
    buckets = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets += (rel > 0).to(torch.long) * num_buckets
        rel = torch.abs(rel)
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, rel, large)


def compute_bias(table, q_len, k_len, bidirectional, cfg):
    """(H, q_len, k_len): the bias of the last q_len queries (positions k_len - q_len ...) over k_len keys."""
    ctx = torch.arange(k_len - q_len, k_len, dtype=torch.long)[:, None]
    mem = torch.arange(k_len, dtype=torch.long)[None, :]
    b = relative_bucket(mem - ctx, bidirectional, cfg['relative_attention_num_buckets'], cfg['relative_attention_max_distance'])
    return table[b].permute(2, 0, 1)


def attention(x, kv, w, p, cfg, bias, causal):
    """T5Attention without 1/sqrt(d) scaling; bias (H, Tq, Tk) or None; a causal mask for the decoder."""
    H, D = cfg['num_heads'], cfg['d_kv']
    tq, tk = x.shape[0], kv.shape[0]
    q = (x @ w[p + 'q.weight'].T).view(tq, H, D).transpose(0, 1)
    k = (kv @ w[p + 'k.weight'].T).view(tk, H, D).transpose(0, 1)
    v = (kv @ w[p + 'v.weight'].T).view(tk, H, D).transpose(0, 1)
    s = q @ k.transpose(1, 2)
    if bias is not None:
        s = s + bias
    if causal:
        s = s.masked_fill(torch.ones(tq, tk, dtype=torch.bool).triu(1 + tk - tq), float('-inf'))
    a = torch.softmax(s.float(), dim=-1) @ v
    return a.transpose(0, 1).reshape(tq, H * D) @ w[p + 'o.weight'].T


def ffn(x, w, p, cfg):
    gated = cfg['feed_forward_proj'].startswith('gated-')
    if gated:
        # feed_forward_proj 'gated-gelu' means gelu_new (tanh approximation) in HF's T5Config.
        h = torch.nn.functional.gelu(x @ w[p + 'wi_0.weight'].T, approximate='tanh') * (x @ w[p + 'wi_1.weight'].T)
    else:
        h = torch.relu(x @ w[p + 'wi.weight'].T)
    return h @ w[p + 'wo.weight'].T


def encode(cfg, w, ids):
    """(T) ids -> (T, C) the encoder's last hidden state (after final_layer_norm)."""
    eps = cfg['layer_norm_epsilon']
    x = w['shared.weight'][ids]
    t = len(ids)
    bias = compute_bias(w['encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'], t, t, True, cfg)
    for i in range(cfg['num_layers']):
        p = 'encoder.block.%d.' % i
        h = rms_norm(x, w[p + 'layer.0.layer_norm.weight'], eps)
        x = x + attention(h, h, w, p + 'layer.0.SelfAttention.', cfg, bias, False)
        x = x + ffn(rms_norm(x, w[p + 'layer.1.layer_norm.weight'], eps), w, p + 'layer.1.DenseReluDense.', cfg)
    return rms_norm(x, w['encoder.final_layer_norm.weight'], eps)


def decode(cfg, w, enc, ids):
    """(n) decoder ids (start token first) over the encoder output -> (n, V) logits."""
    eps = cfg['layer_norm_epsilon']
    x = w['shared.weight'][ids]
    n = len(ids)
    bias = compute_bias(w['decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'], n, n, False, cfg)
    for i in range(cfg['num_decoder_layers']):
        p = 'decoder.block.%d.' % i
        h = rms_norm(x, w[p + 'layer.0.layer_norm.weight'], eps)
        x = x + attention(h, h, w, p + 'layer.0.SelfAttention.', cfg, bias, True)
        h = rms_norm(x, w[p + 'layer.1.layer_norm.weight'], eps)
        x = x + attention(h, enc, w, p + 'layer.1.EncDecAttention.', cfg, None, False)
        x = x + ffn(rms_norm(x, w[p + 'layer.2.layer_norm.weight'], eps), w, p + 'layer.2.DenseReluDense.', cfg)
    x = rms_norm(x, w['decoder.final_layer_norm.weight'], eps)
    if cfg['tie_word_embeddings']:
        # The tied head rescales by d_model ** -0.5 before the (shared) unembedding.
        return (x * cfg['d_model'] ** -0.5) @ w['shared.weight'].T
    return x @ w['lm_head.weight'].T


# ---------------------------------------------------------------- files

def write_checkpoint(d, cfg, w, tok, sharded, generation=None):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(d, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tok, f, ensure_ascii=False)
    if generation is not None:
        with open(os.path.join(d, 'generation_config.json'), 'w') as f:
            json.dump(generation, f, indent=2)
    # save_pretrained keeps one copy of tied tensors: shared.weight, without the encoder's and
    # decoder's embed_tokens (or lm_head when tied).
    if not sharded:
        write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
        return
    names = list(w.keys())
    half = len(names) // 2
    shards = [('model-00001-of-00002.safetensors', names[:half]), ('model-00002-of-00002.safetensors', names[half:])]
    weight_map = {}
    for fname, part in shards:
        write_safetensors(os.path.join(d, fname), {n: w[n] for n in part}, {'format': 'pt'})
        weight_map.update({n: fname for n in part})
    with open(os.path.join(d, 'model.safetensors.index.json'), 'w') as f:
        json.dump({'metadata': {'total_size': sum(t.numel() * 4 for t in w.values())}, 'weight_map': weight_map}, f, indent=1)


def goldens_for(cfg, w, inputs, g):
    out = []
    start = cfg['decoder_start_token_id']
    V = cfg['vocab_size']
    with torch.no_grad():
        for ids in inputs:
            enc = encode(cfg, w, torch.tensor(ids))
            dec_ids = [start] + torch.randint(3, V, (DECODER_STEPS - 1,), generator=g).tolist()
            logits = decode(cfg, w, enc, torch.tensor(dec_ids))
            fwd = lambda _c, _w, seq, enc=enc: decode(cfg, w, enc, seq)
            greedy = bs.greedy(fwd, cfg, w, [start], GREEDY_TOKENS)
            beams = []
            for name, o in CASES:
                eos = [greedy[2]] if o['eos'] == 'greedy3' else [cfg['eos_token_id']]
                seqs = bs.beam_search(fwd, cfg, w, [start], o, eos)
                beams.append(dict(name=name, eos=eos, options={k: v for k, v in o.items() if k != 'eos'}, sequences=seqs))
                print('  %s: %s' % (name, ' | '.join('%s %.4f%s' % (s['ids'], s['score'], ' eos' if s['eos'] else '') for s in seqs)))
            out.append(dict(input=ids, encoder=enc.reshape(-1).tolist(), decoderIds=dec_ids, logits=logits.reshape(-1).tolist(),
                            greedy=greedy, beams=beams))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(ROOT, 'test', 'fixtures', 'models'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    vocab = 320
    tok, sp = t5_tokenizer(vocab)
    # sentencepiece drops a trailing space; HF tokenizers (whose tokenizer.json this is) keeps it as '▁': no edge spaces here.
    texts = ['Hello world, this is a test.', 'translate English to German: The house is wonderful.', 'spaces   and\ttabs, no edge spaces']
    goldens = dict(header=dict(script='tools/reference/make_seq2seq.py',
                               reference='PyTorch %s (float32, CPU), forward written from HF modeling_t5 semantics; beams: '
                                         'tools/reference/beam_search.py (HF BeamSearchScorer semantics); ids: sentencepiece %s'
                                         % (torch.__version__, __import__('sentencepiece').__version__),
                               seed=SEED, layout_version=LAYOUT_VERSION,
                               note='encoder: (T, C) row-major; logits: (n, V) teacher-forced over decoderIds (start token first); '
                                    'greedy/beam ids exclude the start token and the finishing EOS'),
                   tokenizer=[dict(text=t, ids=sp.encode(t) + [1]) for t in texts], models={})
    # Encoder inputs: random ids, one long enough for the logarithmic buckets (past max_exact).
    inputs = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in (7, 23)]
    for name, base, sharded, gen in (('t5-tiny', V10, False, None), ('t5v11-tiny', V11, True, V11_GENERATION)):
        cfg = dict(base, vocab_size=vocab)
        w = init(cfg, g)
        write_checkpoint(os.path.join(args.out, name), cfg, w, tok, sharded, gen)
        print(name)
        goldens['models'][name] = goldens_for(cfg, w, inputs, g)
    with open(os.path.join(args.out, 'seq2seq-goldens.json'), 'w') as f:
        json.dump(goldens, f)


if __name__ == '__main__':
    main()
