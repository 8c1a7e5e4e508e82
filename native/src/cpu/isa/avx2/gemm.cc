// AVX2+FMA f32 GEMM microkernels: 6 x 16 tiles (12 ymm accumulators, 2 for B, 1 broadcast),
// from the shared template. Compiled with AVX2/FMA flags; used when cpuid reports them.
#include <immintrin.h>

#include "../../gemm.h"
#include "../gemm_kernel.inc"

namespace attnode {
namespace {

struct V256 {
  using T = __m256;
  static constexpr size_t W = 8;
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T set1(float v) { return _mm256_set1_ps(v); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
};

}  // namespace

extern constexpr GemmKernels kGemmAvx2 = make_gemm_kernels<V256, 6, 2>("gemm_f32_avx2_6x16");

}  // namespace attnode
