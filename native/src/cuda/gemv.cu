// GEMV for few activation rows (decode), the `linear` contract of kernels.h: one warp per output
// column streams that weight row once with 16-byte loads and dots it with up to kGemvMaxRows
// activation rows (f32, read through the cache: every warp of the grid reads the same rows).
// Memory-bound: the figure of merit is weight bytes per second against DRAM bandwidth.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda_check.h"
#include "device_util.cuh"
#include "runtime.h"

namespace attnode::cuda {
namespace {

constexpr unsigned kWarps = 8;  // columns per block

// kVec: K % 8 == 0 and a, w 16-byte aligned, so a lane takes 8 weights (one uint4) at a time.
template <class W, bool kVec>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(const float* __restrict__ a, const W* __restrict__ w,
                                                           const float* __restrict__ bias, float* __restrict__ c,
                                                           int m, size_t n, size_t k) {
  const int lane = threadIdx.x & 31;
  const size_t j = static_cast<size_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (j >= n) return;
  const W* wr = w + j * k;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r) acc[r] = 0.0f;
  if constexpr (kVec) {
    constexpr int kPer = 16 / sizeof(W);  // weights per 16-byte load: 8 halves or 4 floats
    constexpr int kStep = 32 * 8;         // weights a warp covers per iteration (two loads for f32)
    // Unrolled so that each lane has several loads in flight: one at a time cannot cover DRAM latency.
#pragma unroll 4
    for (size_t p0 = static_cast<size_t>(lane) * 8; p0 < k; p0 += kStep) {
      float wv[8];
      if constexpr (sizeof(W) == 2) {
        const uint4 raw = __ldcs(reinterpret_cast<const uint4*>(wr + p0));  // streamed once: evict first
        const uint16_t* h = reinterpret_cast<const uint16_t*>(&raw);
#pragma unroll
        for (int e = 0; e < 8; ++e) wv[e] = load_half<W::kBf16>(h[e]);
      } else {
#pragma unroll
        for (int q = 0; q < 8 / kPer; ++q) {
          const float4 raw = __ldcs(reinterpret_cast<const float4*>(wr + p0) + q);
          wv[4 * q] = raw.x;
          wv[4 * q + 1] = raw.y;
          wv[4 * q + 2] = raw.z;
          wv[4 * q + 3] = raw.w;
        }
      }
#pragma unroll
      for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r) {
        if (r < m) {
          const float4 x0 = __ldg(reinterpret_cast<const float4*>(a + r * k + p0));
          const float4 x1 = __ldg(reinterpret_cast<const float4*>(a + r * k + p0) + 1);
          acc[r] += wv[0] * x0.x + wv[1] * x0.y + wv[2] * x0.z + wv[3] * x0.w + wv[4] * x1.x + wv[5] * x1.y +
                    wv[6] * x1.z + wv[7] * x1.w;
        }
      }
    }
  } else {
    for (size_t p = lane; p < k; p += 32) {
      float wv;
      if constexpr (sizeof(W) == 2) wv = load_half<W::kBf16>(wr[p].bits);
      else wv = wr[p];
#pragma unroll
      for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r)
        if (r < m) acc[r] += wv * a[r * k + p];
    }
  }
#pragma unroll
  for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r) {
    if (r < m) {
      const float v = warp_sum(acc[r]);
      if (lane == 0) c[r * n + j] = v + (bias ? bias[j] : 0.0f);
    }
  }
}

// The weight element types: 16 bits tagged with their format.
template <bool B>
struct HalfBits {
  static constexpr bool kBf16 = B;
  uint16_t bits;
};

template <class W>
void launch_gemv(const float* a, const void* w, const float* bias, float* c, size_t m, size_t n, size_t k,
                 cudaStream_t s) {
  if (m > kGemvMaxRows) throw std::invalid_argument("gemv: at most " + std::to_string(kGemvMaxRows) + " rows, got " + std::to_string(m));
  if (m == 0 || n == 0) return;
  const bool vec = k % 8 == 0 && reinterpret_cast<uintptr_t>(a) % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0;
  const unsigned grid = static_cast<unsigned>((n + kWarps - 1) / kWarps);
  const W* wt = static_cast<const W*>(w);
  if (vec) gemv_kernel<W, true><<<grid, kWarps * 32, 0, s>>>(a, wt, bias, c, static_cast<int>(m), n, k);
  else gemv_kernel<W, false><<<grid, kWarps * 32, 0, s>>>(a, wt, bias, c, static_cast<int>(m), n, k);
  ATTNODE_CUDA_CHECK_LAUNCH("gemv");
}

}  // namespace

void gemv_half(const float* a, const uint16_t* w, const float* bias, float* c, size_t m, size_t n, size_t k, Half type,
               cudaStream_t s) {
  if (type == Half::bf16) launch_gemv<HalfBits<true>>(a, w, bias, c, m, n, k, s);
  else launch_gemv<HalfBits<false>>(a, w, bias, c, m, n, k, s);
}

void gemv_f32(const float* a, const float* w, const float* bias, float* c, size_t m, size_t n, size_t k,
              cudaStream_t s) {
  launch_gemv<float>(a, w, bias, c, m, n, k, s);
}

}  // namespace attnode::cuda
