#!/usr/bin/python3
# Trains the small GPT-2-architecture default model on the tokenized fortunes corpus (CPU, 1 thread).
# Not the exporter: tools/export-default-model.py turns the checkpoint written here into GGUF.
#
# usage: /usr/bin/python3 tools/train-default-model.py <corpus.bin> <out-dir> [--max-steps N] [--max-minutes M]
# corpus.bin holds uint16 GPT-2 token ids from tools/tokenize-corpus.mjs. Writes <out-dir>/checkpoint.pt
# and <out-dir>/training.json (hyper-parameters, steps, loss curve). Deterministic for a given seed
# and step count: the schedule depends on --max-steps only, the time limit is a safety stop.
#
# Speed: on one CPU thread the 50257-way tied unembedding dominates the step. Only the ~26k ids that
# occur in the corpus get their own row; every other id shares one row ("other") whose logit carries
# +log(count of such ids). That is exactly the full-vocabulary softmax of a model whose unseen rows are
# tied together, so the exporter writes the shared row into every unseen id and nothing is approximated.
import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('corpus')
p.add_argument('out')
p.add_argument('--max-steps', type=int, default=3000)
p.add_argument('--max-minutes', type=float, default=32.0)
p.add_argument('--seed', type=int, default=1234)
p.add_argument('--threads', type=int, default=1)
p.add_argument('--batch', type=int, default=16)
p.add_argument('--lr', type=float, default=3e-3)
args = p.parse_args()

CFG = dict(vocab_size=50257, n_ctx=128, n_embd=128, n_layer=4, n_head=4, layer_norm_epsilon=1e-5)

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


class Block(nn.Module):
    # Pre-LayerNorm block exactly as GPT-2: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d, eps=CFG['layer_norm_epsilon'])
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=CFG['layer_norm_epsilon'])
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x, mask):
        # x: (B, T, C) f32
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.h, C // self.h).transpose(1, 2)
        k = k.view(B, T, self.h, C // self.h).transpose(1, 2)
        v = v.view(B, T, self.h, C // self.h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.h)
        att = att.masked_fill(mask[:T, :T], float('-inf')).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate='tanh'))


class GPT(nn.Module):
    def __init__(self, n_rows, other_log_count):
        super().__init__()
        d = CFG['n_embd']
        # n_rows = corpus ids + 1 shared row for every id the corpus never uses.
        self.wte = nn.Embedding(n_rows, d)
        self.other_log_count = other_log_count
        self.wpe = nn.Embedding(CFG['n_ctx'], d)
        self.h = nn.ModuleList([Block(d, CFG['n_head']) for _ in range(CFG['n_layer'])])
        self.ln_f = nn.LayerNorm(d, eps=CFG['layer_norm_epsilon'])
        self.register_buffer('mask', torch.triu(torch.ones(CFG['n_ctx'], CFG['n_ctx'], dtype=torch.bool), 1))
        for name, prm in self.named_parameters():
            if name.endswith('weight') and prm.dim() == 2:
                # GPT-2 init; residual projections scaled down by depth so the stream starts near identity.
                std = 0.02 / math.sqrt(2 * CFG['n_layer']) if ('c_proj' in name or 'mlp_proj' in name) else 0.02
                nn.init.normal_(prm, 0.0, std)
            elif name.endswith('bias'):
                nn.init.zeros_(prm)

    def forward(self, idx):
        # idx: (B, T) int64 -> logits (B, T, V) f32; the unembedding is tied to wte.
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.h:
            x = b(x, self.mask)
        logits = self.ln_f(x) @ self.wte.weight.t()
        # The last row stands for other_count ids at once: their summed probability is count * exp(logit).
        return torch.cat([logits[..., :-1], logits[..., -1:] + self.other_log_count], dim=-1)


raw = open(args.corpus, 'rb').read()
full_ids = torch.frombuffer(bytearray(raw), dtype=torch.int16).to(torch.int64) & 0xFFFF
kept = torch.unique(full_ids)  # sorted GPT-2 ids present in the corpus
compact = torch.full((CFG['vocab_size'],), len(kept), dtype=torch.int64)
compact[kept] = torch.arange(len(kept))
data = compact[full_ids]
other_count = CFG['vocab_size'] - len(kept)
split = int(len(data) * 0.95)
train, val = data[:split], data[split:]
gen = torch.Generator().manual_seed(args.seed)


def batch(src, n):
    ix = torch.randint(0, len(src) - CFG['n_ctx'] - 1, (n,), generator=gen)
    x = torch.stack([src[i:i + CFG['n_ctx']] for i in ix])
    y = torch.stack([src[i + 1:i + 1 + CFG['n_ctx']] for i in ix])
    return x, y


@torch.no_grad()
def val_loss(model):
    model.eval()
    g = torch.Generator().manual_seed(7)
    losses = []
    for _ in range(8):
        ix = torch.randint(0, len(val) - CFG['n_ctx'] - 1, (16,), generator=g)
        x = torch.stack([val[i:i + CFG['n_ctx']] for i in ix])
        y = torch.stack([val[i + 1:i + 1 + CFG['n_ctx']] for i in ix])
        losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
    model.train()
    return sum(losses) / len(losses)


model = GPT(len(kept) + 1, math.log(other_count))
n_params = sum(p.numel() for p in model.parameters())
decay = [p for n, p in model.named_parameters() if p.dim() == 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                        lr=args.lr, betas=(0.9, 0.95))
warmup = 100


def lr_at(step):
    if step < warmup:
        return args.lr * (step + 1) / warmup
    t = (step - warmup) / max(1, args.max_steps - warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


os.makedirs(args.out, exist_ok=True)
curve = []
t0 = time.time()
step = 0
stopped = 'max_steps'
ema = None
print(json.dumps({'params': n_params, 'train_tokens': len(train), 'val_tokens': len(val)}), flush=True)
while step < args.max_steps:
    if (time.time() - t0) / 60 > args.max_minutes:
        stopped = 'time_limit'
        break
    for g_ in opt.param_groups:
        g_['lr'] = lr_at(step)
    x, y = batch(train, args.batch)
    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
    step += 1
    if step % 100 == 0 or step == 1:
        point = {'step': step, 'train_loss': round(ema, 4), 'minutes': round((time.time() - t0) / 60, 2)}
        if step % 500 == 0:
            point['val_loss'] = round(val_loss(model), 4)
        curve.append(point)
        print(json.dumps(point), flush=True)

final_val = val_loss(model)
torch.save({'config': CFG, 'state_dict': model.state_dict(), 'kept_ids': kept},
           os.path.join(args.out, 'checkpoint.pt'))
record = {
    'architecture': 'gpt2', 'config': CFG, 'parameters_trained': n_params,
    'parameters_exported': n_params + (other_count - 1) * CFG['n_embd'],
    'corpus_ids': len(kept), 'shared_row_ids': other_count,
    'seed': args.seed, 'threads': args.threads, 'batch': args.batch, 'lr': args.lr, 'warmup': warmup,
    'optimizer': 'AdamW(betas=0.9,0.95, weight_decay=0.1 on matrices), cosine to 10%, grad clip 1.0',
    'max_steps': args.max_steps, 'steps': step, 'stopped_by': stopped,
    'tokens_seen': step * args.batch * CFG['n_ctx'], 'train_tokens': len(train), 'val_tokens': len(val),
    'final_train_loss_ema': round(ema, 4), 'final_val_loss': round(final_val, 4),
    'minutes': round((time.time() - t0) / 60, 2), 'torch': torch.__version__, 'loss_curve': curve,
}
with open(os.path.join(args.out, 'training.json'), 'w') as f:
    json.dump(record, f, indent=1)
print(json.dumps({'done': True, 'steps': step, 'final_val_loss': record['final_val_loss']}), flush=True)
