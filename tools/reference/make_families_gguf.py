"""Converts the tiny Hugging Face fixtures of Mistral, Qwen2, Qwen3, Gemma 2, Gemma 3, Phi-3 and the
Llama ones with a rope_scaling (linear, YaRN, Llama 3) to GGUF (f32) with llama.cpp's architecture
names, tensor names and metadata keys (as its convert_hf_to_gguf.py writes them: Mistral as 'llama'
with Q/K rows permuted for interleaved rotation, Gemma's norm weights stored as 1 + w, Phi-3's
fused tensors and LongRoPE factor tensors, Llama 3's rope_freqs), then evaluates each file with llama.cpp
(tools/llamacpp/llamacpp.mjs: node-llama-cpp 3.21.1's libllama, f32 K/V, flash attention off)
and writes its logits and greedy ids to test/fixtures/models/gguf-goldens.json.

    python3 tools/reference/make_families_gguf.py [--out test/fixtures/models] [--no-eval]

llama.cpp decides some things the Hugging Face config says otherwise, and the GGUF loader follows
llama.cpp: Mistral files ('llama') have no sliding window; Gemma's query scale is
1/sqrt(head_dim) (query_pre_attn_scalar is not stored); Gemma 3's local layers follow its fixed
pattern of 6 with base 10000; Phi-3 runs without its window and with LongRoPE's long factors
(see MODELS). The goldens here are llama.cpp's, not PyTorch's.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402
from make_models import PROMPT_LENGTHS, SEED, llama_permute  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CONTINUATION = 16


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', name
        a, b = info['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(info['shape']).copy())
    return out


def common(g, arch, cfg, head_dim=None, name=None):
    g.add('general.architecture', gw.STRING, arch)
    g.add('general.name', gw.STRING, name or cfg['model_type'] + '-tiny')
    g.add('general.file_type', gw.UINT32, 0)
    g.add(arch + '.context_length', gw.UINT32, cfg['max_position_embeddings'])
    g.add(arch + '.embedding_length', gw.UINT32, cfg['hidden_size'])
    g.add(arch + '.feed_forward_length', gw.UINT32, cfg['intermediate_size'])
    g.add(arch + '.block_count', gw.UINT32, cfg['num_hidden_layers'])
    g.add(arch + '.attention.head_count', gw.UINT32, cfg['num_attention_heads'])
    g.add(arch + '.attention.head_count_kv', gw.UINT32, cfg['num_key_value_heads'])
    g.add(arch + '.rope.freq_base', gw.FLOAT32, cfg['rope_theta'])
    g.add(arch + '.attention.layer_norm_rms_epsilon', gw.FLOAT32, cfg['rms_norm_eps'])
    if head_dim is not None:
        g.add(arch + '.attention.key_length', gw.UINT32, head_dim)
        g.add(arch + '.attention.value_length', gw.UINT32, head_dim)
    # llama.cpp needs tokenizer metadata to load a file. The 256 ids are SentencePiece byte
    # tokens (type 6), so any text encodes (byte fallback) and chat prompts run end to end.
    V = cfg['vocab_size']
    assert V == 256
    g.add('tokenizer.ggml.model', gw.STRING, 'llama')
    g.add('tokenizer.ggml.tokens', gw.ARRAY, (gw.STRING, ['<0x%02X>' % i for i in range(V)]))
    g.add('tokenizer.ggml.scores', gw.ARRAY, (gw.FLOAT32, [0.0] * V))
    g.add('tokenizer.ggml.token_type', gw.ARRAY, (gw.INT32, [6] * V))
    g.add('tokenizer.ggml.bos_token_id', gw.UINT32, cfg['bos_token_id'])
    g.add('tokenizer.ggml.eos_token_id', gw.UINT32, cfg['eos_token_id'])
    g.add('tokenizer.ggml.add_bos_token', gw.BOOL, False)


def put_template(g, family):
    """The family's representative chat template (test/fixtures/chat-templates), as GGUF carries one."""
    with open(os.path.join(ROOT, 'test', 'fixtures', 'chat-templates', family + '.jinja')) as f:
        g.add('tokenizer.chat_template', gw.STRING, f.read())


def put(g, name, t):
    g.add_tensor(name, t.numpy(), gw.GGML_F32)


def llama_like(cfg, w, arch):
    """Mistral ('llama': Q/K permuted), Qwen2 (q/k/v bias) and Qwen3 (q/k norms) in llama.cpp's names."""
    H, KV, L = cfg['num_attention_heads'], cfg['num_key_value_heads'], cfg['num_hidden_layers']
    D = cfg.get('head_dim') or cfg['hidden_size'] // H
    g = gw.GGUFWriter()
    common(g, arch, cfg, head_dim=D if arch == 'qwen3' else None)
    # The Llama fixtures with a rope_scaling stand for Llama 3.x checkpoints.
    put_template(g, 'llama3' if cfg.get('rope_scaling') else {'llama': 'mistral', 'qwen2': 'qwen2', 'qwen3': 'qwen2'}[arch])
    if arch == 'llama':
        g.add('llama.rope.dimension_count', gw.UINT32, D)
        llama_rope_scaling(g, cfg, D)
    put(g, 'token_embd.weight', w['model.embed_tokens.weight'])
    for i in range(L):
        p, b = 'model.layers.%d.' % i, 'blk.%d.' % i
        q, k = w[p + 'self_attn.q_proj.weight'], w[p + 'self_attn.k_proj.weight']
        if arch == 'llama':
            q, k = llama_permute(q, H), llama_permute(k, KV)
        put(g, b + 'attn_norm.weight', w[p + 'input_layernorm.weight'])
        put(g, b + 'attn_q.weight', q)
        put(g, b + 'attn_k.weight', k)
        put(g, b + 'attn_v.weight', w[p + 'self_attn.v_proj.weight'])
        for n in 'qkv':
            if p + 'self_attn.%s_proj.bias' % n in w:
                put(g, b + 'attn_%s.bias' % n, w[p + 'self_attn.%s_proj.bias' % n])
        if p + 'self_attn.q_norm.weight' in w:
            put(g, b + 'attn_q_norm.weight', w[p + 'self_attn.q_norm.weight'])
            put(g, b + 'attn_k_norm.weight', w[p + 'self_attn.k_norm.weight'])
        put(g, b + 'attn_output.weight', w[p + 'self_attn.o_proj.weight'])
        put(g, b + 'ffn_norm.weight', w[p + 'post_attention_layernorm.weight'])
        put(g, b + 'ffn_gate.weight', w[p + 'mlp.gate_proj.weight'])
        put(g, b + 'ffn_up.weight', w[p + 'mlp.up_proj.weight'])
        put(g, b + 'ffn_down.weight', w[p + 'mlp.down_proj.weight'])
    put(g, 'output_norm.weight', w['model.norm.weight'])
    if 'lm_head.weight' in w:
        put(g, 'output.weight', w['lm_head.weight'])
    return g


def llama_rope_scaling(g, cfg, D):
    """rope_scaling as llama.cpp's Llama converter writes it: linear and YaRN as llama.rope.scaling.*
    keys, Llama 3's as a rope_freqs tensor of per-pair divisors of the frequency (no scaling key)."""
    s = cfg.get('rope_scaling')
    if not s:
        return
    kind = s.get('rope_type', s.get('type'))
    if kind == 'linear':
        g.add('llama.rope.scaling.type', gw.STRING, 'linear')
        g.add('llama.rope.scaling.factor', gw.FLOAT32, s['factor'])
    elif kind == 'yarn':
        g.add('llama.rope.scaling.type', gw.STRING, 'yarn')
        g.add('llama.rope.scaling.factor', gw.FLOAT32, s['factor'])
        g.add('llama.rope.scaling.original_context_length', gw.UINT32, s['original_max_position_embeddings'])
        g.add('llama.rope.scaling.yarn_beta_fast', gw.FLOAT32, s['beta_fast'])
        g.add('llama.rope.scaling.yarn_beta_slow', gw.FLOAT32, s['beta_slow'])
    elif kind == 'llama3':
        base = cfg['rope_theta']
        freqs = 1.0 / (base ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
        factor, lo, hi, old = s['factor'], s['low_freq_factor'], s['high_freq_factor'], s['original_max_position_embeddings']
        lo_wave, hi_wave = old / lo, old / hi
        divisors = []
        for f in freqs.tolist():
            wave = 2 * math.pi / f
            if wave < hi_wave:
                divisors.append(1.0)
            elif wave > lo_wave:
                divisors.append(factor)
            else:
                smooth = (old / wave - lo) / (hi - lo)
                divisors.append(1 / ((1 - smooth) / factor + smooth))
        put(g, 'rope_freqs.weight', torch.tensor(divisors, dtype=torch.float32))
    else:
        raise ValueError('llama.cpp has no Llama GGUF form of rope_scaling %r' % kind)


def phi3(cfg, w, arch):
    """Phi-3 as llama.cpp's converter writes it: qkv_proj and gate_up_proj stored fused (attn_qkv,
    ffn_up of 2F rows), the rotated dimensions, LongRoPE's factors as rope_factors_long/short
    tensors with the attention factor and original context as metadata, and the window."""
    H, C, L = cfg['num_attention_heads'], cfg['hidden_size'], cfg['num_hidden_layers']
    D = C // H
    rd = int(D * cfg.get('partial_rotary_factor', 1.0))
    g = gw.GGUFWriter()
    # llama.cpp looks up '</s>', '<unk>', '<s>' and '<|endoftext|>' in the vocabulary of a model whose
    # general.name contains 'phi3' or 'phi-3'; the byte vocabulary here has none of them.
    common(g, arch, cfg, name='tiny-p3')
    put_template(g, 'phi3')
    g.add('phi3.rope.dimension_count', gw.UINT32, rd)
    g.add('phi3.attention.sliding_window', gw.UINT32, cfg.get('sliding_window') or 0)
    orig, top = cfg['original_max_position_embeddings'], cfg['max_position_embeddings']
    g.add('phi3.rope.scaling.original_context_length', gw.UINT32, orig)
    s = cfg['rope_scaling']
    assert s.get('rope_type', s.get('type')) in ('longrope', 'su')
    scale = top / orig
    g.add('phi3.rope.scaling.attn_factor', gw.FLOAT32, math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0)
    put(g, 'rope_factors_long.weight', torch.tensor(s['long_factor'], dtype=torch.float32))
    put(g, 'rope_factors_short.weight', torch.tensor(s['short_factor'], dtype=torch.float32))
    put(g, 'token_embd.weight', w['model.embed_tokens.weight'])
    for i in range(L):
        p, b = 'model.layers.%d.' % i, 'blk.%d.' % i
        put(g, b + 'attn_norm.weight', w[p + 'input_layernorm.weight'])
        put(g, b + 'attn_qkv.weight', w[p + 'self_attn.qkv_proj.weight'])
        put(g, b + 'attn_output.weight', w[p + 'self_attn.o_proj.weight'])
        put(g, b + 'ffn_norm.weight', w[p + 'post_attention_layernorm.weight'])
        put(g, b + 'ffn_up.weight', w[p + 'mlp.gate_up_proj.weight'])
        put(g, b + 'ffn_down.weight', w[p + 'mlp.down_proj.weight'])
    put(g, 'output_norm.weight', w['model.norm.weight'])
    put(g, 'output.weight', w['lm_head.weight'])
    return g


def gemma(cfg, w, arch):
    """Gemma 2 / Gemma 3: norms as 1 + w (llama.cpp's converter adds the 1), tied head."""
    L, D = cfg['num_hidden_layers'], cfg['head_dim']
    g = gw.GGUFWriter()
    common(g, arch, cfg, head_dim=D)
    put_template(g, 'gemma')
    g.add(arch + '.attention.sliding_window', gw.UINT32, cfg['sliding_window'])
    if arch == 'gemma2':
        g.add('gemma2.attn_logit_softcapping', gw.FLOAT32, cfg['attn_logit_softcapping'])
        g.add('gemma2.final_logit_softcapping', gw.FLOAT32, cfg['final_logit_softcapping'])
    s = cfg.get('rope_scaling')
    if s:
        g.add(arch + '.rope.scaling.type', gw.STRING, s['rope_type'])
        g.add(arch + '.rope.scaling.factor', gw.FLOAT32, s['factor'])
    one = lambda t: t + 1  # noqa: E731
    put(g, 'token_embd.weight', w['model.embed_tokens.weight'])
    for i in range(L):
        p, b = 'model.layers.%d.' % i, 'blk.%d.' % i
        put(g, b + 'attn_norm.weight', one(w[p + 'input_layernorm.weight']))
        put(g, b + 'attn_q.weight', w[p + 'self_attn.q_proj.weight'])
        put(g, b + 'attn_k.weight', w[p + 'self_attn.k_proj.weight'])
        put(g, b + 'attn_v.weight', w[p + 'self_attn.v_proj.weight'])
        if p + 'self_attn.q_norm.weight' in w:
            put(g, b + 'attn_q_norm.weight', one(w[p + 'self_attn.q_norm.weight']))
            put(g, b + 'attn_k_norm.weight', one(w[p + 'self_attn.k_norm.weight']))
        put(g, b + 'attn_output.weight', w[p + 'self_attn.o_proj.weight'])
        put(g, b + 'post_attention_norm.weight', one(w[p + 'post_attention_layernorm.weight']))
        put(g, b + 'ffn_norm.weight', one(w[p + 'pre_feedforward_layernorm.weight']))
        put(g, b + 'ffn_gate.weight', w[p + 'mlp.gate_proj.weight'])
        put(g, b + 'ffn_up.weight', w[p + 'mlp.up_proj.weight'])
        put(g, b + 'ffn_down.weight', w[p + 'mlp.down_proj.weight'])
        put(g, b + 'post_ffw_norm.weight', one(w[p + 'post_feedforward_layernorm.weight']))
    put(g, 'output_norm.weight', one(w['model.norm.weight']))
    return g


def phi3_no_window(cfg, w, arch):
    """Phi-3 with sliding_window null, which the converter writes as 0: the file llama.cpp is compared on."""
    return phi3(dict(cfg, sliding_window=None), w, arch)


# (fixture, architecture, converter, file name, prompts to evaluate: 'all' or the lengths > 16 only).
# llama.cpp runs Phi-3 without its window and with the long LongRoPE factors whenever the context
# (at least 256 there) passes the original 16; the Hugging Face semantics take the short factors
# while a pass stays within 16 positions. The two agree on the window-free file for prompts past
# 16 tokens, which is what is evaluated; the file with the window is checked against PyTorch.
MODELS = [('mistral-tiny', 'llama', llama_like, 'model-f32.gguf', 'all'), ('qwen2-tiny', 'qwen2', llama_like, 'model-f32.gguf', 'all'),
          ('qwen3-tiny', 'qwen3', llama_like, 'model-f32.gguf', 'all'), ('gemma2-tiny', 'gemma2', gemma, 'model-f32.gguf', 'all'),
          ('gemma3-tiny', 'gemma3', gemma, 'model-f32.gguf', 'all'),
          ('llama-linear-tiny', 'llama', llama_like, 'model-f32.gguf', 'all'), ('llama-yarn-tiny', 'llama', llama_like, 'model-f32.gguf', 'all'),
          ('llama-llama3-tiny', 'llama', llama_like, 'model-f32.gguf', 'all'),
          ('phi3-tiny', 'phi3', phi3, 'model-f32.gguf', None), ('phi3-tiny', 'phi3', phi3_no_window, 'model-nowindow-f32.gguf', 'long')]


# The fixtures whose f32 file llama.cpp also quantizes to Q8_0 and evaluates (one per family and
# rope variant; Phi-3's is the window-free file).
Q8_0_FILES = ('mistral-tiny', 'qwen2-tiny', 'qwen3-tiny', 'gemma2-tiny', 'gemma3-tiny', 'llama-llama3-tiny', 'phi3-tiny')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(ROOT, 'test', 'fixtures', 'models'))
    ap.add_argument('--no-eval', action='store_true', help='write the GGUF files only')
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    g = torch.Generator().manual_seed(SEED)
    prompts = {n: torch.randint(0, 256, (n,), generator=g).tolist() for n in PROMPT_LENGTHS}
    prompts = [prompts[n] for n in PROMPT_LENGTHS]
    # Prompts past Phi-3's original context of 16: the first 17 ids of the longest prompt, and it.
    long_prompts = [prompts[-1][:17], prompts[-1]]
    goldens = dict(models={})
    version = None
    for name, arch, convert, file, which in MODELS:
        d = os.path.join(out, name)
        cfg = json.load(open(os.path.join(d, 'config.json')))
        w = read_safetensors(os.path.join(d, 'model.safetensors'))
        path = os.path.join(d, file)
        convert(cfg, w, arch).write(path)
        if args.no_eval or which is None:
            continue
        cmd = ['node', os.path.join(ROOT, 'tools', 'llamacpp', 'llamacpp.mjs'), 'eval', path, '--greedy', str(CONTINUATION)]
        for p in (prompts if which == 'all' else long_prompts):
            cmd += ['--prompt', ','.join(map(str, p))]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        version = res['llama_cpp_version']
        goldens['models'][name + '/' + file] = dict(
            architecture=res['architecture'],
            prompts=[dict(prompt=p['prompt'], logits=p['logits'][-1], greedy=p['greedy']) for p in res['prompts']])
        print('%-18s %-7s llama.cpp evaluated %d prompts' % (name, arch, len(res['prompts'])))
        if name in Q8_0_FILES:
            # llama.cpp quantizes the f32 file to Q8_0 (every matrix; norms and rope factors stay f32)
            # and evaluates it: attnode loads the very same bytes.
            q = os.path.join(d, file.replace('-f32', '-q8_0'))
            subprocess.run(['node', os.path.join(ROOT, 'tools', 'llamacpp', 'llamacpp.mjs'), 'quantize', path, q, 'Q8_0'], check=True, capture_output=True)
            qres = json.loads(subprocess.run(cmd[:3] + [q] + cmd[4:], check=True, capture_output=True, text=True).stdout)
            goldens['models'][name + '/' + os.path.basename(q)] = dict(
                architecture=qres['architecture'],
                prompts=[dict(prompt=p['prompt'], logits=p['logits'][-1], greedy=p['greedy'], greedy_top2_gaps=p['greedy_top2_gaps'])
                         for p in qres['prompts']])
            print('%-18s %-7s llama.cpp evaluated its Q8_0 file' % (name, arch))
    if args.no_eval:
        return
    goldens['header'] = dict(script='tools/reference/make_families_gguf.py', reference='llama.cpp %s (node-llama-cpp 3.21.1, CPU, f32 K/V, '
                             'flash attention off)' % version, seed=SEED, layout_version=1,
                             note='last-position logits of each prompt and greedy continuations of %d tokens' % CONTINUATION)
    with open(os.path.join(out, 'gguf-goldens.json'), 'w') as f:
        json.dump(goldens, f)


if __name__ == '__main__':
    main()
