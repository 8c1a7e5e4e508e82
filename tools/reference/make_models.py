"""Writes the tiny GPT-2 and Llama test checkpoints (Hugging Face layout and GGUF f32/q8_0), with
random weights and briefly trained ones (*-tiny-trained), and their PyTorch goldens under
test/fixtures/models/. Forward passes are plain torch written to Hugging Face's conventions (no
transformers library here); run with Debian's python3-torch:

    python3 tools/reference/make_models.py [--out test/fixtures/models]
    python3 tools/reference/make_models.py --gpt2-124m DIR   # random 124M-shaped weights for bench
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402

LAYOUT_VERSION = 1
SEED = 1234
PROMPT_LENGTHS = (1, 7, 33)
CONTINUATION = 16
TRAIN_STEPS = 400

GPT2_CONFIG = dict(model_type='gpt2', architectures=['GPT2LMHeadModel'], vocab_size=256, n_positions=64, n_embd=64,
                   n_layer=3, n_head=4, n_inner=None, activation_function='gelu_new', layer_norm_epsilon=1e-5,
                   tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)
LLAMA_CONFIG = dict(model_type='llama', architectures=['LlamaForCausalLM'], vocab_size=256, hidden_size=64,
                    intermediate_size=128, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                    max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0, hidden_act='silu',
                    tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, attention_bias=False, mlp_bias=False)
# Mistral: Llama's computation with a sliding window shorter than the longest prompt.
MISTRAL_CONFIG = dict({k: v for k, v in LLAMA_CONFIG.items() if k not in ('attention_bias', 'mlp_bias')},
                      model_type='mistral', architectures=['MistralForCausalLM'], sliding_window=8)


# ---------------------------------------------------------------- safetensors writer

_ST_DTYPE = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int8: 'I8', torch.int32: 'I32'}


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> torch tensor (contiguous, little-endian); data in insertion order."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = dict(dtype=_ST_DTYPE[t.dtype], shape=list(t.shape), data_offsets=[offset, offset + len(raw)])
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = metadata
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((-len(h)) % 8)  # the format pads the header with spaces to 8 bytes
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- GPT-2 (HF GPT2LMHeadModel)

def gpt2_init(cfg, g, std=0.25):
    C, V, P, L = cfg['n_embd'], cfg['vocab_size'], cfg['n_positions'], cfg['n_layer']
    inner = cfg['n_inner'] or 4 * C
    r = lambda *s: torch.randn(*s, generator=g) * std  # noqa: E731
    w = {'wte.weight': r(V, C) * 1.5, 'wpe.weight': r(P, C)}
    for i in range(L):
        p = 'h.%d.' % i
        w[p + 'ln_1.weight'] = 1 + r(C) * 0.4
        w[p + 'ln_1.bias'] = r(C) * 0.4
        w[p + 'attn.c_attn.weight'] = r(C, 3 * C)   # Conv1D: [in, out]
        w[p + 'attn.c_attn.bias'] = r(3 * C) * 0.4
        w[p + 'attn.c_proj.weight'] = r(C, C)
        w[p + 'attn.c_proj.bias'] = r(C) * 0.4
        w[p + 'ln_2.weight'] = 1 + r(C) * 0.4
        w[p + 'ln_2.bias'] = r(C) * 0.4
        w[p + 'mlp.c_fc.weight'] = r(C, inner)
        w[p + 'mlp.c_fc.bias'] = r(inner) * 0.4
        w[p + 'mlp.c_proj.weight'] = r(inner, C)
        w[p + 'mlp.c_proj.bias'] = r(C) * 0.4
    w['ln_f.weight'] = 1 + r(C) * 0.4
    w['ln_f.bias'] = r(C) * 0.4
    return w


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_forward(cfg, w, ids):
    """ids: (T) long -> logits (T, V) float32, as GPT2LMHeadModel computes them."""
    C, H, L, eps = cfg['n_embd'], cfg['n_head'], cfg['n_layer'], cfg['layer_norm_epsilon']
    D = C // H
    T = ids.shape[0]
    x = w['wte.weight'][ids] + w['wpe.weight'][torch.arange(T)]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for i in range(L):
        p = 'h.%d.' % i
        h = torch.nn.functional.layer_norm(x, (C,), w[p + 'ln_1.weight'], w[p + 'ln_1.bias'], eps)
        qkv = torch.addmm(w[p + 'attn.c_attn.bias'], h, w[p + 'attn.c_attn.weight'])
        q, k, v = qkv.split(C, dim=1)
        q, k, v = (t.view(T, H, D).transpose(0, 1) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        att = att.masked_fill(mask, torch.finfo(torch.float32).min).softmax(-1)
        a = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + torch.addmm(w[p + 'attn.c_proj.bias'], a, w[p + 'attn.c_proj.weight'])
        h = torch.nn.functional.layer_norm(x, (C,), w[p + 'ln_2.weight'], w[p + 'ln_2.bias'], eps)
        h = gelu_new(torch.addmm(w[p + 'mlp.c_fc.bias'], h, w[p + 'mlp.c_fc.weight']))
        x = x + torch.addmm(w[p + 'mlp.c_proj.bias'], h, w[p + 'mlp.c_proj.weight'])
    x = torch.nn.functional.layer_norm(x, (C,), w['ln_f.weight'], w['ln_f.bias'], eps)
    return x @ w['wte.weight'].t()


def gpt2_gguf(cfg, w, qtype):
    """llama.cpp's GPT-2 layout: linear weights as (out, in), fused qkv, tied output."""
    g = gw.GGUFWriter()
    g.add('general.architecture', gw.STRING, 'gpt2')
    g.add('general.name', gw.STRING, 'gpt2-tiny')
    g.add('gpt2.context_length', gw.UINT32, cfg['n_positions'])
    g.add('gpt2.embedding_length', gw.UINT32, cfg['n_embd'])
    g.add('gpt2.feed_forward_length', gw.UINT32, 4 * cfg['n_embd'])
    g.add('gpt2.block_count', gw.UINT32, cfg['n_layer'])
    g.add('gpt2.attention.head_count', gw.UINT32, cfg['n_head'])
    g.add('gpt2.attention.layer_norm_epsilon', gw.FLOAT32, cfg['layer_norm_epsilon'])
    g.add('tokenizer.ggml.model', gw.STRING, 'gpt2')
    g.add('tokenizer.ggml.tokens', gw.ARRAY, (gw.STRING, ['<%d>' % i for i in range(cfg['vocab_size'])]))
    g.add('tokenizer.ggml.token_type', gw.ARRAY, (gw.INT32, [1] * cfg['vocab_size']))
    g.add('tokenizer.ggml.eos_token_id', gw.UINT32, cfg['eos_token_id'])
    deq = {}

    def put(name, t, quantize=True):
        a = t.numpy()
        typ = qtype if quantize and a.ndim == 2 and a.shape[1] % 32 == 0 else gw.GGML_F32
        raw = g.add_tensor(name, a, typ)
        deq[name] = torch.from_numpy(gw.dequantize_q8_0(raw, a.shape) if typ == gw.GGML_Q8_0 else a.copy())

    put('token_embd.weight', w['wte.weight'])
    put('position_embd.weight', w['wpe.weight'], quantize=False)
    for i in range(cfg['n_layer']):
        p, b = 'h.%d.' % i, 'blk.%d.' % i
        put(b + 'attn_norm.weight', w[p + 'ln_1.weight'])
        put(b + 'attn_norm.bias', w[p + 'ln_1.bias'])
        put(b + 'attn_qkv.weight', w[p + 'attn.c_attn.weight'].t())
        put(b + 'attn_qkv.bias', w[p + 'attn.c_attn.bias'])
        put(b + 'attn_output.weight', w[p + 'attn.c_proj.weight'].t())
        put(b + 'attn_output.bias', w[p + 'attn.c_proj.bias'])
        put(b + 'ffn_norm.weight', w[p + 'ln_2.weight'])
        put(b + 'ffn_norm.bias', w[p + 'ln_2.bias'])
        put(b + 'ffn_up.weight', w[p + 'mlp.c_fc.weight'].t())
        put(b + 'ffn_up.bias', w[p + 'mlp.c_fc.bias'])
        put(b + 'ffn_down.weight', w[p + 'mlp.c_proj.weight'].t())
        put(b + 'ffn_down.bias', w[p + 'mlp.c_proj.bias'])
    put('output_norm.weight', w['ln_f.weight'])
    put('output_norm.bias', w['ln_f.bias'])
    # Back to the HF layout so the same forward pass gives the quantized model's goldens.
    hf = {'wte.weight': deq['token_embd.weight'], 'wpe.weight': deq['position_embd.weight'],
          'ln_f.weight': deq['output_norm.weight'], 'ln_f.bias': deq['output_norm.bias']}
    for i in range(cfg['n_layer']):
        p, b = 'h.%d.' % i, 'blk.%d.' % i
        hf[p + 'ln_1.weight'], hf[p + 'ln_1.bias'] = deq[b + 'attn_norm.weight'], deq[b + 'attn_norm.bias']
        hf[p + 'attn.c_attn.weight'], hf[p + 'attn.c_attn.bias'] = deq[b + 'attn_qkv.weight'].t(), deq[b + 'attn_qkv.bias']
        hf[p + 'attn.c_proj.weight'], hf[p + 'attn.c_proj.bias'] = deq[b + 'attn_output.weight'].t(), deq[b + 'attn_output.bias']
        hf[p + 'ln_2.weight'], hf[p + 'ln_2.bias'] = deq[b + 'ffn_norm.weight'], deq[b + 'ffn_norm.bias']
        hf[p + 'mlp.c_fc.weight'], hf[p + 'mlp.c_fc.bias'] = deq[b + 'ffn_up.weight'].t(), deq[b + 'ffn_up.bias']
        hf[p + 'mlp.c_proj.weight'], hf[p + 'mlp.c_proj.bias'] = deq[b + 'ffn_down.weight'].t(), deq[b + 'ffn_down.bias']
    return g, hf


# ---------------------------------------------------------------- Llama (HF LlamaForCausalLM)

def llama_init(cfg, g, std=0.25):
    C, V, L, F = cfg['hidden_size'], cfg['vocab_size'], cfg['num_hidden_layers'], cfg['intermediate_size']
    H, KV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    D = C // H
    r = lambda *s: torch.randn(*s, generator=g) * std  # noqa: E731
    w = {'model.embed_tokens.weight': r(V, C) * 4}
    for i in range(L):
        p = 'model.layers.%d.' % i
        w[p + 'input_layernorm.weight'] = 1 + r(C) * 0.4
        w[p + 'self_attn.q_proj.weight'] = r(H * D, C)   # Linear: [out, in]
        w[p + 'self_attn.k_proj.weight'] = r(KV * D, C)
        w[p + 'self_attn.v_proj.weight'] = r(KV * D, C)
        w[p + 'self_attn.o_proj.weight'] = r(C, H * D)
        w[p + 'post_attention_layernorm.weight'] = 1 + r(C) * 0.4
        w[p + 'mlp.gate_proj.weight'] = r(F, C)
        w[p + 'mlp.up_proj.weight'] = r(F, C)
        w[p + 'mlp.down_proj.weight'] = r(C, F)
    w['model.norm.weight'] = 1 + r(C) * 0.4
    w['lm_head.weight'] = r(V, C)
    return w


def rms_norm(x, weight, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama_forward(cfg, w, ids):
    C, L, eps = cfg['hidden_size'], cfg['num_hidden_layers'], cfg['rms_norm_eps']
    H, KV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    D = C // H
    T = ids.shape[0]
    inv_freq = 1.0 / (cfg['rope_theta'] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    freqs = torch.arange(T).float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]   # (T, 1, D)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    window = cfg.get('sliding_window')
    if window is not None:
        # modeling_mistral / masking_utils.sliding_window_overlay: key j is seen by query i
        # only when j > i - sliding_window (the last `window` positions, i's own included).
        pos = torch.arange(T)
        mask = mask | (pos[None, :] <= pos[:, None] - window)
    x = w['model.embed_tokens.weight'][ids]
    for i in range(L):
        p = 'model.layers.%d.' % i
        h = rms_norm(x, w[p + 'input_layernorm.weight'], eps)
        q = (h @ w[p + 'self_attn.q_proj.weight'].t()).view(T, H, D)
        k = (h @ w[p + 'self_attn.k_proj.weight'].t()).view(T, KV, D)
        v = (h @ w[p + 'self_attn.v_proj.weight'].t()).view(T, KV, D)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        q, k, v = (t.transpose(0, 1) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        att = att.masked_fill(mask, torch.finfo(torch.float32).min).softmax(-1)
        a = (att @ v).transpose(0, 1).reshape(T, H * D)
        x = x + a @ w[p + 'self_attn.o_proj.weight'].t()
        h = rms_norm(x, w[p + 'post_attention_layernorm.weight'], eps)
        g = torch.nn.functional.silu(h @ w[p + 'mlp.gate_proj.weight'].t())
        x = x + (g * (h @ w[p + 'mlp.up_proj.weight'].t())) @ w[p + 'mlp.down_proj.weight'].t()
    x = rms_norm(x, w['model.norm.weight'], eps)
    return x @ w['lm_head.weight'].t()


def llama_permute(w, heads):
    """llama.cpp's converter reorders Q/K rows so rotary pairs (i, i + D/2) become adjacent
    (2i, 2i+1); a GGUF reader rotates interleaved pairs instead (or undoes this)."""
    out, inp = w.shape
    return w.reshape(heads, 2, out // heads // 2, inp).transpose(1, 2).reshape(out, inp)


def llama_unpermute(w, heads):
    out, inp = w.shape
    return w.reshape(heads, out // heads // 2, 2, inp).transpose(1, 2).reshape(out, inp)


def llama_gguf(cfg, w, qtype):
    C, L = cfg['hidden_size'], cfg['num_hidden_layers']
    H, KV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    g = gw.GGUFWriter()
    g.add('general.architecture', gw.STRING, 'llama')
    g.add('general.name', gw.STRING, 'llama-tiny')
    g.add('llama.context_length', gw.UINT32, cfg['max_position_embeddings'])
    g.add('llama.embedding_length', gw.UINT32, C)
    g.add('llama.feed_forward_length', gw.UINT32, cfg['intermediate_size'])
    g.add('llama.block_count', gw.UINT32, L)
    g.add('llama.attention.head_count', gw.UINT32, H)
    g.add('llama.attention.head_count_kv', gw.UINT32, KV)
    g.add('llama.rope.freq_base', gw.FLOAT32, cfg['rope_theta'])
    g.add('llama.rope.dimension_count', gw.UINT32, C // H)
    g.add('llama.attention.layer_norm_rms_epsilon', gw.FLOAT32, cfg['rms_norm_eps'])
    g.add('llama.vocab_size', gw.UINT32, cfg['vocab_size'])
    g.add('tokenizer.ggml.model', gw.STRING, 'llama')
    g.add('tokenizer.ggml.tokens', gw.ARRAY, (gw.STRING, ['<%d>' % i for i in range(cfg['vocab_size'])]))
    g.add('tokenizer.ggml.scores', gw.ARRAY, (gw.FLOAT32, [0.0] * cfg['vocab_size']))
    g.add('tokenizer.ggml.bos_token_id', gw.UINT32, cfg['bos_token_id'])
    g.add('tokenizer.ggml.add_bos_token', gw.BOOL, True)
    g.add('general.file_type', gw.UINT32, 7 if qtype == gw.GGML_Q8_0 else 0)
    deq = {}

    def put(name, hf_name, t, quantize=True):
        a = t.numpy()
        typ = qtype if quantize and a.ndim == 2 and a.shape[1] % 32 == 0 else gw.GGML_F32
        raw = g.add_tensor(name, a, typ)
        deq[hf_name] = torch.from_numpy(gw.dequantize_q8_0(raw, a.shape) if typ == gw.GGML_Q8_0 else a.copy())

    put('token_embd.weight', 'model.embed_tokens.weight', w['model.embed_tokens.weight'])
    for i in range(L):
        p, b = 'model.layers.%d.' % i, 'blk.%d.' % i
        put(b + 'attn_norm.weight', p + 'input_layernorm.weight', w[p + 'input_layernorm.weight'])
        put(b + 'attn_q.weight', p + 'self_attn.q_proj.weight', llama_permute(w[p + 'self_attn.q_proj.weight'], H))
        put(b + 'attn_k.weight', p + 'self_attn.k_proj.weight', llama_permute(w[p + 'self_attn.k_proj.weight'], KV))
        put(b + 'attn_v.weight', p + 'self_attn.v_proj.weight', w[p + 'self_attn.v_proj.weight'])
        put(b + 'attn_output.weight', p + 'self_attn.o_proj.weight', w[p + 'self_attn.o_proj.weight'])
        put(b + 'ffn_norm.weight', p + 'post_attention_layernorm.weight', w[p + 'post_attention_layernorm.weight'])
        put(b + 'ffn_gate.weight', p + 'mlp.gate_proj.weight', w[p + 'mlp.gate_proj.weight'])
        put(b + 'ffn_up.weight', p + 'mlp.up_proj.weight', w[p + 'mlp.up_proj.weight'])
        put(b + 'ffn_down.weight', p + 'mlp.down_proj.weight', w[p + 'mlp.down_proj.weight'])
    put('output_norm.weight', 'model.norm.weight', w['model.norm.weight'])
    put('output.weight', 'lm_head.weight', w['lm_head.weight'])
    for i in range(L):
        p = 'model.layers.%d.' % i
        deq[p + 'self_attn.q_proj.weight'] = llama_unpermute(deq[p + 'self_attn.q_proj.weight'], H)
        deq[p + 'self_attn.k_proj.weight'] = llama_unpermute(deq[p + 'self_attn.k_proj.weight'], KV)
    return g, deq


# ---------------------------------------------------------------- trained checkpoints

def markov_corpus(vocab, n_seq, length, g):
    """Sequences from a random first-order Markov chain: each token has 4 successors with
    probabilities 0.55, 0.25, 0.12 and 0.08, so a trained model predicts with clear margins."""
    succ = torch.stack([torch.randperm(vocab, generator=g)[:4] for _ in range(vocab)])
    probs = torch.tensor([0.55, 0.25, 0.12, 0.08])
    seqs = torch.empty(n_seq, length, dtype=torch.long)
    seqs[:, 0] = torch.randint(0, vocab, (n_seq,), generator=g)
    for t in range(1, length):
        pick = torch.multinomial(probs.expand(n_seq, 4), 1, generator=g)[:, 0]
        seqs[:, t] = succ[seqs[:, t - 1], pick]
    return seqs


def train(forward, cfg, w, steps, g):
    """A few hundred Adam steps of next-token loss on markov_corpus. The random fixtures' weights
    (std 0.25) give each layer a gain of 2 to 3, so their logits move by whole percents under
    8-bit rounding; trained weights behave like real checkpoints' (test/quant-models.test.ts)."""
    w = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    corpus = markov_corpus(cfg['vocab_size'], 512, 48, g)
    opt = torch.optim.Adam(w.values(), lr=3e-3)
    for step in range(steps):
        batch = corpus[torch.randint(0, corpus.shape[0], (8,), generator=g)]
        loss = sum(torch.nn.functional.cross_entropy(forward(cfg, w, s[:-1]), s[1:]) for s in batch) / batch.shape[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    print('%s trained %d steps, final loss %.3f' % (cfg['model_type'], steps, float(loss)))
    return {k: v.detach().clone() for k, v in w.items()}


# ---------------------------------------------------------------- goldens

def goldens_for(forward, cfg, w, prompts):
    out = []
    min_gap = float('inf')
    with torch.no_grad():
        for ids in prompts:
            t = torch.tensor(ids, dtype=torch.long)
            logits = forward(cfg, w, t)[-1]
            seq = list(ids)
            for _ in range(CONTINUATION):
                row = forward(cfg, w, torch.tensor(seq, dtype=torch.long))[-1]
                top = torch.topk(row, 2).values
                min_gap = min(min_gap, float(top[0] - top[1]))
                seq.append(int(row.argmax()))
            out.append(dict(prompt=list(ids), logits=[float(v) for v in logits], greedy=seq[len(ids):]))
    return out, min_gap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'models'))
    ap.add_argument('--gpt2-124m', default=None, help='write a GPT-2 124M-shaped checkpoint with random weights here')
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.gpt2_124m:
        write_gpt2_124m(args.gpt2_124m)
        return
    out = os.path.abspath(args.out)
    g = torch.Generator().manual_seed(SEED)
    prompts = {n: torch.randint(0, 256, (n,), generator=g).tolist() for n in PROMPT_LENGTHS}
    prompts = [prompts[n] for n in PROMPT_LENGTHS]
    goldens = dict(header=dict(script='tools/reference/make_models.py', reference='PyTorch %s (float32, CPU)' % torch.__version__,
                               seed=SEED, layout_version=LAYOUT_VERSION,
                               note='last-position logits of each prompt and greedy continuations of %d tokens' % CONTINUATION),
                   models={})

    # GPT-2
    d = os.path.join(out, 'gpt2-tiny')
    os.makedirs(d, exist_ok=True)
    w = gpt2_init(GPT2_CONFIG, torch.Generator().manual_seed(SEED + 1))
    json.dump(GPT2_CONFIG, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    json.dump(dict(bos_token_id=0, eos_token_id=0, do_sample=False), open(os.path.join(d, 'generation_config.json'), 'w'), indent=2)
    write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
    res, gap = goldens_for(gpt2_forward, GPT2_CONFIG, w, prompts)
    goldens['models']['gpt2-tiny'] = dict(prompts=res, min_top2_gap=gap)
    gg, _ = gpt2_gguf(GPT2_CONFIG, w, gw.GGML_F32)
    gg.write(os.path.join(d, 'model-f32.gguf'))
    gq, wq = gpt2_gguf(GPT2_CONFIG, w, gw.GGML_Q8_0)
    gq.write(os.path.join(d, 'model-q8_0.gguf'))
    res, gap = goldens_for(gpt2_forward, GPT2_CONFIG, wq, prompts)
    goldens['models']['gpt2-tiny-q8_0'] = dict(prompts=res, min_top2_gap=gap)

    # Llama: single file, sharded, GGUF
    d = os.path.join(out, 'llama-tiny')
    os.makedirs(d, exist_ok=True)
    w = llama_init(LLAMA_CONFIG, torch.Generator().manual_seed(SEED + 2))
    json.dump(LLAMA_CONFIG, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    json.dump(dict(bos_token_id=1, eos_token_id=2, do_sample=False), open(os.path.join(d, 'generation_config.json'), 'w'), indent=2)
    write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
    res, gap = goldens_for(llama_forward, LLAMA_CONFIG, w, prompts)
    goldens['models']['llama-tiny'] = dict(prompts=res, min_top2_gap=gap)
    gg, _ = llama_gguf(LLAMA_CONFIG, w, gw.GGML_F32)
    gg.write(os.path.join(d, 'model-f32.gguf'))
    gq, wq = llama_gguf(LLAMA_CONFIG, w, gw.GGML_Q8_0)
    gq.write(os.path.join(d, 'model-q8_0.gguf'))
    res, gap = goldens_for(llama_forward, LLAMA_CONFIG, wq, prompts)
    goldens['models']['llama-tiny-q8_0'] = dict(prompts=res, min_top2_gap=gap)

    # Mistral: the Llama layout and weights of its own seed, with a sliding window of 8.
    d = os.path.join(out, 'mistral-tiny')
    os.makedirs(d, exist_ok=True)
    wm = llama_init(MISTRAL_CONFIG, torch.Generator().manual_seed(SEED + 5))
    json.dump(MISTRAL_CONFIG, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    json.dump(dict(bos_token_id=1, eos_token_id=2, do_sample=False), open(os.path.join(d, 'generation_config.json'), 'w'), indent=2)
    write_safetensors(os.path.join(d, 'model.safetensors'), wm, {'format': 'pt'})
    res, gap = goldens_for(llama_forward, MISTRAL_CONFIG, wm, prompts)
    goldens['models']['mistral-tiny'] = dict(prompts=res, min_top2_gap=gap)

    # Trained variants (same configs and prompts) for the q8_0 model test.
    for name, init, forward, cfg, gguf, seed in (
            ('gpt2-tiny-trained', gpt2_init, gpt2_forward, GPT2_CONFIG, gpt2_gguf, SEED + 3),
            ('llama-tiny-trained', llama_init, llama_forward, LLAMA_CONFIG, llama_gguf, SEED + 4)):
        dt = os.path.join(out, name)
        os.makedirs(dt, exist_ok=True)
        gt = torch.Generator().manual_seed(seed)
        wt = train(forward, cfg, init(cfg, gt, std=0.08), TRAIN_STEPS, gt)
        json.dump(cfg, open(os.path.join(dt, 'config.json'), 'w'), indent=2)
        write_safetensors(os.path.join(dt, 'model.safetensors'), wt, {'format': 'pt'})
        res, gap = goldens_for(forward, cfg, wt, prompts)
        goldens['models'][name] = dict(prompts=res, min_top2_gap=gap)
        gq, wq = gguf(cfg, wt, gw.GGML_Q8_0)
        gq.write(os.path.join(dt, 'model-q8_0.gguf'))
        res, gap = goldens_for(forward, cfg, wq, prompts)
        goldens['models'][name + '-q8_0'] = dict(prompts=res, min_top2_gap=gap)

    d = os.path.join(out, 'llama-tiny-sharded')
    os.makedirs(d, exist_ok=True)
    json.dump(LLAMA_CONFIG, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    names = list(w.keys())
    half = len(names) // 2
    shards = [('model-00001-of-00002.safetensors', names[:half]), ('model-00002-of-00002.safetensors', names[half:])]
    weight_map = {}
    for fname, part in shards:
        write_safetensors(os.path.join(d, fname), {n: w[n] for n in part}, {'format': 'pt'})
        weight_map.update({n: fname for n in part})
    total = sum(t.numel() * 4 for t in w.values())
    json.dump(dict(metadata=dict(total_size=total), weight_map=weight_map), open(os.path.join(d, 'model.safetensors.index.json'), 'w'), indent=2)

    with open(os.path.join(out, 'goldens.json'), 'w') as f:
        json.dump(goldens, f)
    for k, v in goldens['models'].items():
        print('%-16s min top-2 gap along greedy paths: %.4f' % (k, v['min_top2_gap']))


def write_gpt2_124m(d):
    """The GPT-2 small shape (124,439,808 parameters) with random weights, for benchmarks."""
    cfg = dict(GPT2_CONFIG, vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, bos_token_id=50256, eos_token_id=50256)
    os.makedirs(d, exist_ok=True)
    w = gpt2_init(cfg, torch.Generator().manual_seed(SEED), std=0.02)
    w['wte.weight'] /= 1.5
    json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
    print('wrote %d parameters to %s' % (sum(t.numel() for t in w.values()), d))


if __name__ == '__main__':
    main()
