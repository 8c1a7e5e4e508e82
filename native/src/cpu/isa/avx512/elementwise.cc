// AVX-512 element-wise kernels: the shared vector template instantiated with 16 f32 lanes.
// Compiled with AVX-512 flags; only called when cpuid reports AVX-512 (see dispatch.cc).
#include <immintrin.h>

#include "../../elementwise.h"
#include "../vec_elementwise.inc"

namespace attnode {
namespace {

struct V512 {
  using T = __m512;
  static constexpr int W = 16;
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T set1(float v) { return _mm512_set1_ps(v); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  static T min(T a, T b) { return _mm512_min_ps(a, b); }
  static T round(T a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static T exp2i(T n) {
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_castsi512_ps(e);
  }
  static float reduce_add(T v) { return _mm512_reduce_add_ps(v); }
  static float reduce_max(T v) { return _mm512_reduce_max_ps(v); }
  static bool any_nan(T v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0; }
};



}  // namespace

extern const ElementwiseKernels kElementwiseAvx512 = make_elementwise<V512>("avx512");

}  // namespace attnode
