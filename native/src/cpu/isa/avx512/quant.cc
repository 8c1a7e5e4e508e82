// AVX-512 quantized kernels (Zen 4, Sapphire Rapids): the templates of quant_kernel.inc over
// 16-lane traits, int8 dot products with VNNI (vpdpbusd), f16 weights widened by vcvtph2ps and
// bf16 by a shift. Masked loads and stores at every edge, no over-reads. Not the reference
// (isa/scalar/quant.cc) and not the packing (weights/*.cc).
#include <immintrin.h>

#include "../../quant.h"
#include "../quant_kernel.inc"
#include "vec512.h"

namespace attnode {
namespace {

inline __mmask16 lane_mask(size_t n) { return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u); }

// vpdpbusd multiplies unsigned by signed bytes: the weights (q + 128) take the unsigned side.
// The f32 side comes from the attention kernels' traits (set1, mul, fma, max, reductions, f16).
struct Q512 : V512K {
  using I = __m512i;
  using F = __m512;
  static constexpr size_t W = 16;
  static constexpr bool kOffsetDot = true;
  struct Wv {
    I u;
  };
  static Wv weights(const uint8_t* p) { return {_mm512_loadu_si512(p)}; }
  static I dot(I acc, const Wv& w, I x) { return _mm512_dpbusd_epi32(acc, w.u, x); }
  static I bcast4(int32_t x4) { return _mm512_set1_epi32(x4); }
  static I loadi(const int8_t* p) { return _mm512_loadu_si512(p); }
  static I set1i(int32_t v) { return _mm512_set1_epi32(v); }
  static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
  static int32_t reduce_addi(I v) { return _mm512_reduce_add_epi32(v); }
  static F cvt(I v) { return _mm512_cvtepi32_ps(v); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static bool nonfinite(F a) { return _mm512_cmp_ps_mask(a, _mm512_set1_ps(3.4028234663852886e38f), _CMP_NLE_UQ) != 0; }
  static F load_bf16(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static F load_n(const float* p, size_t n) { return _mm512_maskz_loadu_ps(lane_mask(n), p); }
  static void store_n(float* p, F v, size_t n) { _mm512_mask_storeu_ps(p, lane_mask(n), v); }
  static I quant(F v) {
    const I q = _mm512_cvtps_epi32(v);  // MXCSR's default mode: round half to even
    return _mm512_max_epi32(_mm512_min_epi32(q, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
  }
  static void store_q(int8_t* p, I v, size_t n) { _mm512_mask_cvtepi32_storeu_epi8(p, lane_mask(n), v); }
};

}  // namespace

// q8_0: 6 rows x 32 columns (12 int32 + 12 f32 accumulators of the 32 registers).
// Row panels: 4 activation rows x 4 weight rows.
extern constexpr QuantKernels kQuantAvx512 = make_quant_kernels<Q512, 6, 2, 4>("avx512_vnni");

}  // namespace attnode
