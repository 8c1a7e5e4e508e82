#!/bin/sh
# Builds test/native/quant_kernels_check.cc and kquant_kernels_check.cc (every quantized-kernel
# table against the scalar one, no Node) and runs them: natively, under qemu-x86_64 without AVX-512, and cross-compiled for
# aarch64 under qemu-aarch64 (NEON dot products, q8_0 and k-quant tables).
# Needs g++ and, for the emulated runs, Debian's qemu-user and g++-aarch64-linux-gnu; a missing
# tool skips its run with a message. .ci/run runs it before the tests (it installs both).
# Usage: tools/check-quant-kernels.sh [outdir]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"
src=$root/native/src
cxx="-std=c++17 -O2 -I$src -Wall -Wextra -Wno-unused-parameter"

# compile CXX OBJ SRC FLAGS...
compile() { c=$1; o=$2; s=$3; shift 3; "$c" $cxx "$@" -c "$s" -o "$o"; }

echo "== x86-64"
compile g++ "$out/check.o" "$root/test/native/quant_kernels_check.cc"
compile g++ "$out/dispatch.o" "$src/cpu/dispatch.cc"
compile g++ "$out/wbuf.o" "$src/weight_buffer.cc"
compile g++ "$out/scalar.o" "$src/cpu/isa/scalar/quant.cc"
compile g++ "$out/avx2.o" "$src/cpu/isa/avx2/quant.cc" -mavx2 -mfma -mf16c
compile g++ "$out/avxvnni.o" "$src/cpu/isa/avxvnni/quant.cc" -mavx2 -mfma -mf16c -mavxvnni
compile g++ "$out/avx512.o" "$src/cpu/isa/avx512/quant.cc" -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni \
  -mavx512bf16 -mavx2 -mfma -mf16c -Wno-uninitialized -Wno-maybe-uninitialized
g++ -static -o "$out/check-x86" "$out"/check.o "$out"/dispatch.o "$out"/wbuf.o "$out"/scalar.o "$out"/avx2.o "$out"/avxvnni.o "$out"/avx512.o
"$out/check-x86"
# No emulator implements AVX-VNNI (QEMU's TCG up to 10.0 does not), so on a CPU with AVX-512 VNNI
# the AVX-VNNI table is built once more with the EVEX form of the same 256-bit vpdpbusd.
if ! "$out/check-x86" | grep -q '^avx_vnni  ok'; then
  echo "== x86-64, AVX-VNNI table with the EVEX vpdpbusd"
  compile g++ "$out/check-evex.o" "$root/test/native/quant_kernels_check.cc" -DATTNODE_AVXVNNI_AS_EVEX
  compile g++ "$out/avxvnni-evex.o" "$src/cpu/isa/avxvnni/quant.cc" -DATTNODE_AVXVNNI_AS_EVEX -mavx2 -mfma -mf16c \
    -mavx512f -mavx512vl -mavx512vnni
  g++ -static -o "$out/check-x86-evex" "$out"/check-evex.o "$out"/dispatch.o "$out"/wbuf.o "$out"/scalar.o "$out"/avx2.o \
    "$out"/avxvnni-evex.o "$out"/avx512.o
  "$out/check-x86-evex"
fi
# The k-quant tables (cpu/kquant.h) against their scalar loops, and those against the reference
# dequantizers (built, as in the addon, without fused multiply-adds).
echo "== x86-64, k-quant kernels"
compile g++ "$out/kcheck.o" "$root/test/native/kquant_kernels_check.cc"
compile g++ "$out/kquant.o" "$src/cpu/kquant.cc"
compile g++ "$out/blockfmt.o" "$src/cpu/block_formats.cc" -ffp-contract=off
compile g++ "$out/kavx2.o" "$src/cpu/isa/avx2/kquant.cc" -mavx2 -mfma -mf16c
compile g++ "$out/kavx512.o" "$src/cpu/isa/avx512/kquant.cc" -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni \
  -mavx2 -mfma -mf16c -Wno-uninitialized -Wno-maybe-uninitialized
g++ -static -o "$out/kcheck-x86" "$out"/kcheck.o "$out"/kquant.o "$out"/blockfmt.o "$out"/dispatch.o "$out"/kavx2.o "$out"/kavx512.o
"$out/kcheck-x86"
if command -v qemu-x86_64 >/dev/null; then
  # AVX2 without AVX-512 (QEMU's TCG has none): the table such CPUs get.
  echo "== x86-64 under qemu-x86_64 -cpu max (no AVX-512)"
  qemu-x86_64 -cpu max "$out/check-x86"
  qemu-x86_64 -cpu max "$out/kcheck-x86"
else
  echo "qemu-x86_64 not found: the run without AVX-512 is skipped"
fi

if command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null; then
  echo "== aarch64 under qemu-aarch64"
  a=aarch64-linux-gnu-g++
  compile $a "$out/a-check.o" "$root/test/native/quant_kernels_check.cc"
  compile $a "$out/a-dispatch.o" "$src/cpu/dispatch.cc"
  compile $a "$out/a-wbuf.o" "$src/weight_buffer.cc"
  compile $a "$out/a-scalar.o" "$src/cpu/isa/scalar/quant.cc"
  compile $a "$out/a-neondot.o" "$src/cpu/isa/neon_dot/quant.cc" -march=armv8.2-a+dotprod
  $a -static -o "$out/check-arm64" "$out"/a-check.o "$out"/a-dispatch.o "$out"/a-wbuf.o "$out"/a-scalar.o "$out"/a-neondot.o
  qemu-aarch64 -cpu max "$out/check-arm64"
  compile $a "$out/a-kcheck.o" "$root/test/native/kquant_kernels_check.cc"
  compile $a "$out/a-kquant.o" "$src/cpu/kquant.cc"
  compile $a "$out/a-blockfmt.o" "$src/cpu/block_formats.cc" -ffp-contract=off
  compile $a "$out/a-kneondot.o" "$src/cpu/isa/neon_dot/kquant.cc" -march=armv8.2-a+dotprod
  $a -static -o "$out/kcheck-arm64" "$out"/a-kcheck.o "$out"/a-kquant.o "$out"/a-blockfmt.o "$out"/a-dispatch.o "$out"/a-kneondot.o
  qemu-aarch64 -cpu max "$out/kcheck-arm64"
else
  echo "aarch64-linux-gnu-g++ or qemu-aarch64 not found: the NEON run is skipped"
fi
