// The scalar f32 GEMM microkernel: the reference every SIMD table is tested against. Plain
// loops over a 4 x 8 tile with f32 accumulation, the same packed layouts as the SIMD kernels.
#include <utility>

#include "../../gemm.h"

namespace attnode {
namespace {

constexpr size_t kNr = 8;

template <size_t MR>
void gemm_tile_scalar(size_t kc, const float* a, const float* b, float* c, size_t ldc, size_t nr,
                      const GemmTile& tile) {
  float acc[MR][kNr] = {};
  for (size_t p = 0; p < kc; ++p)
    for (size_t i = 0; i < MR; ++i)
      for (size_t j = 0; j < kNr; ++j) acc[i][j] = __builtin_fmaf(a[p * MR + i], b[p * kNr + j], acc[i][j]);
  for (size_t i = 0; i < MR; ++i)
    for (size_t j = 0; j < nr; ++j) {
      float r = acc[i][j] * tile.alpha;
      if (tile.beta != 0.0f) r = __builtin_fmaf(tile.beta, c[i * ldc + j], r);
      if (tile.bias) r += tile.bias[j];
      c[i * ldc + j] = r;
    }
}

float fma_loop_scalar(size_t iters) {
  float acc[kGemmCalibrationChains];
  for (size_t i = 0; i < kGemmCalibrationChains; ++i) acc[i] = static_cast<float>(i);
  for (size_t r = 0; r < iters; ++r) {
    for (size_t i = 0; i < kGemmCalibrationChains; ++i) acc[i] = __builtin_fmaf(acc[i], 0.999f, 0.001f);
  }
  float s = 0.0f;
  for (float v : acc) s += v;
  return s;
}

float read_sum_scalar(const float* p, size_t n) {
  float s = 0.0f;
  for (size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

constexpr GemmKernels make_scalar() {
  GemmKernels k{};
  k.variant = "gemm_f32_scalar_4x8";
  k.mr = 4;
  k.nr = kNr;
  k.kernels[1] = &gemm_tile_scalar<1>;
  k.kernels[2] = &gemm_tile_scalar<2>;
  k.kernels[3] = &gemm_tile_scalar<3>;
  k.kernels[4] = &gemm_tile_scalar<4>;
  k.fma_loop = &fma_loop_scalar;
  k.fma_lanes = 1;
  k.read_sum = &read_sum_scalar;
  return k;
}

}  // namespace

extern constexpr GemmKernels kGemmScalar = make_scalar();

}  // namespace attnode
