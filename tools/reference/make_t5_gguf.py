"""Writes two tiny random T5 checkpoints shaped for llama.cpp's 't5' GGUF, and their PyTorch goldens.
llama.cpp (v0.4.0) computes position buckets with a maximum distance of 128 whatever the config
says, and cannot load a decoder with more blocks than the encoder, so these use 128 and more
encoder than decoder blocks (the checkpoints of make_seq2seq.py have 20 and 2 + 3):
  t5-gguf-tiny: gated-GELU, untied lm_head, 3 + 2 blocks;  t5-gguf-tied: ReLU, tied head, 2 + 2 blocks.
Each directory also holds the sentencepiece model of its tokenizer (spiece.model). The forward pass
and weights are make_seq2seq.py's (HF modeling_t5 semantics). Goldens: encoder outputs,
teacher-forced decoder logits, greedy ids, and sentencepiece's ids of the tokenizer corpus.

    python3 tools/reference/make_t5_gguf.py [--out test/fixtures/models]
    python3 tools/reference/make_t5_gguf.py --k256 DIR   (the wider checkpoints of the k-quant files: DIR/gated, DIR/relu)
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import beam_search as bs  # noqa: E402
import make_seq2seq as s2s  # noqa: E402

LAYOUT_VERSION = 1
SEED = 7331
GREEDY_TOKENS = 12
BASE = dict(s2s.BASE, relative_attention_max_distance=128)
MODELS = [
    ('t5-gguf-tiny', dict(BASE, model_type='t5', architectures=['T5ForConditionalGeneration'], num_layers=3, num_decoder_layers=2, d_ff=48,
                          feed_forward_proj='gated-gelu', tie_word_embeddings=False)),
    ('t5-gguf-tied', dict(BASE, model_type='t5', architectures=['T5ForConditionalGeneration'], num_layers=2, num_decoder_layers=2, d_ff=64,
                          feed_forward_proj='relu', tie_word_embeddings=True)),
]


# Rows of 256 values everywhere (d_model, d_ff, heads * d_kv), so that every k-quant block fits:
# the source of the llama.cpp-quantized t5-k256 files (tools/llamacpp/make-t5-goldens.mjs --k256).
K256 = dict(BASE, model_type='t5', architectures=['T5ForConditionalGeneration'], d_model=256, d_kv=64, num_heads=4, d_ff=256,
            num_layers=2, num_decoder_layers=1, relative_attention_num_buckets=32, feed_forward_proj='gated-gelu', tie_word_embeddings=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(s2s.ROOT, 'test', 'fixtures', 'models'))
    ap.add_argument('--k256', help='write only the t5-k256 checkpoint (not committed; its GGUF files are) into this directory')
    args = ap.parse_args()
    if args.k256:
        # Two variants: gated-GELU (DIR/gated) and ReLU (DIR/relu), whose FFN llama.cpp runs without its gelu table.
        torch.set_num_threads(1)
        g = torch.Generator().manual_seed(SEED + 256)
        tok, _ = s2s.t5_tokenizer(320)
        for variant, ffn in (('gated', 'gated-gelu'), ('relu', 'relu')):
            cfg = dict(K256, vocab_size=320, feed_forward_proj=ffn)
            s2s.write_checkpoint(os.path.join(args.k256, variant), cfg, s2s.init(cfg, g), tok, False)
        return
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    vocab = 320
    tok, sp = s2s.t5_tokenizer(vocab)
    goldens = dict(header=dict(script='tools/reference/make_t5_gguf.py',
                               reference='PyTorch %s (float32, CPU), forward of tools/reference/make_seq2seq.py (HF modeling_t5 semantics); '
                                         'ids: sentencepiece %s (encode, then </s>)' % (torch.__version__, __import__('sentencepiece').__version__),
                               seed=SEED, layout_version=LAYOUT_VERSION,
                               note='encoder: (T, C) row-major; logits: (n, V) teacher-forced over decoderIds (start token first); '
                                    'greedy ids exclude the start token'),
                   tokenizer=[dict(name=n, text=t, ids=sp.encode(t) + [1]) for n, t in s2s.make_spm.corpus_texts()], models={})
    inputs = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in (7, 23)]
    for name, base in MODELS:
        cfg = dict(base, vocab_size=vocab)
        w = s2s.init(cfg, g)
        d = os.path.join(args.out, name)
        s2s.write_checkpoint(d, cfg, w, tok, False)
        with open(os.path.join(d, 'spiece.model'), 'wb') as f:
            f.write(sp.serialized_model_proto())
        cases = []
        start = cfg['decoder_start_token_id']
        with torch.no_grad():
            for ids in inputs:
                enc = s2s.encode(cfg, w, torch.tensor(ids))
                dec_ids = [start] + torch.randint(3, vocab, (s2s.DECODER_STEPS - 1,), generator=g).tolist()
                logits = s2s.decode(cfg, w, enc, torch.tensor(dec_ids))
                greedy = bs.greedy(lambda _c, _w, seq, enc=enc: s2s.decode(cfg, w, enc, seq), cfg, w, [start], GREEDY_TOKENS)
                cases.append(dict(input=ids, encoder=enc.reshape(-1).tolist(), decoderIds=dec_ids, logits=logits.reshape(-1).tolist(), greedy=greedy))
        print(name, [c['greedy'] for c in cases])
        goldens['models'][name] = cases
    with open(os.path.join(args.out, 't5-gguf-goldens.json'), 'w') as f:
        json.dump(goldens, f)


if __name__ == '__main__':
    main()
