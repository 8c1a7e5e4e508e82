// GEMV over GGUF k-quant weights (kernels.h): Q4_K and Q6_K super-blocks of 256 values read as
// stored (no repack), dequantized in registers in the order of the CPU's reference
// (cpu/block_formats.cc), f32 activations. One warp per output column and one super-block per
// step: lane l takes values 8l..8l+7, which always share one sub-block scale.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda_check.h"
#include "device_util.cuh"
#include "runtime.h"

namespace attnode::cuda {
namespace {

constexpr unsigned kWarps = 8;
constexpr size_t kQ4KBytes = 144, kQ6KBytes = 210;

__device__ __forceinline__ float f16_at(const uint8_t* p) {
  return __half2float(__ushort_as_half(static_cast<uint16_t>(p[0] | (p[1] << 8))));
}

// cpu/block_formats.h kquant_scale_min: the 6-bit scale and min of sub-block j of a Q4_K block.
__device__ __forceinline__ void scale_min(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// The 8 values lane `lane` owns in a super-block, as f32 (the CPU's dequantization, step by step).
__device__ __forceinline__ void dequant8_q4_k(const uint8_t* blk, int lane, float* v) {
  const int first = lane * 8, pair = first / 64, o = first % 64, j = 2 * pair + (o >= 32 ? 1 : 0), l = o % 32;
  int sc, m;
  scale_min(blk + 4, j, &sc, &m);
  const float d = f16_at(blk) * static_cast<float>(sc), mn = f16_at(blk + 2) * static_cast<float>(m);
  const uint8_t* q = blk + 16 + 32 * pair + l;
#pragma unroll
  for (int e = 0; e < 8; ++e) {
    const int nib = o < 32 ? (q[e] & 0xF) : (q[e] >> 4);
    v[e] = d * static_cast<float>(nib) - mn;
  }
}

__device__ __forceinline__ void dequant8_q6_k(const uint8_t* blk, int lane, float* v) {
  const int first = lane * 8, h = first / 128, o = first % 128, g = o / 32, l = o % 32, is = l / 16;
  const uint8_t* ql = blk + 64 * h + (g & 1 ? 32 : 0) + l;
  const uint8_t* qh = blk + 128 + 32 * h + l;
  const auto* sc = reinterpret_cast<const int8_t*>(blk + 192 + 8 * h);
  const float d = f16_at(blk + 208) * static_cast<float>(sc[is + 2 * g]);
  const int shift = 2 * g;
#pragma unroll
  for (int e = 0; e < 8; ++e) {
    const int lo = g < 2 ? (ql[e] & 0xF) : (ql[e] >> 4);
    const int q = (lo | (((qh[e] >> shift) & 3) << 4)) - 32;
    v[e] = d * static_cast<float>(q);
  }
}

template <int kFormat>  // 4: Q4_K, 6: Q6_K
__global__ void __launch_bounds__(kWarps * 32) gemv_kquant_kernel(const float* __restrict__ a,
                                                                  const uint8_t* __restrict__ w,
                                                                  const float* __restrict__ bias, float* __restrict__ c,
                                                                  int m, size_t n, size_t k) {
  constexpr size_t kBytes = kFormat == 4 ? kQ4KBytes : kQ6KBytes;
  const int lane = threadIdx.x & 31;
  const size_t j = static_cast<size_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (j >= n) return;
  const size_t nsb = k / 256;
  const uint8_t* row = w + j * nsb * kBytes;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r) acc[r] = 0.0f;
  for (size_t sb = 0; sb < nsb; ++sb) {
    float v[8];
    if constexpr (kFormat == 4) dequant8_q4_k(row + sb * kBytes, lane, v);
    else dequant8_q6_k(row + sb * kBytes, lane, v);
    const size_t p0 = sb * 256 + lane * 8;
#pragma unroll
    for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r) {
      if (r < m) {
        const float* x = a + r * k + p0;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[r] += v[e] * x[e];
      }
    }
  }
#pragma unroll
  for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r) {
    if (r < m) {
      const float s = warp_sum(acc[r]);
      if (lane == 0) c[r * n + j] = s + (bias ? bias[j] : 0.0f);
    }
  }
}

template <int kFormat>
void launch(const float* a, const uint8_t* w, const float* bias, float* c, size_t m, size_t n, size_t k, cudaStream_t s,
            const char* name) {
  if (k % 256 != 0) throw std::invalid_argument(std::string(name) + ": K = " + std::to_string(k) + " is not a multiple of 256");
  if (m > kGemvMaxRows) throw std::invalid_argument(std::string(name) + ": at most " + std::to_string(kGemvMaxRows) + " rows, got " + std::to_string(m));
  if (m == 0 || n == 0) return;
  gemv_kquant_kernel<kFormat><<<static_cast<unsigned>((n + kWarps - 1) / kWarps), kWarps * 32, 0, s>>>(
      a, w, bias, c, static_cast<int>(m), n, k);
  ATTNODE_CUDA_CHECK_LAUNCH(name);
}

}  // namespace

void gemv_q4_k(const float* a, const uint8_t* w, const float* bias, float* c, size_t m, size_t n, size_t k,
               cudaStream_t s) {
  launch<4>(a, w, bias, c, m, n, k, s, "gemv_q4_k");
}

void gemv_q6_k(const float* a, const uint8_t* w, const float* bias, float* c, size_t m, size_t n, size_t k,
               cudaStream_t s) {
  launch<6>(a, w, bias, c, m, n, k, s, "gemv_q6_k");
}

}  // namespace attnode::cuda
