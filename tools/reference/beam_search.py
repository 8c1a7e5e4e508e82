"""Beam-search goldens for the trained tiny decoder fixtures (gpt2-tiny-trained, llama-tiny-trained):
a plain-torch beam search written from Hugging Face's BeamSearchScorer / BeamHypotheses semantics
(transformers 4.40: length penalty over the generated length, EOS included; early_stopping True,
False, 'never'; no_repeat_ngram_size and min_new_tokens as logits processors over log-softmax
scores), over make_models.py's forward passes, the whole sequence recomputed each step (no cache).
Run with Debian's python3-torch:

    python3 tools/reference/beam_search.py [--out test/fixtures/models/beam-goldens.json]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models as mm  # noqa: E402

LAYOUT_VERSION = 1
SEED = 4321
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'models')

# (name, options): 4 beams, 2 returned unless said otherwise; eos 'greedy3' = the model's greedy
# 3rd new token (so hypotheses finish early), 'config' = the config's eos_token_id.
CASES = [
    ('es-false-lp1', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=False, max_new_tokens=12, eos='greedy3')),
    ('es-true-lp1', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=True, max_new_tokens=12, eos='greedy3')),
    ('es-false-lp2', dict(num_beams=4, num_return_sequences=2, length_penalty=2.0, early_stopping=False, max_new_tokens=12, eos='greedy3')),
    ('es-never-lp1.5', dict(num_beams=4, num_return_sequences=2, length_penalty=1.5, early_stopping='never', max_new_tokens=10, eos='greedy3')),
    ('es-true-lp-neg', dict(num_beams=4, num_return_sequences=2, length_penalty=-0.5, early_stopping=True, max_new_tokens=12, eos='greedy3')),
    ('ngram2', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=False, max_new_tokens=16, eos='config', no_repeat_ngram_size=2)),
    ('min-new-6', dict(num_beams=4, num_return_sequences=2, length_penalty=1.0, early_stopping=False, max_new_tokens=12, eos='greedy3', min_new_tokens=6)),
    ('no-eos-hit', dict(num_beams=4, num_return_sequences=4, length_penalty=1.0, early_stopping=False, max_new_tokens=8, eos='config')),
]

_DT = {'F32': np.float32}


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=_DT[info['dtype']]).reshape(info['shape']).copy())
    return out


class Hypotheses:
    """BeamHypotheses: the num_beams best finished sequences."""

    def __init__(self, num_beams, length_penalty, early_stopping, max_new):
        self.num_beams, self.length_penalty, self.early_stopping, self.max_new = num_beams, length_penalty, early_stopping, max_new
        self.beams = []
        self.worst_score = 1e9

    def add(self, hyp, sum_logprobs, generated_len, eos):
        score = sum_logprobs / (generated_len ** self.length_penalty)
        if len(self.beams) < self.num_beams or score > self.worst_score:
            self.beams.append((score, hyp, eos))
            if len(self.beams) > self.num_beams:
                ranked = sorted([(s, i) for i, (s, _, _) in enumerate(self.beams)])
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs, cur_len):
        if len(self.beams) < self.num_beams:
            return False
        if self.early_stopping is True:
            return True
        if self.early_stopping == 'never' and self.length_penalty > 0.0:
            best = best_sum_logprobs / self.max_new ** self.length_penalty
        else:
            best = best_sum_logprobs / cur_len ** self.length_penalty
        return self.worst_score >= best


def banned_ngram_tokens(ids, n):
    """NoRepeatNGramLogitsProcessor: tokens that would complete an n-gram already in ids."""
    if len(ids) + 1 < n:
        return []
    prefix = tuple(ids[len(ids) - n + 1:])
    return [ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i:i + n - 1]) == prefix]


def beam_search(forward, cfg, w, prompt, o, eos, process=None):
    """process(scores, gen): optional logits processors run last on the (beams, V) log-softmax scores
    (forced BOS / EOS tokens), gen = tokens generated so far."""
    nb, max_new = o['num_beams'], o['max_new_tokens']
    hyps = Hypotheses(nb, o['length_penalty'], o['early_stopping'], max_new)
    beams = [list(prompt) for _ in range(nb)]
    beam_scores = torch.zeros(nb, dtype=torch.float32)
    beam_scores[1:] = -1e9
    keep = max(2, 1 + len(eos)) * nb
    done = False
    gen = 0
    with torch.no_grad():
        while True:
            logits = torch.stack([forward(cfg, w, torch.tensor(b, dtype=torch.long))[-1] for b in beams])  # (nb, V)
            scores = torch.log_softmax(logits, dim=-1)
            for i, b in enumerate(beams):
                if o.get('no_repeat_ngram_size'):
                    for t in banned_ngram_tokens(b, o['no_repeat_ngram_size']):
                        scores[i, t] = -float('inf')
                if gen < o.get('min_new_tokens', 0):
                    for t in eos:
                        scores[i, t] = -float('inf')
            if process is not None:
                process(scores, gen)
            V = scores.shape[1]
            nxt = (scores + beam_scores[:, None]).view(-1)
            top_scores, top_idx = torch.topk(nxt, keep, largest=True, sorted=True)
            cur_len = gen + 1
            new_beams, new_scores = [], []
            for rank in range(keep):
                beam, tok, sc = int(top_idx[rank]) // V, int(top_idx[rank]) % V, float(top_scores[rank])
                if tok in eos:
                    if rank >= nb:
                        continue
                    hyps.add(beams[beam][len(prompt):], sc, cur_len, True)
                else:
                    new_beams.append(beams[beam] + [tok])
                    new_scores.append(sc)
                if len(new_beams) == nb:
                    break
            done = hyps.is_done(float(top_scores[0]), cur_len)
            beams = new_beams
            beam_scores = torch.tensor(new_scores, dtype=torch.float32)
            gen += 1
            if done or gen >= max_new:
                break
    if not done:
        for b, sc in zip(beams, beam_scores.tolist()):
            hyps.add(b[len(prompt):], sc, len(b) - len(prompt), False)
    ranked = sorted(hyps.beams, key=lambda x: x[0])
    out = []
    for _ in range(o['num_return_sequences']):
        score, ids, eos_hit = ranked.pop()
        out.append(dict(ids=ids, score=score, eos=eos_hit))
    return out


def greedy(forward, cfg, w, prompt, n):
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            seq.append(int(forward(cfg, w, torch.tensor(seq, dtype=torch.long))[-1].argmax()))
    return seq[len(prompt):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(FIXTURES, 'beam-goldens.json'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    prompts = [torch.randint(0, 256, (n,), generator=g).tolist() for n in (5, 9)]
    goldens = dict(header=dict(script='tools/reference/beam_search.py', reference='PyTorch %s (float32, CPU), HF BeamSearchScorer semantics (transformers 4.40)' % torch.__version__,
                               seed=SEED, layout_version=LAYOUT_VERSION,
                               note='ids are the generated tokens (prompt and finishing EOS excluded); score = sum_logprobs / generated_len ** length_penalty, '
                                    'generated_len counting the EOS that finished a hypothesis'),
                   models={})
    for name, forward, cfg in (('gpt2-tiny-trained', mm.gpt2_forward, mm.GPT2_CONFIG), ('llama-tiny-trained', mm.llama_forward, mm.LLAMA_CONFIG)):
        w = read_safetensors(os.path.join(FIXTURES, name, 'model.safetensors'))
        cases = []
        for prompt in prompts:
            g3 = greedy(forward, cfg, w, prompt, 3)[2]
            for cname, o in CASES:
                eos = [g3] if o['eos'] == 'greedy3' else [cfg['eos_token_id']]
                seqs = beam_search(forward, cfg, w, prompt, o, eos)
                opts = {k: v for k, v in o.items() if k != 'eos'}
                cases.append(dict(name=cname, prompt=prompt, eos=eos, options=opts, sequences=seqs))
                print('%s %s prompt %d: %s' % (name, cname, len(prompt), ' | '.join('%s %.4f%s' % (s['ids'], s['score'], ' eos' if s['eos'] else '') for s in seqs)))
        goldens['models'][name] = cases
    with open(args.out, 'w') as f:
        json.dump(goldens, f, indent=1)


if __name__ == '__main__':
    main()
