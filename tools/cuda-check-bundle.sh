#!/usr/bin/env bash
# Packs what tools/cuda-check.sh needs to run the Node parts on a GPU machine that has no Node.js
# and no network: this machine's `node` binary and node_modules without the packages those parts
# never load (the WebGPU runtime, the Hugging Face tokenizers peer, llama.cpp and onnxruntime peers,
# the plot renderer), each xz-compressed, into cuda-check-bundle/ (git-ignored). Carry that folder
# with the checkout; cuda-check.sh unpacks it when it finds no node of its own. Prints the sizes:
# what travels per call is limited (64 MiB with the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=cuda-check-bundle
mkdir -p "$OUT_DIR"
node_bin="$(command -v node)"
xz -T2 -6 -c "$node_bin" > "$OUT_DIR/node.xz"
tar -cf - --exclude=node_modules/webgpu --exclude=node_modules/tokenizers --exclude='node_modules/@tokenizers' \
  --exclude=node_modules/node-llama-cpp --exclude='node_modules/@node-llama-cpp' --exclude=node_modules/onnxruntime-node \
  --exclude=node_modules/onnxruntime-common --exclude=node_modules/vega --exclude=node_modules/vega-lite \
  --exclude='node_modules/vega-*' --exclude=node_modules/.cache node_modules | xz -T2 -6 > "$OUT_DIR/node_modules.tar.xz"
echo "$(node --version) from $node_bin"
du -b "$OUT_DIR"/* | awk '{ printf "%-40s %6.1f MiB\n", $2, $1 / 1048576 }'
du -cb "$OUT_DIR"/* | tail -1 | awk '{ printf "total %.1f MiB\n", $1 / 1048576 }'
