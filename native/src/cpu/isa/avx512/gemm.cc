// AVX-512 f32 GEMM microkernels: 14 x 32 tiles (28 zmm accumulators, 2 for B), from the shared
// template. Compiled with AVX-512 flags; only called when cpuid reports AVX-512 (dispatch.cc).
#include <immintrin.h>

#include "../../gemm.h"
#include "../gemm_kernel.inc"

namespace attnode {
namespace {

struct V512 {
  using T = __m512;
  static constexpr size_t W = 16;
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T set1(float v) { return _mm512_set1_ps(v); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
};

}  // namespace

extern const GemmKernels kGemmAvx512 = make_gemm_kernels<V512, 14, 2>("gemm_f32_avx512_14x32");

}  // namespace attnode
