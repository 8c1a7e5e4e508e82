#!/usr/bin/env bash
# The device check of the CUDA code, for a machine with an NVIDIA GPU, CUDA (nvcc) and CMake,
# with or without Node.js, no network: builds native/test (the kernels and their tests, no addon),
# runs the C++ kernel tests against the scalar CPU reference, then a short benchmark (GEMM TFLOP/s
# against the bf16 tensor-core peak on 4096 squares, GEMV GB/s against DRAM bandwidth, decode of a
# GPT-2 124M-shaped model composed from the kernels). Where Node and node_modules are present (a
# copied checkout; CUDA_CHECK_NODE may name a directory holding a `node` binary), it also builds the
# addon with CUDA and runs the cuda vitest cases (model parity against the native backend) and the
# end-to-end decode benchmark through loadModel(path, { backend: 'cuda' }) in f16 and q8_0.
# Everything runs within 8 minutes (each step gets what is left of that budget). Results go to
# stdout and, when $OUT is set, to files under it. Exit status: 0 when every step that ran passed.
#   tools/cuda-check.sh            architectures from nvidia-smi (else 80;90)
#   ATTNODE_CUDA_ARCHS=90 tools/cuda-check.sh
#   CUDA_CHECK_NODE=/path/to/node-dir tools/cuda-check.sh
#   (or carry cuda-check-bundle/ made by tools/cuda-check-bundle.sh: node and node_modules, compressed)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-}"
if [ -n "$OUT" ]; then mkdir -p "$OUT"; fi
log() { echo "== $*"; }
BUDGET_S="${CUDA_CHECK_BUDGET_S:-480}"
START_S=$(date +%s)
# Seconds a step may take: its own cap, or what is left of the budget (at least 10).
left() { local cap=$1 rest=$(( BUDGET_S - ($(date +%s) - START_S) )); [ "$rest" -lt 10 ] && rest=10; [ "$cap" -lt "$rest" ] && echo "$cap" || echo "$rest"; }

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
command -v nvcc >/dev/null 2>&1 || { echo "cuda-check: nvcc not found (install CUDA or put it on PATH)"; exit 1; }
command -v cmake >/dev/null 2>&1 || { echo "cuda-check: cmake not found"; exit 1; }

if [ -z "${ATTNODE_CUDA_ARCHS:-}" ] && command -v nvidia-smi >/dev/null 2>&1; then
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
  if [[ "$cap" =~ ^[0-9]+$ ]]; then export ATTNODE_CUDA_ARCHS="$cap"; fi
fi
export ATTNODE_CUDA_ARCHS="${ATTNODE_CUDA_ARCHS:-80;90}"

log "machine"
nvidia-smi --query-gpu=name,compute_cap,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv 2>&1 | head -3
nvcc --version | tail -2
cmake --version | head -1

BUILD="${CUDA_CHECK_BUILD:-build-cuda-check}"
JOBS="$(nproc 2>/dev/null || echo 4)"
log "build (sm ${ATTNODE_CUDA_ARCHS}, ${JOBS} jobs) into ${BUILD}"
start=$(date +%s)
if ! cmake -S native/test -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DATTNODE_CUDA_ARCHS="${ATTNODE_CUDA_ARCHS}" >"$BUILD.configure.log" 2>&1; then
  cat "$BUILD.configure.log"; [ -n "$OUT" ] && cp "$BUILD.configure.log" "$OUT/"; echo "cuda-check: configure FAILED"; exit 1
fi
if ! cmake --build "$BUILD" -j "$JOBS" >"$BUILD.build.log" 2>&1; then
  tail -60 "$BUILD.build.log"; [ -n "$OUT" ] && cp "$BUILD.build.log" "$OUT/"; echo "cuda-check: build FAILED"; exit 1
fi
echo "built in $(( $(date +%s) - start )) s"

status=0
log "kernel tests (native/test/cuda_kernels_test.cc)"
timeout "$(left 150)" "$BUILD/cuda-tests/cuda_kernels_test" --require-device 2>&1 | tee ${OUT:+"$OUT/cuda-kernels-test.txt"}
test_rc=${PIPESTATUS[0]}
[ "$test_rc" = 0 ] || status=1

log "benchmark (native/test/cuda_bench.cc)"
timeout "$(left 120)" "$BUILD/cuda-tests/cuda_bench" ${OUT:+--json "$OUT/cuda-bench.json"} 2>&1 | tee ${OUT:+"$OUT/cuda-bench.txt"}
bench_rc=${PIPESTATUS[0]}
[ "$bench_rc" = 0 ] || status=1

if [ -n "${CUDA_CHECK_NODE:-}" ]; then export PATH="$CUDA_CHECK_NODE:$PATH"; fi
# A bundle from tools/cuda-check-bundle.sh (this checkout's node and node_modules, compressed).
if ! command -v node >/dev/null 2>&1 && [ -f cuda-check-bundle/node.xz ]; then
  mkdir -p cuda-check-bundle/bin
  xz -dc cuda-check-bundle/node.xz > cuda-check-bundle/bin/node && chmod +x cuda-check-bundle/bin/node
  export PATH="$PWD/cuda-check-bundle/bin:$PATH"
fi
if [ ! -d node_modules ] && [ -f cuda-check-bundle/node_modules.tar.xz ]; then
  log "unpacking node_modules from cuda-check-bundle"
  xz -dc cuda-check-bundle/node_modules.tar.xz | tar -xf -
fi
node_rc=3
e2e_rc=3
if command -v node >/dev/null 2>&1 && [ -d node_modules ]; then
  log "node $(node --version): addon with CUDA (sm ${ATTNODE_CUDA_ARCHS})"
  if ATTNODE_CUDA=ON timeout "$(left 200)" npx cmake-js compile --out build >build-addon.log 2>&1; then
    log "node tests (test/cuda.test.ts, test/backends.test.ts, test/cuda-models.test.ts)"
    timeout "$(left 180)" npx vitest run test/cuda.test.ts test/backends.test.ts test/cuda-models.test.ts 2>&1 | tee ${OUT:+"$OUT/node-tests.txt"}
    node_rc=${PIPESTATUS[0]}
    [ "$node_rc" = 0 ] || status=1
    log "end-to-end decode (bench/cuda-decode.bench.ts)"
    timeout "$(left 150)" npx tsx bench/cuda-decode.bench.ts ${OUT:+--out "$OUT"} 2>&1 | tee ${OUT:+"$OUT/cuda-decode.txt"}
    e2e_rc=${PIPESTATUS[0]}
    [ "$e2e_rc" = 0 ] || status=1
  else
    tail -40 build-addon.log; [ -n "$OUT" ] && cp build-addon.log "$OUT/"; echo "cuda-check: addon build FAILED"; node_rc=1; status=1
  fi
else
  log "node tests and end-to-end decode: skipped (no node or no node_modules on this machine)"
fi

log "summary"
verdict() { case "$1" in 0) echo "$2" ;; 2) echo "NOT RUN (no CUDA device)" ;; 3) echo "NOT RUN (no Node.js and node_modules here)" ;; 124) echo "FAILED (timed out)" ;; *) echo "FAILED (exit $1)" ;; esac; }
echo "kernel tests: $(verdict "$test_rc" PASSED)"
echo "benchmark:    $(verdict "$bench_rc" "checked and timed")"
echo "node tests:   $(verdict "$node_rc" PASSED)"
echo "e2e decode:   $(verdict "$e2e_rc" "checked and timed")"
echo "total:        $(( $(date +%s) - START_S )) s of a ${BUDGET_S} s budget"
exit $status
