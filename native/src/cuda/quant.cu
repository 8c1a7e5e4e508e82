// q8_0 on the device (kernels.h): activation rows quantized in groups of 32 exactly as the CPU's
// quant_format.h, and the GEMV over repacked q8_0 weights with dp4a (four int8 products summed
// into an int32 per instruction). Each lane takes whole 32-value blocks: 32 weight bytes, one f16
// scale, and per activation row 32 quant bytes and one f32 scale.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "cuda_check.h"
#include "device_util.cuh"
#include "runtime.h"

namespace attnode::cuda {
namespace {

constexpr unsigned kWarps = 8;

// One warp per (row, group of 32): lane e holds value e.
__global__ void quantize_rows_q8_kernel(const float* __restrict__ x, int8_t* __restrict__ xq, float* __restrict__ xs,
                                        size_t groups_total, size_t groups_per_row) {
  const int lane = threadIdx.x & 31;
  const size_t gi = static_cast<size_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (gi >= groups_total) return;
  const float v = x[gi * 32 + lane];
  const float a = fabsf(v);
  const bool finite = __all_sync(kFullMask, a <= 3.4028234663852886e38f);
  const float amax = warp_max(a);
  if (!finite) {
    xq[gi * 32 + lane] = 0;
    if (lane == 0) xs[gi] = NAN;
    return;
  }
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  float r = rintf(__fmul_rn(v, id));  // round half to even, as std::nearbyint in the CPU's mode
  r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
  xq[gi * 32 + lane] = static_cast<int8_t>(r);
  if (lane == 0) xs[gi] = d;
  (void)groups_per_row;
}

__global__ void __launch_bounds__(kWarps * 32) gemv_q8_0_kernel(const int8_t* __restrict__ wq,
                                                                const uint16_t* __restrict__ wd,
                                                                const int8_t* __restrict__ xq,
                                                                const float* __restrict__ xs,
                                                                const float* __restrict__ bias, float* __restrict__ c,
                                                                int m, size_t n, size_t k) {
  const int lane = threadIdx.x & 31;
  const size_t j = static_cast<size_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (j >= n) return;
  const size_t nb = k / 32;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r) acc[r] = 0.0f;
#pragma unroll 2
  for (size_t b = lane; b < nb; b += 32) {
    const int4* wp = reinterpret_cast<const int4*>(wq + j * k + b * 32);
    const int4 w0 = __ldcs(wp), w1 = __ldcs(wp + 1);
    const float dw = __half2float(__ushort_as_half(wd[j * nb + b]));
#pragma unroll
    for (int r = 0; r < static_cast<int>(kGemvMaxRows); ++r) {
      if (r < m) {
        const int4* xp = reinterpret_cast<const int4*>(xq + r * k + b * 32);
        const int4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
        int s = 0;
        s = __dp4a(w0.x, x0.x, s);
        s = __dp4a(w0.y, x0.y, s);
        s = __dp4a(w0.z, x0.z, s);
        s = __dp4a(w0.w, x0.w, s);
        s = __dp4a(w1.x, x1.x, s);
        s = __dp4a(w1.y, x1.y, s);
        s = __dp4a(w1.z, x1.z, s);
        s = __dp4a(w1.w, x1.w, s);
        acc[r] += dw * xs[r * nb + b] * static_cast<float>(s);
      }
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

}  // namespace

void q8_0_split_blocks(const uint8_t* blocks, size_t n, size_t k, int8_t* q, uint16_t* d) {
  const size_t nb = k / 32;
  for (size_t j = 0; j < n; ++j)
    for (size_t b = 0; b < nb; ++b) {
      const uint8_t* src = blocks + (j * nb + b) * 34;
      d[j * nb + b] = static_cast<uint16_t>(src[0] | (src[1] << 8));
      std::memcpy(q + j * k + b * 32, src + 2, 32);
    }
}

void quantize_rows_q8(const float* x, int8_t* xq, float* xs, size_t m, size_t k, cudaStream_t s) {
  if (k % 32 != 0) throw std::invalid_argument("quantize_rows_q8: K = " + std::to_string(k) + " is not a multiple of 32");
  const size_t groups = m * (k / 32);
  if (groups == 0) return;
  quantize_rows_q8_kernel<<<static_cast<unsigned>((groups + kWarps - 1) / kWarps), kWarps * 32, 0, s>>>(x, xq, xs, groups,
                                                                                                      k / 32);
  ATTNODE_CUDA_CHECK_LAUNCH("quantize_rows_q8");
}

void gemv_q8_0(const Q8_0Device& w, const int8_t* xq, const float* xs, const float* bias, float* c, size_t m,
               cudaStream_t s) {
  if (w.k % 32 != 0) throw std::invalid_argument("gemv_q8_0: K = " + std::to_string(w.k) + " is not a multiple of 32");
  if (m > kGemvMaxRows) throw std::invalid_argument("gemv_q8_0: at most " + std::to_string(kGemvMaxRows) + " rows, got " + std::to_string(m));
  if (m == 0 || w.n == 0) return;
  const unsigned grid = static_cast<unsigned>((w.n + kWarps - 1) / kWarps);
  gemv_q8_0_kernel<<<grid, kWarps * 32, 0, s>>>(w.q, w.d, xq, xs, bias, c, static_cast<int>(m), w.n, w.k);
  ATTNODE_CUDA_CHECK_LAUNCH("gemv_q8_0");
}

}  // namespace attnode::cuda
