// AVX-512 vector traits for the attention and recurrence kernel templates (16 f32 lanes).
// Compiled only inside this folder's AVX-512 translation units.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace attnode {
namespace {

struct V512K {
  using T = __m512;
  static constexpr int W = 16;
  static constexpr int kPvVecs = 4;  // vectors of the head dimension per P.V block (4x4 accumulators)
  static T zero() { return _mm512_setzero_ps(); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static T load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
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
  // p where x is not -inf, else exactly 0 (a hidden key weighs nothing, not exp(-87)).
  static T keep_visible(T x, T p) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-__builtin_inff()), _CMP_NEQ_OQ), p);
  }
  static float reduce_add(T v) { return _mm512_reduce_add_ps(v); }
  static float reduce_max(T v) { return _mm512_reduce_max_ps(v); }
  static bool any_nan(T v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0; }
};

}  // namespace
}  // namespace attnode
