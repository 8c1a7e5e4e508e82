// f32 GEMM: C = alpha * A . B + beta * C (+ bias, activation) with B packed into column panels.
// Microkernels live per instruction set in isa/<name>/gemm.cc; this header is the contract.
// Not here: argument checks (ops/matmul.cc, weights/f32.cc) and quantized GEMM.
#pragma once

#include <cstddef>
#include <vector>

#include "dispatch.h"

namespace attnode {

class ThreadPool;

// Most rows any microkernel handles (AVX-512 uses 14).
constexpr size_t kGemmMaxMr = 16;

// What a microkernel does to its tile once the k loop is done:
//   c = alpha * acc + beta * c + bias[j]   (c not read when beta == 0; bias skipped when null)
struct GemmTile {
  float alpha;
  float beta;
  const float* bias;  // (nr) f32 at the tile's first column, or null
};

// One microkernel: a (mr, NR) tile of C from kc steps of packed A and packed B.
//   a: (kc, mr) f32, k-major: a[p * mr + i]   (mr is the kernel's own row count)
//   b: (kc, NR) f32, k-major: b[p * NR + j]   (one panel of packed B)
//   c: (mr, nr) f32 with rows ldc apart; only the first nr <= NR columns are touched.
using GemmMicroKernel = void (*)(size_t kc, const float* a, const float* b, float* c, size_t ldc, size_t nr,
                                 const GemmTile& tile);

struct GemmKernels {
  const char* variant;
  size_t mr;  // rows per full tile
  size_t nr;  // columns per panel of packed B
  // kernels[r] computes r rows (1 <= r <= mr); kernels[0] is unused.
  GemmMicroKernel kernels[kGemmMaxMr + 1];
  // Calibration for benchmarks, in the same instruction set as the kernels:
  // fma_loop runs iters rounds of kGemmCalibrationChains independent vector FMAs on registers
  // only (fma_lanes lanes each; 2 flops per lane); read_sum streams n floats with vector loads.
  // Both return a value only so the work cannot be optimized away.
  float (*fma_loop)(size_t iters);
  size_t fma_lanes;
  float (*read_sum)(const float* p, size_t n);
  // Optional: packs one (kc, nr) panel from B^T rows (cols <= nr rows of kc floats, ldb apart),
  // zero past cols, faster than the generic loop. Null: the driver's generic transpose.
  void (*pack_b_trans)(const float* b, size_t ldb, size_t kc, size_t cols, float* dst);
  // Optional: the same from B (K, N) rows: cols <= nr floats of each of kc rows, ldb apart.
  void (*pack_b)(const float* b, size_t ldb, size_t kc, size_t cols, float* dst);
  // Optional: packs one A micro-panel, rows (<= mr) rows of kc floats lda apart, into (kc, rows)
  // k-major, faster than the generic loop. Null: the driver's generic loop.
  void (*pack_a)(const float* a, size_t lda, size_t rows, size_t kc, float* dst);
};

constexpr size_t kGemmCalibrationChains = 12;

const GemmKernels& gemm_kernels(Isa isa);

extern const GemmKernels kGemmScalar;
#if ATTNODE_X86
extern const GemmKernels kGemmAvx2;
// A function, not a table initialized at load: the compiler copies the table with AVX-512
// stores, which must not run on a CPU without AVX-512 (only gemm_kernels(Isa::avx512) calls it).
const GemmKernels& gemm_kernels_avx512();
#endif
#if ATTNODE_ARM64
extern const GemmKernels kGemmNeon;
#endif

// Packed B: ceil(N / nr) panels, each (K, nr) k-major, columns past N zero. Panel j starts at
// j * K * nr, so any k-range of a panel is contiguous.
size_t gemm_packed_b_floats(size_t k, size_t n, size_t nr);
// Packs B given as (K, N) rows ldb apart (trans = false) or as (N, K) rows ldb apart (trans =
// true, the weight layout) into `out` (gemm_packed_b_floats floats). Parallel on the pool, or
// on the calling thread when pool is null.
void gemm_pack_b(const float* b, size_t ldb, bool trans, size_t k, size_t n, const GemmKernels& kt, float* out,
                 ThreadPool* pool);

enum class GemmActivation { none, gelu_erf, gelu_tanh, silu, relu, tanh };

struct GemmArgs {
  size_t m, n, k;
  const float* a;    // a: (M, K) f32, rows lda apart
  size_t lda;
  const float* bp = nullptr;  // packed B (see gemm_pack_b), or null to pack b on the fly:
  const float* b = nullptr;   // b: (K, N) f32 rows ldb apart, or (N, K) when trans_b
  size_t ldb = 0;
  bool trans_b = false;
  float* c;          // c: (M, N) f32, rows ldc apart
  size_t ldc;
  float alpha = 1.0f;
  float beta = 0.0f;          // 0: C is written without being read
  const float* bias = nullptr;  // (N) f32 added to every row, or null
  GemmActivation act = GemmActivation::none;
};

// Runs the blocked GEMM on the pool, splitting N panels (and M when N is narrow) over threads.
void gemm_f32(const GemmArgs& args, Isa isa, ThreadPool* pool);

}  // namespace attnode
