"""Writes the tiny checkpoints of the decoder families beyond make_models.py's (Llama with each
rope_scaling Hugging Face defines, Phi-3 with fused projections, partial rotary, LongRoPE and a
sliding window, Gemma 2 and Gemma 3 text) and their PyTorch goldens in
test/fixtures/models/families-goldens.json.

Forward passes are plain torch written from Hugging Face's modeling code (modeling_llama,
modeling_phi3, modeling_gemma2, modeling_gemma3, modeling_rope_utils); no transformers library here. Generation runs as
transformers' generate() does with a KV cache: the prompt in one pass, then one token per pass,
each pass computing its rotary frequencies from its own longest position (dynamic NTK and
LongRoPE depend on it) while the cached keys keep the rotation they were written with.
Run with Debian's python3-torch:

    python3 tools/reference/make_families.py [--out test/fixtures/models]
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import LLAMA_CONFIG, PROMPT_LENGTHS, SEED, llama_init, rms_norm, write_safetensors  # noqa: E402

LAYOUT_VERSION = 1
CONTINUATION = 16

BASE = {k: v for k, v in LLAMA_CONFIG.items()}
# Each scaling bites at these sizes: head size 16 (8 frequencies), original lengths of 16
# positions, prompts of up to 33 tokens plus 16 generated ones.
ROPE_CONFIGS = {
    'llama-llama3-tiny': dict(BASE, rope_scaling=dict(rope_type='llama3', factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                                      original_max_position_embeddings=16)),
    # The legacy `type` key, as older checkpoints write it.
    'llama-linear-tiny': dict(BASE, rope_scaling=dict(type='linear', factor=2.0)),
    # Dynamic NTK grows the base once a pass's length passes max_position_embeddings (16).
    'llama-dynamic-tiny': dict(BASE, max_position_embeddings=16, rope_scaling=dict(rope_type='dynamic', factor=4.0)),
    'llama-yarn-tiny': dict(BASE, rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=16,
                                                    beta_fast=32.0, beta_slow=1.0)),
}
# Phi-3: fused qkv_proj and gate_up_proj, 12 of 16 dimensions rotated (partial_rotary_factor),
# LongRoPE with short and long factors (the long ones past original_max_position_embeddings = 16)
# and its attention factor, and a sliding window shorter than the longest prompt.
PHI3_CONFIG = dict(model_type='phi3', architectures=['Phi3ForCausalLM'], vocab_size=256, hidden_size=64, intermediate_size=128,
                   num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                   original_max_position_embeddings=16, rms_norm_eps=1e-5, rope_theta=10000.0, hidden_act='silu',
                   partial_rotary_factor=0.75, sliding_window=12, tie_word_embeddings=False, attention_bias=False,
                   resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                   rope_scaling=dict(type='longrope', short_factor=[1.0, 1.1, 1.3, 1.6, 2.0, 2.5],
                                     long_factor=[1.0, 1.5, 2.5, 4.0, 6.0, 9.0]))

# Gemma 2: head_dim 32 apart from hidden / heads, query_pre_attn_scalar 24 (not head_dim),
# soft-capping that bites on these weights, even layers local with a window of 8, tied head.
GEMMA2_CONFIG = dict(model_type='gemma2', architectures=['Gemma2ForCausalLM'], vocab_size=256, hidden_size=64, intermediate_size=128,
                     num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=64,
                     rms_norm_eps=1e-6, rope_theta=10000.0, hidden_activation='gelu_pytorch_tanh', query_pre_attn_scalar=24,
                     sliding_window=8, attn_logit_softcapping=10.0, final_logit_softcapping=8.0, attention_bias=False,
                     tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0)
# Gemma 3 text: q/k norms, global base 1e6 with linear scaling, local base 1e4 unscaled, every
# third layer global (sliding_window_pattern 3), no soft-capping.
GEMMA3_CONFIG = dict(model_type='gemma3_text', architectures=['Gemma3ForCausalLM'], vocab_size=256, hidden_size=64, intermediate_size=128,
                     num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=64,
                     rms_norm_eps=1e-6, rope_theta=1000000.0, rope_local_base_freq=10000.0, rope_scaling=dict(rope_type='linear', factor=2.0),
                     hidden_activation='gelu_pytorch_tanh', query_pre_attn_scalar=32, sliding_window=8, sliding_window_pattern=3,
                     final_logit_softcapping=None, attn_logit_softcapping=None, attention_bias=False, tie_word_embeddings=True,
                     bos_token_id=2, eos_token_id=1, pad_token_id=0)


# ---------------------------------------------------------------- modeling_rope_utils

def rope_dim(cfg):
    D = cfg.get('head_dim') or cfg['hidden_size'] // cfg['num_attention_heads']
    return D, int(D * cfg.get('partial_rotary_factor', 1.0))


def default_inv_freq(base, dim):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def rope_params(cfg, seq_len):
    """(inv_freq, attention_factor) of a pass whose longest position + 1 is seq_len."""
    _, dim = rope_dim(cfg)
    base = cfg['rope_theta']
    s = cfg.get('rope_scaling')
    if s is None:
        return default_inv_freq(base, dim), 1.0
    kind = s.get('rope_type', s.get('type'))
    if kind == 'linear':
        return default_inv_freq(base, dim) / s['factor'], 1.0
    if kind == 'dynamic':
        # dynamic_rope_update: the frequencies of the pass's own length once it passes max_position_embeddings.
        mx = cfg['max_position_embeddings']
        if seq_len <= mx:
            return default_inv_freq(base, dim), 1.0
        f = s['factor']
        L = torch.tensor(seq_len)
        b = base * ((f * L / mx) - (f - 1)) ** (dim / (dim - 2))
        return 1.0 / (b ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), 1.0
    if kind == 'yarn':
        f = s['factor']
        orig = s.get('original_max_position_embeddings') or cfg['max_position_embeddings']
        attn = s.get('attention_factor')
        if attn is None:
            attn = 1.0 if f <= 1 else 0.1 * math.log(f) + 1.0
        beta_fast, beta_slow = s.get('beta_fast') or 32, s.get('beta_slow') or 1

        def corr(rot):
            return (dim * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(base))
        low, high = max(math.floor(corr(beta_fast)), 0), min(math.ceil(corr(beta_slow)), dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
        pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
        extra = 1 - ramp
        inv = (1.0 / (f * pos_freqs)) * (1 - extra) + (1.0 / pos_freqs) * extra
        return inv, attn
    if kind in ('longrope', 'su'):
        orig = cfg.get('original_max_position_embeddings')
        if orig is not None:
            f = cfg['max_position_embeddings'] / orig
        else:
            orig, f = cfg['max_position_embeddings'], s.get('factor', 1.0)
        attn = s.get('attention_factor')
        if attn is None:
            attn = 1.0 if f <= 1 else math.sqrt(1 + math.log(f) / math.log(orig))
        ext = torch.tensor(s['long_factor'] if seq_len > orig else s['short_factor'], dtype=torch.float32)
        shape = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
        return 1.0 / (ext * base ** shape), attn
    if kind == 'llama3':
        inv = default_inv_freq(base, dim)
        f, lo, hi, old = s['factor'], s['low_freq_factor'], s['high_freq_factor'], s['original_max_position_embeddings']
        low_wave, high_wave = old / lo, old / hi
        wave = 2 * math.pi / inv
        inv_l = torch.where(wave > low_wave, inv / f, inv)
        smooth = (old / wave - lo) / (hi - lo)
        smoothed = (1 - smooth) * inv_l / f + smooth * inv_l
        medium = ~(wave < high_wave) * ~(wave > low_wave)
        return torch.where(medium, smoothed, inv_l), 1.0
    raise ValueError(kind)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin, rd):
    """modeling_phi3.apply_rotary_pos_emb: the first rd dimensions rotate, the rest pass through."""
    xr, xp = x[..., :rd], x[..., rd:]
    return torch.cat((xr * cos + rotate_half(xr) * sin, xp), dim=-1)


# ---------------------------------------------------------------- Llama / Phi-3 with a KV cache

def projections(cfg, w, p, h):
    """q, k, v (T, heads * D) and the MLP of layer prefix p: Llama's separate projections or
    Phi-3's fused qkv_proj ([q | k | v] rows) and gate_up_proj ([gate | up] rows)."""
    H, KV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    D, _ = rope_dim(cfg)
    if p + 'self_attn.qkv_proj.weight' in w:
        qkv = h @ w[p + 'self_attn.qkv_proj.weight'].t()
        return qkv[:, :H * D], qkv[:, H * D:(H + KV) * D], qkv[:, (H + KV) * D:]
    return tuple(h @ w[p + 'self_attn.%s_proj.weight' % n].t() for n in 'qkv')


def mlp(w, p, h):
    if p + 'mlp.gate_up_proj.weight' in w:
        gate, up = (h @ w[p + 'mlp.gate_up_proj.weight'].t()).chunk(2, dim=-1)
    else:
        gate, up = h @ w[p + 'mlp.gate_proj.weight'].t(), h @ w[p + 'mlp.up_proj.weight'].t()
    return (torch.nn.functional.silu(gate) * up) @ w[p + 'mlp.down_proj.weight'].t()


def forward(cfg, w, ids, cache):
    """Logits (T, V) of the new tokens `ids` at positions len(cache) .. len(cache) + T - 1; the
    cache (per layer: rotated keys and values so far) grows by their rows."""
    C, L, eps = cfg['hidden_size'], cfg['num_hidden_layers'], cfg['rms_norm_eps']
    H, KV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    D, rd = rope_dim(cfg)
    P = cache['length']
    T = ids.shape[0]
    pos = torch.arange(P, P + T)
    inv_freq, attn_factor = rope_params(cfg, P + T)
    freqs = pos.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = (emb.cos() * attn_factor)[:, None, :], (emb.sin() * attn_factor)[:, None, :]
    S = P + T
    kpos = torch.arange(S)
    mask = kpos[None, :] > pos[:, None]
    window = cfg.get('sliding_window')
    if window is not None:
        mask = mask | (kpos[None, :] <= pos[:, None] - window)
    x = w['model.embed_tokens.weight'][ids]
    for i in range(L):
        p = 'model.layers.%d.' % i
        h = rms_norm(x, w[p + 'input_layernorm.weight'], eps)
        q, k, v = projections(cfg, w, p, h)
        q = apply_rope(q.reshape(T, H, D), cos, sin, rd)
        k = apply_rope(k.reshape(T, KV, D), cos, sin, rd)
        v = v.reshape(T, KV, D)
        ks, vs = cache['layers'][i]
        ks = torch.cat((ks, k)) if ks is not None else k
        vs = torch.cat((vs, v)) if vs is not None else v
        cache['layers'][i] = (ks, vs)
        kk = ks.repeat_interleave(H // KV, dim=1).transpose(0, 1)
        vv = vs.repeat_interleave(H // KV, dim=1).transpose(0, 1)
        att = (q.transpose(0, 1) @ kk.transpose(-1, -2)) / math.sqrt(D)
        att = att.masked_fill(mask, torch.finfo(torch.float32).min).softmax(-1)
        a = (att @ vv).transpose(0, 1).reshape(T, H * D)
        x = x + a @ w[p + 'self_attn.o_proj.weight'].t()
        x = x + mlp(w, p, rms_norm(x, w[p + 'post_attention_layernorm.weight'], eps))
    cache['length'] = S
    x = rms_norm(x, w['model.norm.weight'], eps)
    return x @ w.get('lm_head.weight', w['model.embed_tokens.weight']).t()


# ---------------------------------------------------------------- Gemma 2 / Gemma 3 with a KV cache

def gemma_init(cfg, g, std=0.25):
    """Gemma's layout; norm weights are offsets from 1 (its RMSNorm multiplies by 1 + w)."""
    C, V, L, F = cfg['hidden_size'], cfg['vocab_size'], cfg['num_hidden_layers'], cfg['intermediate_size']
    H, KV, D = cfg['num_attention_heads'], cfg['num_key_value_heads'], cfg['head_dim']
    r = lambda *s: torch.randn(*s, generator=g) * std  # noqa: E731
    # Embeddings of std 1 after the sqrt(hidden) scale: the tied head would otherwise see mostly
    # the last token's own row (the post-norms keep each block's output near unit size).
    w = {'model.embed_tokens.weight': r(V, C) / (std * C ** 0.5)}
    for i in range(L):
        p = 'model.layers.%d.' % i
        w[p + 'input_layernorm.weight'] = r(C) * 0.4
        w[p + 'self_attn.q_proj.weight'] = r(H * D, C)
        w[p + 'self_attn.k_proj.weight'] = r(KV * D, C)
        w[p + 'self_attn.v_proj.weight'] = r(KV * D, C)
        w[p + 'self_attn.o_proj.weight'] = r(C, H * D)
        if cfg['model_type'] == 'gemma3_text':
            w[p + 'self_attn.q_norm.weight'] = r(D) * 0.4
            w[p + 'self_attn.k_norm.weight'] = r(D) * 0.4
        w[p + 'post_attention_layernorm.weight'] = r(C) * 0.4
        w[p + 'pre_feedforward_layernorm.weight'] = r(C) * 0.4
        w[p + 'mlp.gate_proj.weight'] = r(F, C)
        w[p + 'mlp.up_proj.weight'] = r(F, C)
        w[p + 'mlp.down_proj.weight'] = r(C, F)
        w[p + 'post_feedforward_layernorm.weight'] = r(C) * 0.4
    w['model.norm.weight'] = r(C) * 0.4
    return w


def gemma_norm(x, w, eps):
    """Gemma2RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + w), in f32."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + w.float())


def gemma_sliding(cfg, i):
    if cfg.get('layer_types'):
        return cfg['layer_types'][i] == 'sliding_attention'
    if cfg['model_type'] == 'gemma2':
        return i % 2 == 0  # modeling_gemma2: is_sliding = not bool(layer_idx % 2)
    return bool((i + 1) % cfg['sliding_window_pattern'])


def gemma_forward(cfg, w, ids, cache):
    """modeling_gemma2 / modeling_gemma3 (eager attention) over new tokens at positions len(cache)..."""
    C, L, eps = cfg['hidden_size'], cfg['num_hidden_layers'], cfg['rms_norm_eps']
    H, KV, D = cfg['num_attention_heads'], cfg['num_key_value_heads'], cfg['head_dim']
    gemma3 = cfg['model_type'] == 'gemma3_text'
    P, T = cache['length'], ids.shape[0]
    S = P + T
    pos = torch.arange(P, S)
    kpos = torch.arange(S)

    def rope(local):
        if gemma3 and local:
            inv, attn = default_inv_freq(cfg['rope_local_base_freq'], D), 1.0
        else:
            inv, attn = rope_params(cfg, S)
        f = pos.float()[:, None] * inv[None, :]
        emb = torch.cat((f, f), dim=-1)
        return (emb.cos() * attn)[:, None, :], (emb.sin() * attn)[:, None, :]
    x = w['model.embed_tokens.weight'][ids] * torch.tensor(C ** 0.5, dtype=torch.float32)
    scaling = cfg['query_pre_attn_scalar'] ** -0.5
    softcap = cfg.get('attn_logit_softcapping')
    for i in range(L):
        p = 'model.layers.%d.' % i
        local = gemma_sliding(cfg, i)
        cos, sin = rope(local)
        h = gemma_norm(x, w[p + 'input_layernorm.weight'], eps)
        q = (h @ w[p + 'self_attn.q_proj.weight'].t()).view(T, H, D)
        k = (h @ w[p + 'self_attn.k_proj.weight'].t()).view(T, KV, D)
        v = (h @ w[p + 'self_attn.v_proj.weight'].t()).view(T, KV, D)
        if gemma3:
            q = gemma_norm(q, w[p + 'self_attn.q_norm.weight'], eps)
            k = gemma_norm(k, w[p + 'self_attn.k_norm.weight'], eps)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        ks, vs = cache['layers'][i]
        ks = torch.cat((ks, k)) if ks is not None else k
        vs = torch.cat((vs, v)) if vs is not None else v
        cache['layers'][i] = (ks, vs)
        kk = ks.repeat_interleave(H // KV, dim=1).transpose(0, 1)
        vv = vs.repeat_interleave(H // KV, dim=1).transpose(0, 1)
        att = (q.transpose(0, 1) @ kk.transpose(-1, -2)) * scaling
        if softcap is not None:
            att = torch.tanh(att / softcap) * softcap
        mask = kpos[None, :] > pos[:, None]
        if local:
            mask = mask | (kpos[None, :] <= pos[:, None] - cfg['sliding_window'])
        att = att.masked_fill(mask, torch.finfo(torch.float32).min).softmax(-1)
        a = (att @ vv).transpose(0, 1).reshape(T, H * D) @ w[p + 'self_attn.o_proj.weight'].t()
        x = x + gemma_norm(a, w[p + 'post_attention_layernorm.weight'], eps)
        h = gemma_norm(x, w[p + 'pre_feedforward_layernorm.weight'], eps)
        m = torch.nn.functional.gelu(h @ w[p + 'mlp.gate_proj.weight'].t(), approximate='tanh') * (h @ w[p + 'mlp.up_proj.weight'].t())
        x = x + gemma_norm(m @ w[p + 'mlp.down_proj.weight'].t(), w[p + 'post_feedforward_layernorm.weight'], eps)
    cache['length'] = S
    x = gemma_norm(x, w['model.norm.weight'], eps)
    logits = x @ w.get('lm_head.weight', w['model.embed_tokens.weight']).t()
    cap = cfg.get('final_logit_softcapping')
    if cap is not None:
        logits = torch.tanh(logits / cap) * cap
    return logits


def new_cache(cfg):
    return dict(length=0, layers=[(None, None)] * cfg['num_hidden_layers'])


def goldens(cfg, w, prompts):
    step = gemma_forward if cfg['model_type'].startswith('gemma') else forward
    out, min_gap = [], float('inf')
    with torch.no_grad():
        for ids in prompts:
            cache = new_cache(cfg)
            row = step(cfg, w, torch.tensor(ids), cache)[-1]
            logits, seq = row, []
            for _ in range(CONTINUATION):
                top = torch.topk(row, 2).values
                min_gap = min(min_gap, float(top[0] - top[1]))
                seq.append(int(row.argmax()))
                row = step(cfg, w, torch.tensor([seq[-1]]), cache)[-1]
            out.append(dict(prompt=list(ids), logits=[float(v) for v in logits], greedy=seq))
    return out, min_gap


def fuse_phi3(cfg, w):
    """Llama-layout weights -> Phi-3's: q, k, v rows stacked into qkv_proj, gate and up into gate_up_proj."""
    out = {}
    for n, t in w.items():
        if n.endswith('self_attn.q_proj.weight'):
            p = n[:-len('q_proj.weight')]
            out[p + 'qkv_proj.weight'] = torch.cat((t, w[p + 'k_proj.weight'], w[p + 'v_proj.weight']))
        elif n.endswith('mlp.gate_proj.weight'):
            p = n[:-len('gate_proj.weight')]
            out[p + 'gate_up_proj.weight'] = torch.cat((t, w[p + 'up_proj.weight']))
        elif not n.endswith(('k_proj.weight', 'v_proj.weight', 'up_proj.weight')):
            out[n] = t
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'models'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = os.path.abspath(args.out)
    # The prompts of make_models.py (same seed and lengths).
    g = torch.Generator().manual_seed(SEED)
    prompts = {n: torch.randint(0, 256, (n,), generator=g).tolist() for n in PROMPT_LENGTHS}
    prompts = [prompts[n] for n in PROMPT_LENGTHS]
    result = dict(header=dict(script='tools/reference/make_families.py', reference='PyTorch %s (float32, CPU)' % torch.__version__,
                              seed=SEED, layout_version=LAYOUT_VERSION,
                              note='last-position logits of each prompt and greedy continuations of %d tokens, '
                                   'generated with a KV cache one token per pass' % CONTINUATION),
                  models={})
    models = [(name, cfg, llama_init(cfg, torch.Generator().manual_seed(SEED + 20 + k)))
              for k, (name, cfg) in enumerate(ROPE_CONFIGS.items())]
    models.append(('phi3-tiny', PHI3_CONFIG, fuse_phi3(PHI3_CONFIG, llama_init(PHI3_CONFIG, torch.Generator().manual_seed(SEED + 30)))))
    models.append(('gemma2-tiny', GEMMA2_CONFIG, gemma_init(GEMMA2_CONFIG, torch.Generator().manual_seed(SEED + 31))))
    models.append(('gemma3-tiny', GEMMA3_CONFIG, gemma_init(GEMMA3_CONFIG, torch.Generator().manual_seed(SEED + 32))))
    for name, cfg, w in models:
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
        write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
        res, gap = goldens(cfg, w, prompts)
        result['models'][name] = dict(prompts=res, min_top2_gap=gap)
        print('%-20s min top-2 gap along greedy paths: %.4f' % (name, gap))
    with open(os.path.join(out, 'families-goldens.json'), 'w') as f:
        json.dump(result, f)


if __name__ == '__main__':
    main()
