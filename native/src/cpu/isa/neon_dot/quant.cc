// NEON quantized kernels for Armv8.2 cores with the dot-product extension (sdot: signed bytes, 4
// per int32 lane): the templates of quant_kernel.inc over 4-lane traits. Weights are stored as
// q + 128 and taken back to signed q once per load. Chosen for the NEON Isa when the CPU reports
// asimddp (cpu/quant.cc); other NEON cores keep the scalar table. Checked against the scalar
// table under qemu-aarch64 by tools/check-quant-kernels.sh.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "../../quant.h"
#include "../quant_kernel.inc"

namespace attnode {
namespace {

struct QNeonDot {
  using I = int32x4_t;
  using F = float32x4_t;
  static constexpr size_t W = 4;
  static constexpr bool kOffsetDot = false;
  struct Wv {
    int8x16_t q;
  };
  static Wv weights(const uint8_t* p) { return {vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), vdupq_n_u8(0x80)))}; }
  static I dot(I acc, const Wv& w, I x) { return vdotq_s32(acc, w.q, vreinterpretq_s8_s32(x)); }
  static I bcast4(int32_t x4) { return vdupq_n_s32(x4); }
  static I loadi(const int8_t* p) { return vreinterpretq_s32_s8(vld1q_s8(p)); }
  static I set1i(int32_t v) { return vdupq_n_s32(v); }
  static I addi(I a, I b) { return vaddq_s32(a, b); }
  static int32_t reduce_addi(I v) { return vaddvq_s32(v); }
  static F set1(float v) { return vdupq_n_f32(v); }
  static F cvt(I v) { return vcvtq_f32_s32(v); }
  static F mul(F a, F b) { return vmulq_f32(a, b); }
  static F fma(F a, F b, F c) { return vfmaq_f32(c, a, b); }
  static F abs(F a) { return vabsq_f32(a); }
  static F max(F a, F b) { return vmaxq_f32(a, b); }
  static float reduce_max(F v) { return vmaxvq_f32(v); }
  static float reduce_add(F v) { return vaddvq_f32(v); }
  // a holds |x|: NaN and infinity both fail a <= FLT_MAX.
  static bool nonfinite(F a) { return vminvq_u32(vcleq_f32(a, vdupq_n_f32(3.4028234663852886e38f))) == 0; }
  static F load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static F load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static F load_n(const float* p, size_t n) {
    if (n >= W) return vld1q_f32(p);
    float t[W] = {};
    std::memcpy(t, p, n * sizeof(float));
    return vld1q_f32(t);
  }
  static void store_n(float* p, F v, size_t n) {
    if (n >= W) {
      vst1q_f32(p, v);
      return;
    }
    float t[W];
    vst1q_f32(t, v);
    std::memcpy(p, t, n * sizeof(float));
  }
  static I quant(F v) {
    const I q = vcvtnq_s32_f32(v);  // round to nearest, ties to even
    return vmaxq_s32(vminq_s32(q, vdupq_n_s32(127)), vdupq_n_s32(-127));
  }
  static void store_q(int8_t* p, I v, size_t n) {
    const int16x4_t h = vmovn_s32(v);
    int8_t t[8];
    vst1_s8(t, vmovn_s16(vcombine_s16(h, h)));
    std::memcpy(p, t, n < W ? n : W);
  }
};

}  // namespace

// q8_0: 3 rows x 16 columns (12 int32 + 12 f32 accumulators of the 32 registers); row panels:
// 4 activation rows x 4 weight rows.
extern constexpr QuantKernels kQuantNeonDot = make_quant_kernels<QNeonDot, 3, 4, 4>("neon_dot");

}  // namespace attnode
