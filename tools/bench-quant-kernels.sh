#!/bin/sh
# Builds test/native/quant_kernels_bench.cc (decode timing of the quantized GEMMs, no Node) with
# the x86-64 kernel tables and runs it: GB/s from DRAM and from cache against plain reads timed
# in the same process. For profiling (run the binary under valgrind --tool=callgrind or perf stat).
# Usage: tools/bench-quant-kernels.sh [outdir] [isa] [format ...]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
[ $# -gt 0 ] && shift
mkdir -p "$out"
src=$root/native/src
cxx="-std=c++17 -O2 -g -I$src -Wall -Wextra -Wno-unused-parameter"
compile() { c=$1; o=$2; s=$3; shift 3; "$c" $cxx "$@" -c "$s" -o "$o"; }
avx512="-mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mavx512bf16 -mavx2 -mfma -mf16c -Wno-uninitialized -Wno-maybe-uninitialized"
compile g++ "$out/bench.o" "$root/test/native/quant_kernels_bench.cc"
compile g++ "$out/dispatch.o" "$src/cpu/dispatch.cc"
compile g++ "$out/wbuf.o" "$src/weight_buffer.cc"
compile g++ "$out/kquant.o" "$src/cpu/kquant.cc"
compile g++ "$out/quant.o" "$src/cpu/quant.cc"
compile g++ "$out/blockfmt.o" "$src/cpu/block_formats.cc" -ffp-contract=off
compile g++ "$out/scalar.o" "$src/cpu/isa/scalar/quant.cc"
compile g++ "$out/avx2.o" "$src/cpu/isa/avx2/quant.cc" -mavx2 -mfma -mf16c
compile g++ "$out/avxvnni.o" "$src/cpu/isa/avxvnni/quant.cc" -mavx2 -mfma -mf16c -mavxvnni
compile g++ "$out/avx512.o" "$src/cpu/isa/avx512/quant.cc" $avx512
compile g++ "$out/kavx2.o" "$src/cpu/isa/avx2/kquant.cc" -mavx2 -mfma -mf16c
compile g++ "$out/kavx512.o" "$src/cpu/isa/avx512/kquant.cc" $avx512
g++ -o "$out/quant-bench" "$out"/*.o
"$out/quant-bench" "$@"
