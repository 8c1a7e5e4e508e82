// Reference quantized kernels: plain loops, int32 dot products per block, scales applied after.
// Never deleted: the AVX2 and AVX-512 tables are tested against the same reference results.
#include "../../quant.h"
#include "../../../half.h"

namespace attnode {
namespace {

int32_t dot_s8(const int8_t* a, const int8_t* b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return s;
}

void gemm_q8_0_scalar(const Q8_0Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  const size_t nb = w.k / 32;
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      float acc = 0.0f;
      for (size_t b = 0; b < nb; ++b) {
        const int32_t s = dot_s8(w.q + j * w.k + b * 32, x.q + i * x.k + b * 32, 32);
        acc += static_cast<float>(s) * (f16_to_f32(w.d[j * nb + b]) * x.scales[i * nb + b]);
      }
      out[i * ldo + j] = acc;
    }
}

void gemm_i8_scalar(const I8Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      const int32_t s = dot_s8(w.q + j * w.k, x.q + i * x.k, w.k);
      out[i * ldo + j] = static_cast<float>(s) * (w.scales[j] * x.scales[i]);
    }
}

template <float (*Convert)(uint16_t)>
void gemm_half_scalar(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                      float* out, size_t ldo) {
  for (size_t i = 0; i < m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      float acc = 0.0f;
      for (size_t p = 0; p < k; ++p) acc += Convert(w[j * k + p]) * x[i * ldx + p];
      out[i * ldo + j] = acc;
    }
}

}  // namespace

const QuantKernels kQuantScalar = {
    "scalar",
    gemm_q8_0_scalar,
    gemm_i8_scalar,
    gemm_half_scalar<f16_to_f32>,
    gemm_half_scalar<bf16_to_f32>,
};

}  // namespace attnode
