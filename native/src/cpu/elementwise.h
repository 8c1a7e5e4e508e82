// Element-wise and row-wise f32 kernels: one table per instruction set (isa/<name>/elementwise.cc).
// The scalar table is the reference; every other table is tested against it.
#pragma once

#include <cmath>
#include <cstddef>

#include "dispatch.h"

namespace attnode {

// ReLU and tanh, one plain version for every instruction set: BERT applies them to an FFN's
// hidden rows (hidden_act relu) or to B pooled rows (tanh), never on a decoder's hot path.  x, out: (n) f32
inline void relu_f32_plain(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
inline void tanh_f32_plain(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
}

struct ElementwiseKernels {
  const char* variant;
  // out[i] = a[i] + b[i]; out may alias a or b.  a, b, out: (n) f32
  void (*add_f32)(const float* a, const float* b, float* out, size_t n);
  // out[i] = a[i] * b[i]; out may alias a or b.
  void (*mul_f32)(const float* a, const float* b, float* out, size_t n);
  // out[i] = x[i] * s; out may alias x.
  void (*scale_f32)(const float* x, float s, float* out, size_t n);
  // GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  void (*gelu_tanh_f32)(const float* x, float* out, size_t n);
  // GELU, exact: 0.5 x (1 + erf(x / sqrt(2))).
  void (*gelu_erf_f32)(const float* x, float* out, size_t n);
  // SiLU: x * sigmoid(x).
  void (*silu_f32)(const float* x, float* out, size_t n);
  // Numerically stable softmax of one row; a row of all -inf gives zeros, a NaN gives NaNs.
  void (*softmax_row_f32)(const float* x, float* out, size_t n);
  // LayerNorm of one row (biased variance, as PyTorch). b may be null.  w, b: (n) f32
  void (*layernorm_row_f32)(const float* x, const float* w, const float* b, float eps, float* out, size_t n);
  // RMSNorm of one row: x / sqrt(mean(x^2) + eps) * w.
  void (*rmsnorm_row_f32)(const float* x, const float* w, float eps, float* out, size_t n);
};

const ElementwiseKernels& elementwise_kernels(Isa isa);

extern const ElementwiseKernels kElementwiseScalar;
#if ATTNODE_X86
extern const ElementwiseKernels kElementwiseAvx2;
extern const ElementwiseKernels kElementwiseAvx512;
#endif
#if ATTNODE_ARM64
extern const ElementwiseKernels kElementwiseNeon;
#endif

}  // namespace attnode
