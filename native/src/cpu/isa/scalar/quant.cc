// Reference quantized kernels: plain loops, int32 dot products per block, scales applied after.
// Never deleted: the AVX2 and AVX-512 tables are tested against the same reference results.
#include <cstring>

#include "../../quant.h"
#include "../../quant_format.h"
#include "../../../half.h"

namespace attnode {
namespace {

// Offset weights (q + 128) of row j against signed activations, offset taken back out.
int32_t dot_w8(const uint8_t* panels, size_t kp, size_t j, size_t p0, const int8_t* x, size_t n) {
  int32_t s = 0;
  for (size_t p = p0; p < p0 + n; ++p)
    s += (static_cast<int32_t>(panels[panel_index(j, p, kp, kPanelChunkBytes)]) - kWeightOffset) * x[p];
  return s;
}

void gemm_q8_0_scalar(const Q8_0Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  const size_t nb = w.k / 32;
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      float acc = 0.0f;
      for (size_t b = 0; b < nb; ++b) {
        int32_t s = 0;
        for (size_t p = b * 32; p < b * 32 + 32; ++p)
          s += (static_cast<int32_t>(w.p[q8_0_panel_quant(j, p, nb)]) - kWeightOffset) * x.q[i * x.ldq + p];
        uint16_t d;
        std::memcpy(&d, w.p + q8_0_panel_scale(j, b, nb), 2);
        acc += static_cast<float>(s) * (f16_to_f32(d) * x.scales[i * nb + b]);
      }
      out[i * ldo + j] = acc;
    }
}

void gemm_i8_scalar(const I8Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      const int32_t s = dot_w8(w.q, w.kp, j, 0, x.q + i * x.ldq, w.k);
      out[i * ldo + j] = static_cast<float>(s) * (w.scales[j] * x.scales[i]);
    }
}

template <float (*Convert)(uint16_t)>
void gemm_half_scalar(const uint16_t* w, size_t k, size_t kp, const float* x, size_t m, size_t ldx, size_t n0,
                      size_t n1, float* out, size_t ldo) {
  for (size_t i = 0; i < m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      float acc = 0.0f;
      for (size_t p = 0; p < k; ++p) acc += Convert(w[panel_index(j, p, kp, kPanelChunkBytes / 2)]) * x[i * ldx + p];
      out[i * ldo + j] = acc;
    }
}

void quantize_row_scalar(const float* x, size_t k, size_t group, int8_t* q, float* scales, int32_t* sums) {
  if (group) quantize_activations(x, 1, k, k, group, q, scales, sums);
}

// Each step multiplies by a byte of its own accumulator, so the compiler cannot fold the loop.
int32_t dot_peak_loop_scalar(size_t iters) {
  int32_t acc[kQuantPeakChains];
  for (size_t c = 0; c < kQuantPeakChains; ++c) acc[c] = static_cast<int32_t>(c);
  for (size_t i = 0; i < iters; ++i)
    for (size_t c = 0; c < kQuantPeakChains; ++c) acc[c] += 3 * static_cast<int8_t>(acc[c]);
  int32_t s = 0;
  for (size_t c = 0; c < kQuantPeakChains; ++c) s += acc[c];
  return s;
}

}  // namespace

extern constexpr QuantKernels kQuantScalar = {
    "scalar",
    gemm_q8_0_scalar,
    gemm_i8_scalar,
    gemm_half_scalar<f16_to_f32>,
    gemm_half_scalar<bf16_to_f32>,
    quantize_row_scalar,
    dot_peak_loop_scalar,
    1,
};

}  // namespace attnode
