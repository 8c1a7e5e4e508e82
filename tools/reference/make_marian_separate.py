"""Writes a tiny random Marian checkpoint with separate source and target vocabularies, in the Hugging
Face layout (config.json with share_encoder_decoder_embeddings false and decoder_vocab_size;
model.safetensors with model.encoder.embed_tokens and model.decoder.embed_tokens, the head tied to the
decoder's table and so not saved; source.spm, target.spm, vocab.json, target_vocab.json,
tokenizer_config.json with separate_vocabs), and its goldens in make_bart_marian.py's layout: encoder
outputs, teacher-forced decoder logits, greedy and beam outputs with scores, the source ids as HF's
MarianTokenizer gives them (source.spm pieces through vocab.json) and decoded text of target ids
(target_vocab.json, then target.spm).

The forward pass is make_bart_marian.py's (written from HF modeling_marian.py) with MarianModel's
separate tables: the encoder embeds through model.encoder.embed_tokens (vocab_size rows), the decoder
through model.decoder.embed_tokens (decoder_vocab_size rows), which MarianMTModel.tie_weights also
makes lm_head; final_logits_bias has decoder_vocab_size entries. Run with Debian's python3-torch and
python3-sentencepiece:

    python3 tools/reference/make_marian_separate.py [--out test/fixtures/models]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import beam_search as bs  # noqa: E402
import make_bart_marian as mbm  # noqa: E402
from make_models import write_safetensors  # noqa: E402

LAYOUT_VERSION = 1
SEED = 7171
NAME = 'marian-sep-tiny'


def separate_vocabs(src, tgt):
    """vocab.json and target_vocab.json as the opus-mt conversion writes separate vocabularies:
    </s> 0, <unk> 1, the model's own pieces, <pad> appended last."""
    out = []
    for sp in (src, tgt):
        v = {'</s>': 0, '<unk>': 1}
        for i in range(sp.get_piece_size()):
            if sp.is_control(i) or sp.is_unknown(i):
                continue
            v.setdefault(sp.id_to_piece(i), len(v))
        out.append(v)
    out[0]['>>fr<<'] = len(out[0])
    for v in out:
        v['<pad>'] = len(v)
    return out


def init(cfg, g):
    """make_bart_marian.init's weights, with the shared table replaced by one table per stack."""
    C, V, Vd = cfg['d_model'], cfg['vocab_size'], cfg['decoder_vocab_size']
    w = mbm.init(dict(cfg, vocab_size=V), g, 'marian')
    del w['model.shared.weight']
    w['model.encoder.embed_tokens.weight'] = torch.randn(V, C, generator=g)
    w['model.decoder.embed_tokens.weight'] = torch.randn(Vd, C, generator=g)
    w['final_logits_bias'] = torch.randn(1, Vd, generator=g) * 0.5
    return w


def sides(w):
    """The weights as make_bart_marian's forward reads them: its 'model.shared.weight' is the encoder's
    table in encode() and the decoder's (embedding and tied head) in decode()."""
    enc = dict(w, **{'model.shared.weight': w['model.encoder.embed_tokens.weight']})
    dec = dict(w, **{'model.shared.weight': w['model.decoder.embed_tokens.weight']})
    return enc, dec


def goldens_for(cfg, w, inputs, g):
    """make_bart_marian.goldens_for with the decoder's vocabulary for the teacher-forced ids."""
    enc_w, dec_w = sides(w)
    start = cfg['decoder_start_token_id']
    Vd = cfg['decoder_vocab_size']
    out = []
    with torch.no_grad():
        for ids in inputs:
            enc = mbm.encode(cfg, enc_w, 'marian', torch.tensor(ids))
            dec_ids = [start] + torch.randint(2, Vd - 1, (mbm.DECODER_STEPS - 1,), generator=g).tolist()
            logits = mbm.decode(cfg, dec_w, 'marian', enc, torch.tensor(dec_ids))
            fwd = lambda _c, _w, seq, enc=enc: mbm.decode(cfg, dec_w, 'marian', enc, seq)
            gr = mbm.greedy(cfg, dec_w, 'marian', enc, mbm.GREEDY_TOKENS)
            free = bs.greedy(fwd, cfg, dec_w, [start], 3)
            beams = []
            for name, o in mbm.CASES:
                eos = [free[2]] if o['eos'] == 'greedy3' else [cfg['eos_token_id']]
                seqs = bs.beam_search(fwd, cfg, dec_w, [start], o, eos, mbm.forced(cfg, o['max_new_tokens']))
                beams.append(dict(name=name, eos=eos, options={k: v for k, v in o.items() if k != 'eos'}, sequences=seqs))
                print('  %s: %s' % (name, ' | '.join('%s %.4f%s' % (s['ids'], s['score'], ' eos' if s['eos'] else '') for s in seqs)))
            out.append(dict(input=ids, encoder=enc.reshape(-1).tolist(), decoderIds=dec_ids, logits=logits.reshape(-1).tolist(),
                            greedy=gr, beams=beams))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(mbm.ROOT, 'test', 'fixtures', 'models'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    work = tempfile.mkdtemp(prefix='marian-sep-')
    import sentencepiece as spm_mod

    paths, src, tgt, _shared = mbm.marian_tokenizer(work)
    svocab, tvocab = separate_vocabs(src, tgt)
    cfg = dict(mbm.MARIAN, vocab_size=len(svocab), decoder_vocab_size=len(tvocab), share_encoder_decoder_embeddings=False,
               tie_word_embeddings=True, pad_token_id=tvocab['<pad>'], decoder_start_token_id=tvocab['<pad>'])
    texts = ['Hello world, this is a test.', 'The quick brown fox -- jumps over 3 lazy dogs!', '  spaces   and\ttabs  ',
             '>>fr<< Translate this sentence.', 'unknown ༀ symbols </s> inside', '', 'Ça coûte 5 € à Zürich.']
    goldens = dict(header=dict(script='tools/reference/make_marian_separate.py',
                               reference='PyTorch %s (float32, CPU), forward of tools/reference/make_bart_marian.py (HF modeling_marian semantics) '
                                         'with separate encoder and decoder tables; beams: tools/reference/beam_search.py; ids: sentencepiece %s '
                                         'with MarianTokenizer separate_vocabs semantics' % (torch.__version__, spm_mod.__version__),
                               seed=SEED, layout_version=LAYOUT_VERSION,
                               note='as bart-marian-goldens.json; encoder ids are vocab.json ids (vocab_size), decoder ids target_vocab.json '
                                    'ids (decoder_vocab_size); marianDecode ids are target ids'),
                   marianTokenizer=[dict(text=t, ids=mbm.marian_encode(src, svocab, t)) for t in texts],
                   marianDecode=[], models={})
    dg = torch.Generator().manual_seed(SEED + 1)
    for _ in range(6):
        ids = torch.randint(0, len(tvocab), (12,), generator=dg).tolist()
        goldens['marianDecode'].append(dict(ids=ids, text=mbm.marian_decode(tgt, tvocab, ids, False), skipSpecial=mbm.marian_decode(tgt, tvocab, ids, True)))
    # Target text through target.spm and target_vocab.json decodes back (the round trip a translation's output takes).
    for t in texts[:3]:
        ids = [tvocab.get(p, tvocab['<unk>']) for p in tgt.encode(t, out_type=str)] + [tvocab['</s>']]
        goldens['marianDecode'].append(dict(ids=ids, text=mbm.marian_decode(tgt, tvocab, ids, False), skipSpecial=mbm.marian_decode(tgt, tvocab, ids, True)))

    d = os.path.join(args.out, NAME)
    os.makedirs(d, exist_ok=True)
    w = init(cfg, g)
    mbm.write_json(os.path.join(d, 'config.json'), cfg)
    mbm.write_json(os.path.join(d, 'generation_config.json'), mbm.generation_config(cfg))
    # Tied: lm_head.weight is the decoder's table, which save_pretrained does not write twice.
    write_safetensors(os.path.join(d, 'model.safetensors'), w, {'format': 'pt'})
    shutil.copy(paths['source'], os.path.join(d, 'source.spm'))
    shutil.copy(paths['target'], os.path.join(d, 'target.spm'))
    mbm.write_json(os.path.join(d, 'vocab.json'), svocab)
    mbm.write_json(os.path.join(d, 'target_vocab.json'), tvocab)
    mbm.write_json(os.path.join(d, 'tokenizer_config.json'), dict(source_lang='en', target_lang='fr', separate_vocabs=True, model_max_length=512,
                                                               eos_token='</s>', unk_token='<unk>', pad_token='<pad>', tokenizer_class='MarianTokenizer'))
    inputs = [mbm.marian_encode(src, svocab, texts[0]), torch.randint(2, len(svocab) - 1, (19,), generator=g).tolist()]
    print(NAME, 'vocab', len(svocab), 'decoder vocab', len(tvocab))
    goldens['models'][NAME] = goldens_for(cfg, w, inputs, g)
    with open(os.path.join(args.out, 'marian-sep-goldens.json'), 'w') as f:
        json.dump(goldens, f)


if __name__ == '__main__':
    main()
