"""Writes the Llama-shaped fixture whose dimensions are multiples of 256 (so llama.cpp's k-quants
apply to every matrix) under test/fixtures/models/llama-k256/: the Hugging Face layout (config.json,
model.safetensors in f16, tokenizer.json, tokenizer_config.json) and model-f32.gguf / model-f16.gguf
with llama.cpp-loadable tokenizer.ggml.* metadata (a SentencePiece-style 'llama' vocabulary with byte
fallback). Not the quantized files nor their goldens: tools/llamacpp/make-goldens.mjs makes those.

The weights are trained briefly (Adam on a Markov-chain corpus, as make_models.py's *-trained
fixtures) so that logits have real margins: random weights give near-tied logits whose greedy
continuations flip on rounding noise. They are then rounded to f16, so the f32 and f16 files and
the safetensors hold the same numbers. Run with Debian's python3-torch:

    python3 tools/reference/make_llamacpp_fixture.py [--out test/fixtures/models/llama-k256]
"""
import argparse
import collections
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402
import make_models as mm  # noqa: E402

SEED = 4321
TRAIN_STEPS = 300
N_MERGES = 40
HEAD_SCALE = 2.0
N_CANDIDATES = 24
CONFIG = dict(model_type='llama', architectures=['LlamaForCausalLM'], vocab_size=None, hidden_size=256,
              intermediate_size=512, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0, hidden_act='silu',
              tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, attention_bias=False, mlp_bias=False,
              torch_dtype='float16')
CHAT_TEMPLATE = ("{% for m in messages %}{{ '<s>' if loop.first else '' }}[{{ m['role'] }}] {{ m['content'] }}\n"
                 "{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}")
SPECIALS = ['<unk>', '<s>', '</s>']
SPM_SPACE = '\u2581'


def train_bpe(text, n_merges):
    """A plain BPE over SentencePiece-style words ('\u2581' + word): the letters that occur, then
    n_merges merges of the most frequent adjacent pair (ties broken by the pair itself)."""
    words = collections.Counter(SPM_SPACE + w for w in text.split())
    letters = sorted({c for w in words for c in w if c.isascii() and c.isalpha()} | {SPM_SPACE})
    split = {w: [c for c in w] for w in words}
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, n in words.items():
            s = split[w]
            for a, b in zip(s, s[1:]):
                # only pieces of vocabulary tokens merge (other characters fall back to bytes)
                if (a in letters or len(a) > 1) and (b in letters or len(b) > 1):
                    pairs[(a, b)] += n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        for w in words:
            s, out, i = split[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            split[w] = out
    return letters, merges


def vocabulary(root):
    text = open(os.path.join(root, 'test', 'fixtures', 'tokenizer-corpus', 'english.txt'), encoding='utf-8').read()
    letters, merges = train_bpe(text, N_MERGES)
    tokens = list(SPECIALS) + ['<0x%02X>' % b for b in range(256)] + letters
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    # SentencePiece scores: a merged piece's score is minus its merge rank (higher merges first).
    rank = {a + b: i for i, (a, b) in enumerate(merges)}
    scores = [-float(rank[t] + 1) if t in rank else 0.0 for t in tokens]
    types = [2, 3, 3] + [6] * 256 + [1] * (len(tokens) - 259)
    return tokens, scores, types, merges


def tokenizer_json(tokens, merges):
    added = [dict(id=i, content=t, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
             for i, t in enumerate(SPECIALS)]
    return {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': added,
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': SPM_SPACE},
                                                           {'type': 'Replace', 'pattern': {'String': ' '}, 'content': SPM_SPACE}]},
        'pre_tokenizer': None,
        'post_processor': {'type': 'TemplateProcessing',
                           'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
                           'pair': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                                    {'SpecialToken': {'id': '<s>', 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                           'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}},
        'decoder': {'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': SPM_SPACE}, 'content': ' '},
                                                     {'type': 'ByteFallback'}, {'type': 'Fuse'},
                                                     {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
                  'vocab': {t: i for i, t in enumerate(tokens)}, 'merges': [[a, b] for a, b in merges]},
    }


def gguf(cfg, w, tokens, scores, types, ggml_type):
    """llama.cpp's layout: Q/K rows permuted for interleaved rotary pairs, names blk.N.*."""
    C, L = cfg['hidden_size'], cfg['num_hidden_layers']
    H, KV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    g = gw.GGUFWriter()
    g.add('general.architecture', gw.STRING, 'llama')
    g.add('general.name', gw.STRING, 'llama-k256')
    g.add('general.file_type', gw.UINT32, 1 if ggml_type == gw.GGML_F16 else 0)
    g.add('llama.context_length', gw.UINT32, cfg['max_position_embeddings'])
    g.add('llama.embedding_length', gw.UINT32, C)
    g.add('llama.feed_forward_length', gw.UINT32, cfg['intermediate_size'])
    g.add('llama.block_count', gw.UINT32, L)
    g.add('llama.attention.head_count', gw.UINT32, H)
    g.add('llama.attention.head_count_kv', gw.UINT32, KV)
    g.add('llama.rope.freq_base', gw.FLOAT32, cfg['rope_theta'])
    g.add('llama.rope.dimension_count', gw.UINT32, C // H)
    g.add('llama.attention.layer_norm_rms_epsilon', gw.FLOAT32, cfg['rms_norm_eps'])
    g.add('llama.vocab_size', gw.UINT32, len(tokens))
    g.add('tokenizer.ggml.model', gw.STRING, 'llama')
    g.add('tokenizer.ggml.tokens', gw.ARRAY, (gw.STRING, tokens))
    g.add('tokenizer.ggml.scores', gw.ARRAY, (gw.FLOAT32, scores))
    g.add('tokenizer.ggml.token_type', gw.ARRAY, (gw.INT32, types))
    g.add('tokenizer.ggml.unknown_token_id', gw.UINT32, 0)
    g.add('tokenizer.ggml.bos_token_id', gw.UINT32, cfg['bos_token_id'])
    g.add('tokenizer.ggml.eos_token_id', gw.UINT32, cfg['eos_token_id'])
    g.add('tokenizer.ggml.add_bos_token', gw.BOOL, True)
    g.add('tokenizer.ggml.add_eos_token', gw.BOOL, False)
    g.add('tokenizer.chat_template', gw.STRING, CHAT_TEMPLATE)

    def put(name, t):
        a = t.numpy()
        g.add_tensor(name, a, ggml_type if a.ndim == 2 else gw.GGML_F32)

    put('token_embd.weight', w['model.embed_tokens.weight'])
    for i in range(L):
        p, b = 'model.layers.%d.' % i, 'blk.%d.' % i
        put(b + 'attn_norm.weight', w[p + 'input_layernorm.weight'])
        put(b + 'attn_q.weight', mm.llama_permute(w[p + 'self_attn.q_proj.weight'], H))
        put(b + 'attn_k.weight', mm.llama_permute(w[p + 'self_attn.k_proj.weight'], KV))
        put(b + 'attn_v.weight', w[p + 'self_attn.v_proj.weight'])
        put(b + 'attn_output.weight', w[p + 'self_attn.o_proj.weight'])
        put(b + 'ffn_norm.weight', w[p + 'post_attention_layernorm.weight'])
        put(b + 'ffn_gate.weight', w[p + 'mlp.gate_proj.weight'])
        put(b + 'ffn_up.weight', w[p + 'mlp.up_proj.weight'])
        put(b + 'ffn_down.weight', w[p + 'mlp.down_proj.weight'])
    put('output_norm.weight', w['model.norm.weight'])
    put('output.weight', w['lm_head.weight'])
    return g


def train(cfg, w, corpus, steps, g):
    """make_models.train's loop (Adam, next-token loss, batches of 8) on a given corpus, so that
    the prompts can come from the same chain."""
    w = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    opt = torch.optim.Adam(w.values(), lr=3e-3)
    for _ in range(steps):
        batch = corpus[torch.randint(0, corpus.shape[0], (8,), generator=g)]
        loss = sum(torch.nn.functional.cross_entropy(mm.llama_forward(cfg, w, s[:-1]), s[1:]) for s in batch) / batch.shape[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    print('trained %d steps, final loss %.3f' % (steps, float(loss)))
    return {k: v.detach().clone() for k, v in w.items()}


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(root, 'test', 'fixtures', 'models', 'llama-k256'))
    ap.add_argument('--cache', default=None, help='keep the trained weights in this .pt file and reuse them when it exists')
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    tokens, scores, types, merges = vocabulary(root)
    cfg = dict(CONFIG, vocab_size=len(tokens))
    g = torch.Generator().manual_seed(SEED)
    # One chain: 512 training sequences, and the prompts from 3 more.
    corpus = mm.markov_corpus(cfg['vocab_size'], 512 + N_CANDIDATES, 48, g)
    if args.cache and os.path.exists(args.cache):
        w = torch.load(args.cache)
    else:
        w = train(cfg, mm.llama_init(cfg, g, std=0.08), corpus[:512], TRAIN_STEPS, g)
        if args.cache:
            torch.save(w, args.cache)
    w = dict(w)
    # A larger head scale widens every logit gap (the trained model's greedy paths leave the
    # chain and meet near-ties); then the f16 numbers everywhere.
    w['lm_head.weight'] = w['lm_head.weight'] * HEAD_SCALE
    w = {k: v.half().float() for k, v in w.items()}

    json.dump(cfg, open(os.path.join(out, 'config.json'), 'w'), indent=2)
    json.dump(dict(bos_token_id=1, eos_token_id=2, do_sample=False), open(os.path.join(out, 'generation_config.json'), 'w'), indent=2)
    json.dump(tokenizer_json(tokens, merges), open(os.path.join(out, 'tokenizer.json'), 'w', encoding='utf-8'), ensure_ascii=False)
    json.dump(dict(bos_token='<s>', eos_token='</s>', unk_token='<unk>', add_bos_token=True, add_eos_token=False,
                   model_max_length=cfg['max_position_embeddings'], tokenizer_class='LlamaTokenizerFast',
                   chat_template=CHAT_TEMPLATE), open(os.path.join(out, 'tokenizer_config.json'), 'w'), indent=2)
    mm.write_safetensors(os.path.join(out, 'model.safetensors'), {k: v.half() for k, v in w.items()}, {'format': 'pt'})
    gguf(cfg, w, tokens, scores, types, gw.GGML_F32).write(os.path.join(out, 'model-f32.gguf'))
    gguf(cfg, w, tokens, scores, types, gw.GGML_F16).write(os.path.join(out, 'model-f16.gguf'))

    # The prompts: of lengths 1, 7 and 33, from the training chain's own distribution; of the
    # candidates, the one whose greedy path keeps the widest top-2 gap. PyTorch's logits for the
    # f32 file are a cross-check of llama.cpp's.
    prompts = []
    for n in mm.PROMPT_LENGTHS:
        cands = [corpus[512 + i, :n].tolist() for i in range(N_CANDIDATES)]
        prompts.append(max(cands, key=lambda c: mm.goldens_for(mm.llama_forward, cfg, w, [c])[1]))
    res, gap = mm.goldens_for(mm.llama_forward, cfg, w, prompts)
    header = dict(script='tools/reference/make_llamacpp_fixture.py', reference='PyTorch %s (float32, CPU)' % torch.__version__,
                  seed=SEED, train_steps=TRAIN_STEPS, head_scale=HEAD_SCALE, layout_version=1,
                  note='last-position logits of each prompt and greedy continuations of %d tokens' % mm.CONTINUATION)
    json.dump(dict(header=header, prompts=res, min_top2_gap=gap), open(os.path.join(out, 'torch-goldens.json'), 'w'))
    print('vocab %d, parameters %d, min top-2 gap along greedy paths %.4f' % (len(tokens), sum(t.numel() for t in w.values()), gap))


if __name__ == '__main__':
    main()
