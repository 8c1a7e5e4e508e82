// NEON f32 GEMM microkernels: 8 x 12 tiles (24 q-register accumulators, 3 for B), from the
// shared template. Built only for aarch64, where NEON is part of the base architecture.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "../../gemm.h"
#include "../gemm_kernel.inc"

namespace attnode {
namespace {

struct VNeon {
  using T = float32x4_t;
  static constexpr size_t W = 4;
  static T load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, T v) { vst1q_f32(p, v); }
  static T set1(float v) { return vdupq_n_f32(v); }
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
};

}  // namespace

extern constexpr GemmKernels kGemmNeon = make_gemm_kernels<VNeon, 8, 3>("gemm_f32_neon_8x12");

}  // namespace attnode
#endif
