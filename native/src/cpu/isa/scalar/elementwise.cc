// Reference element-wise and row kernels: plain scalar C++, never deleted. Every faster
// variant is tested against these (and these against the TypeScript reference backend).
#include <cmath>
#include <limits>

#include "../../elementwise.h"

namespace attnode {
namespace {

void add_f32(const float* a, const float* b, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void mul_f32(const float* a, const float* b, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void scale_f32(const float* x, float s, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * s;
}

void gelu_tanh_f32(const float* x, float* out, size_t n) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    out[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
  }
}

void gelu_erf_f32(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.7071067811865476f));
}

void silu_f32(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void softmax_row_f32(const float* x, float* out, size_t n) {
  float m = -std::numeric_limits<float>::infinity();
  bool nan = false;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) nan = true;
    if (x[i] > m) m = x[i];
  }
  if (nan) {
    for (size_t i = 0; i < n; ++i) out[i] = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  if (m == -std::numeric_limits<float>::infinity()) {  // fully masked row
    for (size_t i = 0; i < n; ++i) out[i] = 0.0f;
    return;
  }
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    out[i] = std::exp(x[i] - m);
    sum += out[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (size_t i = 0; i < n; ++i) out[i] *= inv;
}

// Sums are accumulated in double: this is the reference that vector kernels are judged against.
void layernorm_row_f32(const float* x, const float* w, const float* b, float eps, float* out, size_t n) {
  double mean = 0.0;
  for (size_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    var += d * d;
  }
  var /= static_cast<double>(n);
  const double inv = 1.0 / std::sqrt(var + eps);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<float>((x[i] - mean) * inv * w[i] + (b ? b[i] : 0.0f));
}

void rmsnorm_row_f32(const float* x, const float* w, float eps, float* out, size_t n) {
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(x[i] * inv * w[i]);
}

}  // namespace

extern constexpr ElementwiseKernels kElementwiseScalar = {
    "scalar",     add_f32,  mul_f32,         scale_f32,         gelu_tanh_f32,
    gelu_erf_f32, silu_f32, softmax_row_f32, layernorm_row_f32, rmsnorm_row_f32,
};

}  // namespace attnode
