// NEON element-wise kernels: the shared vector template instantiated with 4 f32 lanes.
// Built only for aarch64, where NEON is part of the base architecture.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "../../elementwise.h"
#include "../vec_elementwise.inc"

namespace attnode {
namespace {

struct VNeon {
  using T = float32x4_t;
  static constexpr int W = 4;
  static T load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, T v) { vst1q_f32(p, v); }
  static T set1(float v) { return vdupq_n_f32(v); }
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static T sub(T a, T b) { return vsubq_f32(a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T div(T a, T b) { return vdivq_f32(a, b); }
  static T fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  // x86 min/max return the second operand on NaN; vminq/vmaxq propagate NaN, which the
  // callers (clamps written constant-first) also accept.
  static T max(T a, T b) { return vmaxq_f32(a, b); }
  static T min(T a, T b) { return vminq_f32(a, b); }
  static T round(T a) { return vrndnq_f32(a); }
  static T exp2i(T n) {
    return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23));
  }
  static float reduce_add(T v) { return vaddvq_f32(v); }
  static float reduce_max(T v) { return vmaxvq_f32(v); }
  static bool any_nan(T v) { return vminvq_u32(vceqq_f32(v, v)) == 0; }
};



}  // namespace

extern constexpr ElementwiseKernels kElementwiseNeon = make_elementwise<VNeon>("neon");

}  // namespace attnode
#endif
