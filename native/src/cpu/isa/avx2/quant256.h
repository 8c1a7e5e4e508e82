// AVX2 traits for the quantized-kernel templates (quant_kernel.inc): 8 lanes, the int8 dot step
// as vpmaddubsw + vpmaddwd. Shared by the AVX2 table and the AVX-VNNI one (isa/avxvnni), which
// swaps in vpdpbusd. Compiled only inside AVX2-or-better translation units.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "vec256.h"

namespace attnode {
namespace {

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// 8 lanes, the f32 side from the attention kernels' traits; the 4-byte dot product is vpmaddubsw on |q| and x
// carrying q's sign (no saturation: 2 * 128 * 127 < 2^15), then vpmaddwd by ones. The weights
// are taken back to signed q once per load, so no offset correction is needed.
struct Q256 : V256K {
  using I = __m256i;
  using F = __m256;
  static constexpr size_t W = 8;
  static constexpr bool kOffsetDot = false;
  struct Wv {
    I a, s;  // |q| and q
  };
  static Wv weights(const uint8_t* p) {
    const I q = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), _mm256_set1_epi8(static_cast<char>(0x80)));
    return {_mm256_abs_epi8(q), q};
  }
  static I dot(I acc, const Wv& w, I x) {
    const I p16 = _mm256_maddubs_epi16(w.a, _mm256_sign_epi8(x, w.s));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
  }
  static I bcast4(int32_t x4) { return _mm256_set1_epi32(x4); }
  static I loadi(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static I set1i(int32_t v) { return _mm256_set1_epi32(v); }
  static I addi(I a, I b) { return _mm256_add_epi32(a, b); }
  static int32_t reduce_addi(I v) { return hsum_i32(v); }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F abs(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static bool nonfinite(F a) {
    return _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps(3.4028234663852886e38f), _CMP_NLE_UQ)) != 0;
  }
  static F load_bf16(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  // Lanes [0, n) set: a window of 8 into {-1 x 8, 0 x 8}.
  static I lane_mask(size_t n) {
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + 8 - (n < 8 ? n : 8)));
  }
  static F load_n(const float* p, size_t n) { return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lane_mask(n)); }
  static void store_n(float* p, F v, size_t n) {
    if (n >= 8)
      _mm256_storeu_ps(p, v);
    else
      _mm256_maskstore_ps(p, lane_mask(n), v);
  }
  static I quant(F v) {
    const I q = _mm256_cvtps_epi32(v);  // MXCSR's default mode: round half to even
    return _mm256_max_epi32(_mm256_min_epi32(q, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
  }
  static void store_q(int8_t* p, I v, size_t n) {
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i b8 = _mm_packs_epi16(w16, w16);
    int8_t tmp[16];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), b8);
    std::memcpy(p, tmp, n < 8 ? n : 8);
  }
};

}  // namespace
}  // namespace attnode
