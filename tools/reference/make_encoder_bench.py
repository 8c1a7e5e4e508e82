"""Writes the encoder benchmark's inputs into a directory given on the command line: two BERT-shaped
checkpoints with random weights (Hugging Face layout: config.json + model.safetensors), the same
weights exported to ONNX from a PyTorch module written from HF modeling_bert (padded batches with an
attention mask, as transformers.js feeds them), a WordPiece tokenizer.json and a seeded mix of texts.
Not a test fixture maker and nothing here is committed; bench/suites/encoder.ts runs it:

    /usr/bin/python3 tools/reference/make_encoder_bench.py --out DIR [--models minilm-l6,bert-base]

Layout of DIR: <model>/{config.json, model.safetensors, model.onnx}, tokenizer.json, texts.json.
"""
import argparse
import json
import math
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_encoders import init  # noqa: E402
from make_models import write_safetensors  # noqa: E402

LAYOUT_VERSION = 1
SEED = 2417
TEXTS = 32
MIN_TOKENS, MAX_TOKENS = 16, 128  # per text, [CLS] and [SEP] included
VOCAB = 30522
OPSET = 14

BASE = dict(model_type='bert', architectures=['BertModel'], vocab_size=VOCAB, hidden_act='gelu', hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2, initializer_range=0.02,
            layer_norm_eps=1e-12, pad_token_id=0, position_embedding_type='absolute', use_cache=True, classifier_dropout=None)
# The shapes: all-MiniLM-L6-v2 and bert-base-uncased.
MODELS = {
    'minilm-l6': dict(BASE, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536),
    'bert-base': dict(BASE, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


class PaddedBert(torch.nn.Module):
    """BertModel's eval forward over a padded batch, from modeling_bert: embeddings (word + token type
    + absolute position) and LayerNorm; per layer BertSelfAttention (scores + (1 - mask) * min, softmax),
    BertSelfOutput, BertIntermediate (erf GELU), BertOutput; BertPooler on the first token."""

    def __init__(self, cfg, w):
        super().__init__()
        self.cfg = cfg
        for k, v in w.items():
            self.register_buffer(k.replace('.', '__'), v.clone())

    def p(self, name):
        return getattr(self, name.replace('.', '__'))

    def lin(self, x, name):
        return torch.nn.functional.linear(x, self.p(name + '.weight'), self.p(name + '.bias'))

    def ln(self, x, name):
        return torch.nn.functional.layer_norm(x, (self.cfg['hidden_size'],), self.p(name + '.weight'), self.p(name + '.bias'), self.cfg['layer_norm_eps'])

    def forward(self, input_ids, attention_mask, token_type_ids):
        B, T = input_ids.shape
        H, nh = self.cfg['hidden_size'], self.cfg['num_attention_heads']
        d = H // nh
        pos = torch.arange(T, dtype=torch.long).unsqueeze(0)
        x = self.p('embeddings.word_embeddings.weight')[input_ids] + self.p('embeddings.token_type_embeddings.weight')[token_type_ids]
        x = self.ln(x + self.p('embeddings.position_embeddings.weight')[pos], 'embeddings.LayerNorm')
        # get_extended_attention_mask: (B, 1, 1, T), 0 where attended, the dtype's min where padded.
        ext = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        heads = lambda t: t.view(B, T, nh, d).permute(0, 2, 1, 3)  # noqa: E731 (B, nh, T, d)
        for i in range(self.cfg['num_hidden_layers']):
            p = f'encoder.layer.{i}.'
            q, k, v = (heads(self.lin(x, p + f'attention.self.{n}')) for n in ('query', 'key', 'value'))
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + ext
            a = torch.matmul(torch.softmax(s, dim=-1), v).permute(0, 2, 1, 3).reshape(B, T, H)
            x = self.ln(self.lin(a, p + 'attention.output.dense') + x, p + 'attention.output.LayerNorm')
            h = self.lin(x, p + 'intermediate.dense')
            h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
            x = self.ln(self.lin(h, p + 'output.dense') + x, p + 'output.LayerNorm')
        pooled = torch.tanh(self.lin(x[:, 0], 'pooler.dense'))
        return x, pooled


def vocabulary(rng):
    """bert-base-uncased's layout of special ids ([PAD] 0, [unusedN], [UNK] 100, [CLS] 101, [SEP] 102,
    [MASK] 103), then characters, '##' syllables and made-up words of 2 and 3 syllables to 30522."""
    cons, vows = 'bdfghjklmnprstvwz', 'aeiou'
    syl = [c + v for c in cons for v in vows]
    chars = list('abcdefghijklmnopqrstuvwxyz0123456789.,!?;:\'-')
    toks = ['[PAD]'] + [f'[unused{i}]' for i in range(99)] + ['[UNK]', '[CLS]', '[SEP]', '[MASK]']
    toks += chars + ['##' + c for c in chars if c.isalnum()] + ['##' + s for s in syl]
    two = [a + b for a in syl for b in syl]
    three = [a + b + c for a in syl for b in syl for c in syl]
    rng.shuffle(two)
    rng.shuffle(three)
    # Half the two-syllable words stay out of the vocabulary.
    words = two[: len(two) // 2] + three[: VOCAB - len(toks) - len(two) // 2]
    toks += words
    assert len(toks) == VOCAB, len(toks)
    return toks, words, syl


def texts(rng, toks, words, syl):
    """TEXTS texts of a seeded mix of lengths in [MIN_TOKENS, MAX_TOKENS], and the ids a BERT
    tokenizer gives each (by construction: whole words, punctuation, and a word + a syllable, which
    greedy longest-match splits into the word and '##syllable': no proper prefix longer than the
    word is in the vocabulary, since every vocabulary word ends in a vowel)."""
    ids = {t: i for i, t in enumerate(toks)}
    out = []
    for _ in range(TEXTS):
        n = rng.randint(MIN_TOKENS, MAX_TOKENS) - 2
        parts, want = [], []
        while len(want) < n:
            r = rng.random()
            if r < 0.12 and n - len(want) >= 2:
                stem, tail = rng.choice(words), rng.choice(syl)
                if stem + tail in ids:
                    continue
                parts.append(' ' + stem + tail)
                want += [ids[stem], ids['##' + tail]]
            elif r < 0.2 and parts:
                p = rng.choice('.,!?;:')
                parts.append(p)
                want.append(ids[p])
            else:
                w = rng.choice(words)
                parts.append(' ' + w)
                want.append(ids[w])
        text = ''.join(parts).strip()
        text = text[0].upper() + text[1:]
        out.append(dict(text=text, ids=[ids['[CLS]']] + want + [ids['[SEP]']]))
    return out


def tokenizer_json(toks):
    added = [dict(id=i, content=t, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
             for i, t in enumerate(toks) if t in ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]')]
    return {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': added,
        'normalizer': {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True, 'strip_accents': None, 'lowercase': True},
        'pre_tokenizer': {'type': 'BertPreTokenizer'},
        'post_processor': {'type': 'BertProcessing', 'sep': ['[SEP]', 102], 'cls': ['[CLS]', 101]},
        'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
        'model': {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##', 'max_input_chars_per_word': 100,
                  'vocab': {t: i for i, t in enumerate(toks)}},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--models', default=','.join(MODELS))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(SEED)
    toks, words, syl = vocabulary(rng)
    json.dump(tokenizer_json(toks), open(os.path.join(args.out, 'tokenizer.json'), 'w'))
    header = dict(script='tools/reference/make_encoder_bench.py', seed=SEED, layout_version=LAYOUT_VERSION,
                  note='ids: what a BERT WordPiece tokenizer gives each text, [CLS] and [SEP] included')
    json.dump(dict(header=header, texts=texts(rng, toks, words, syl)), open(os.path.join(args.out, 'texts.json'), 'w'))
    torch.manual_seed(SEED)
    for k, name in enumerate(args.models.split(',')):
        if name not in MODELS:
            raise SystemExit(f"--models: unknown model '{name}'; known: {', '.join(MODELS)}")
        cfg = MODELS[name]
        g = torch.Generator().manual_seed(SEED + k)
        w = init(cfg, 'BertModel', g, std=cfg['initializer_range'])
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
        write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
        m = PaddedBert(cfg, w).eval()
        ids = torch.tensor([[101, 2000, 3000, 102], [101, 2500, 102, 0]])
        mask = (ids != 0).to(torch.long)
        with torch.no_grad():
            torch.onnx.export(m, (ids, mask, torch.zeros_like(ids)), os.path.join(d, 'model.onnx'), opset_version=OPSET,
                              input_names=['input_ids', 'attention_mask', 'token_type_ids'], output_names=['last_hidden_state', 'pooler_output'],
                              dynamic_axes={'input_ids': {0: 'batch', 1: 'sequence'}, 'attention_mask': {0: 'batch', 1: 'sequence'},
                                            'token_type_ids': {0: 'batch', 1: 'sequence'}, 'last_hidden_state': {0: 'batch', 1: 'sequence'},
                                            'pooler_output': {0: 'batch'}})
        print(f'{name}: {sum(t.numel() for t in w.values())} parameters -> {d}')


if __name__ == '__main__':
    main()
