// NEON k-quant (Q2_K..Q6_K), IQ4_XS and Q4_1 / Q5_1 kernels for Armv8.2 cores with the dot-product extension:
// kquant_kernel.inc over 4 lanes, the dot step one sdot (quants 0..63 and codebook levels are
// valid signed bytes, so no offset is needed), the IQ4 lookup one tbl. Chosen for the NEON Isa
// when the CPU reports asimddp (cpu/kquant.cc). Checked against the scalar loops under
// qemu-aarch64 by tools/check-quant-kernels.sh. Not the reference (cpu/kquant.cc).
#include <arm_neon.h>

#include <cmath>

#include "../../block_formats.h"
#include "../../kquant.h"
#include "../kquant_kernel.inc"

namespace attnode {
namespace {

struct KNeonDot {
  using I = int32x4_t;
  using F = float32x4_t;
  static constexpr size_t W = 4;
  static I bytes(uint8x16_t v) { return vreinterpretq_s32_u8(v); }
  static uint8x16_t u(I v) { return vreinterpretq_u8_s32(v); }
  static I load(const uint8_t* p) { return bytes(vld1q_u8(p)); }
  static I nib_lo(I v) { return bytes(vandq_u8(u(v), vdupq_n_u8(0x0f))); }
  static I nib_hi(I v) { return bytes(vshrq_n_u8(u(v), 4)); }
  static I dot(I acc, I w, int32_t x4) { return vdotq_s32(acc, vreinterpretq_s8_s32(w), vreinterpretq_s8_s32(vdupq_n_s32(x4))); }
  static I mul(I a, I b) { return vmulq_s32(a, b); }
  static I add(I a, I b) { return vaddq_s32(a, b); }
  static I set1i(int32_t v) { return vdupq_n_s32(v); }
  static I u8(const uint8_t* p) {
    uint32_t b;
    std::memcpy(&b, p, 4);
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vcreate_u8(b)))));
  }
  static I i8(const uint8_t* p) {
    uint32_t b;
    std::memcpy(&b, p, 4);
    return vmovl_s16(vget_low_s16(vmovl_s8(vcreate_s8(b))));
  }
  static F cvt(I v) { return vcvtq_f32_s32(v); }
  static F loadf(const float* p) { return vld1q_f32(p); }
  static F set1(float v) { return vdupq_n_f32(v); }
  static F mul(F a, F b) { return vmulq_f32(a, b); }
  static F fma(F a, F b, F c) { return vfmaq_f32(c, a, b); }
  static I orb(I a, I b) { return vorrq_s32(a, b); }
  static I sub(I a, I b) { return vsubq_s32(a, b); }
  // vshlq by a negative count shifts right, so one form serves both directions.
  static I high(I h, int g) { return bytes(vandq_u8(vshlq_u8(u(h), vdupq_n_s8(static_cast<int8_t>(4 - 2 * g))), vdupq_n_u8(0x30))); }
  static I bit5(I h, int g) { return bytes(vandq_u8(vshlq_u8(u(h), vdupq_n_s8(static_cast<int8_t>(4 - g))), vdupq_n_u8(0x10))); }
  static constexpr int kIq4Bias = 0;
  static I lut(I idx) { return vreinterpretq_s32_s8(vqtbl1q_s8(vld1q_s8(attnode::kIq4Codebook), u(idx))); }
  static I sdot(I acc, I w, int32_t x4) { return dot(acc, w, x4); }
  static F loadh(const uint8_t* p) {
    uint16_t h[W];
    std::memcpy(h, p, sizeof h);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
  }
  static I bits(I h, int shift, uint8_t mask) {
    return bytes(vandq_u8(vshlq_u8(u(h), vdupq_n_s8(static_cast<int8_t>(-shift))), vdupq_n_u8(mask)));
  }
  static F zero() { return vdupq_n_f32(0.0f); }
  static void store_n(float* p, F v, size_t n) {
    if (n >= W) {
      vst1q_f32(p, v);
      return;
    }
    float t[W];
    vst1q_f32(t, v);
    std::memcpy(p, t, n * sizeof(float));
  }
};

// quant_format.h's quantize_row_q8_k over 4 lanes: the same f32 products, rounded half to even
// by vcvtnq (as nearbyint in the default mode), so the same bytes.
void quantize_row_q8_k_neon(const float* x, size_t k, int8_t* q, float* scales, int32_t* sums) {
  for (size_t g = 0; g < k / 256; ++g) {
    const float* xg = x + 256 * g;
    int8_t* qg = q + 256 * g;
    float32x4_t m = vdupq_n_f32(0.0f);
    uint32x4_t ok = vdupq_n_u32(0xffffffffu);
    for (size_t i = 0; i < 256; i += 4) {
      const float32x4_t a = vabsq_f32(vld1q_f32(xg + i));
      ok = vandq_u32(ok, vcleq_f32(a, vdupq_n_f32(3.4028234663852886e38f)));  // false for NaN and infinity
      m = vmaxq_f32(m, a);
    }
    const float amax = vmaxvq_f32(m);
    const bool finite = vminvq_u32(ok) != 0;
    if (!finite || amax == 0.0f) {
      std::memset(qg, 0, 256);
      scales[g] = finite ? 0.0f : NAN;
      sums[g] = 0;
      continue;
    }
    // The first value of largest magnitude sets the sign of the scale, as in the scalar loop.
    size_t first = 0;
    while (std::fabs(xg[first]) != amax) ++first;
    const float iscale = -127.0f / xg[first];
    int32x4_t s = vdupq_n_s32(0);
    for (size_t i = 0; i < 256; i += 8) {
      const int32x4_t r0 = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xg + i), iscale)), vdupq_n_s32(127));
      const int32x4_t r1 = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xg + i + 4), iscale)), vdupq_n_s32(127));
      s = vaddq_s32(s, vaddq_s32(r0, r1));
      vst1_s8(qg + i, vmovn_s16(vcombine_s16(vmovn_s32(r0), vmovn_s32(r1))));
    }
    scales[g] = 1.0f / iscale;
    sums[g] = vaddvq_s32(s);
  }
}

}  // namespace

// 1 row x 16 columns (4 vectors): the dot, sum and min accumulators of one row take 20 of the 32
// registers; a second row would spill.
extern constexpr KQuantKernels kKQuantNeonDot = {"neon_dot", gemm_q4_k<KNeonDot, 1>, gemm_q6_k<KNeonDot, 1>, gemm_q5_k<KNeonDot, 1>,
                                      gemm_iq4_xs<KNeonDot, 1>, gemm_q4_1<KNeonDot, 1>, gemm_q5_1<KNeonDot, 1>,
                                      gemm_q2_k<KNeonDot, 1>, gemm_q3_k<KNeonDot, 1>, gemm_q4_0<KNeonDot, 1>, gemm_q5_0<KNeonDot, 1>, gemm_iq4_nl<KNeonDot, 1>,
    quantize_row_q8_k_neon};

}  // namespace attnode
