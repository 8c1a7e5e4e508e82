#!/usr/bin/python3
# Goldens for generated attention biases, from PyTorch (Debian's python3-torch), written from
# Hugging Face's modeling_t5.py (T5Attention._relative_position_bucket and compute_bias) and
# the ALiBi definition (BLOOM's build_alibi_tensor): T5 buckets for a range of relative
# positions, and whole attention calls with each bias, to test/fixtures/position-bias/goldens.json.
#   /usr/bin/python3 tools/reference/position_bias.py
import json
import math
import os

import torch

SEED = 20261203
VERSION = 1


def relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance):
    # As T5Attention._relative_position_bucket: relative_position = memory - query.
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


def attention(q, k, v, bias, causal, q_offset, scale):
    # q: (Tq, H, D), k, v: (Tk, H, D), bias: (H, Tq, Tk) -> (Tq, H, D), in float64.
    tq, tk = q.shape[0], k.shape[0]
    scores = torch.einsum('ihd,jhd->hij', q, k) * scale + bias
    if causal:
        i = torch.arange(tq).view(tq, 1) + q_offset
        j = torch.arange(tk).view(1, tk)
        scores = scores.masked_fill(j > i, float('-inf'))
    return torch.einsum('hij,jhd->ihd', torch.softmax(scores, dim=-1), v)


def main():
    torch.manual_seed(SEED)
    buckets = []
    for num_buckets, max_distance, bidirectional in [(32, 128, True), (32, 128, False), (8, 12, True), (6, 9, False), (16, 10, True)]:
        rel = torch.arange(-400, 401)
        b = relative_position_bucket(rel, bidirectional, num_buckets, max_distance)
        buckets.append({'buckets': num_buckets, 'maxDistance': max_distance, 'bidirectional': bidirectional,
                        'from': -400, 'bucket': b.tolist()})
    calls = []
    for kind, tq, tk, h, d, causal, q_offset, extra in [
        ('t5', 9, 9, 4, 16, False, 0, {'buckets': 32, 'maxDistance': 128}),
        ('t5', 5, 40, 2, 8, True, 35, {'buckets': 32, 'maxDistance': 20}),
        ('t5', 1, 300, 3, 8, True, 299, {'buckets': 8, 'maxDistance': 64}),
        ('alibi', 17, 17, 4, 8, True, 0, {}),
    ]:
        q = torch.randn(tq, h, d, dtype=torch.float64)
        k = torch.randn(tk, h, d, dtype=torch.float64)
        v = torch.randn(tk, h, d, dtype=torch.float64)
        qpos = torch.arange(tq).view(tq, 1) + q_offset
        kpos = torch.arange(tk).view(1, tk)
        if kind == 't5':
            table = torch.randn(extra['buckets'], h, dtype=torch.float32)
            bucket = relative_position_bucket(kpos - qpos, not causal, extra['buckets'], extra['maxDistance'])
            bias = table[bucket].permute(2, 0, 1).to(torch.float64)  # compute_bias: (H, Tq, Tk)
            scale = 1.0  # T5 does not scale scores
        else:
            table = torch.tensor([2 ** (-8 * (i + 1) / h) for i in range(h)], dtype=torch.float32)
            bias = table.view(h, 1, 1).to(torch.float64) * (kpos - qpos).view(1, tq, tk).to(torch.float64)
            scale = 1 / math.sqrt(d)
        out = attention(q, k, v, bias, causal, q_offset, scale)
        calls.append({'positionBias': kind, 'tq': tq, 'tk': tk, 'heads': h, 'd': d, 'causal': causal, 'qOffset': q_offset,
                      'scale': scale, **extra, 'q': q.flatten().tolist(), 'k': k.flatten().tolist(), 'v': v.flatten().tolist(),
                      'biasTable': table.flatten().tolist(), 'out': out.flatten().tolist()})
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'position-bias', 'goldens.json')
    with open(path, 'w') as f:
        json.dump({'made_by': 'tools/reference/position_bias.py', 'reference': f'PyTorch {torch.__version__}, from HF modeling_t5.py and BLOOM ALiBi',
                   'seed': SEED, 'version': VERSION, 'buckets': buckets, 'calls': calls}, f)
        f.write('\n')


if __name__ == '__main__':
    main()
