// Shared pieces of the quantized and half-precision weight formats: the threaded walk over
// output features with the bias + activation epilogue, and on-the-fly activation quantization.
// Not a format itself: f16.cc, bf16.cc, q8_0.cc and i8.cc each register one.
#pragma once

#include <algorithm>
#include <vector>

#include "../cpu/quant.h"
#include "../cpu/quant_pack.h"
#include "../cpu/quant_format.h"
#include "../weights.h"

namespace attnode {

// Splits out (M, N) over the pool: output features in units of `cols` (the kernel's panel
// width), and rows too when there are fewer than two units of features per thread (in blocks of
// kRowBlock, a multiple of every kernel's row tile). Calls of fewer than `min_split` multiply-adds
// (M * N * K) stay on the calling thread: waking the pool costs microseconds, far more when the
// cores are oversubscribed. kernel(i0, i1, n0, n1) fills out[i0:i1, n0:n1]; then the same thread
// adds bias and applies the activation to what it just wrote, while it is in cache.
//   out: (M, ldo) f32, bias: (N) f32 or null
constexpr size_t kRowBlock = 48;
// int8 kernels do a multiply-add in about a quarter of the time of f32 ones, but a decode step
// streams its weights once, so the split pays off sooner than the f32 GEMM's rule (gemm.cc)
// suggests: a 768 x 768 q8_0 step (5.9e5 multiply-adds) takes 10.5 us on one thread and 8.1 on
// two with the weights in cache, 27.5 and 22.2 us from DRAM (bench/quant.bench.ts).
constexpr double kMinSplitInt8 = 3e5;
constexpr double kMinSplitHalf = 5e5;

template <class Kernel>
void linear_over_n(size_t m, size_t n, size_t k, size_t cols, double min_split, float* out, size_t ldo, const float* bias,
                   Activation act, const OpEnv& env, const Kernel& kernel) {
  const size_t units = (n + cols - 1) / cols;
  const bool alone = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < min_split;
  const size_t threads = alone ? 1 : static_cast<size_t>(env.pool->size());
  const size_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
  const size_t row_parts = units >= 2 * threads || row_blocks < 2 ? 1 : std::min(row_blocks, (2 * threads + units - 1) / units);
  const size_t rows = (row_blocks + row_parts - 1) / row_parts * kRowBlock;
  const auto run = [&](size_t i0, size_t i1, size_t n0, size_t n1) {
    kernel(i0, i1, n0, n1);
    for (size_t i = i0; i < i1; ++i) {
      float* row = out + i * ldo;
      if (bias)
        for (size_t j = n0; j < n1; ++j) row[j] += bias[j];
      apply_activation(row + n0, n1 - n0, act, env.isa);
    }
  };
  if (threads == 1) {
    run(0, m, 0, n);
    return;
  }
  if (row_parts == 1) {
    env.pool->parallel_for(units, 1, [&](size_t s, size_t e) { run(0, m, s * cols, std::min(n, e * cols)); });
    return;
  }
  env.pool->parallel_for(units * row_parts, 1, [&](size_t s, size_t e) {
    for (size_t t = s; t < e; ++t) {
      const size_t i0 = t / units * rows, u = t % units;
      if (i0 < m) run(i0, std::min(m, i0 + rows), u * cols, std::min(n, (u + 1) * cols));
    }
  });
}

// Per-thread scratch for quantized activations, reused across calls so decoding allocates once.
struct ActivationScratch {
  std::vector<int8_t> q;
  std::vector<float> scales;
  std::vector<int32_t> sums;
};

// Quantizes x (M, K) in groups of `group` (a divisor of K, or 0 for K == 0) into thread-local
// scratch, rows split over the pool.   x: (M, K) f32 rows ldx apart
inline QuantizedRows quantize_rows(const float* x, size_t m, size_t ldx, size_t k, size_t group, const OpEnv& env) {
  thread_local ActivationScratch scratch;
  const size_t groups = group ? k / group : 0;
  const size_t ldq = round_up(k, kPanelChunkBytes);
  // Zeros past K in every row: kernels read whole 64-byte chunks.
  scratch.q.assign(m * ldq, 0);
  scratch.scales.assign(m * std::max<size_t>(groups, 1), 0.0f);
  scratch.sums.assign(m * std::max<size_t>(groups, 1), 0);
  int8_t* q = scratch.q.data();
  float* sc = scratch.scales.data();
  int32_t* su = scratch.sums.data();
  const auto quantize_row = quant_kernels(env.isa).quantize_row;
  if (groups > 0)
    env.pool->parallel_for(m, std::max<size_t>(1, 16384 / std::max<size_t>(k, 1)), [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) quantize_row(x + i * ldx, k, group, q + i * ldq, sc + i * groups, su + i * groups);
    });
  return QuantizedRows{q, sc, su, m, k, ldq, group};
}

// Rows [i0, i1) of quantized activations.
inline QuantizedRows row_range(const QuantizedRows& x, size_t i0, size_t i1) {
  const size_t groups = x.group ? x.k / x.group : 0;
  return QuantizedRows{x.q + i0 * x.ldq, x.scales + i0 * std::max<size_t>(groups, 1), x.sums + i0 * std::max<size_t>(groups, 1),
                       i1 - i0, x.k, x.ldq, x.group};
}

}  // namespace attnode
