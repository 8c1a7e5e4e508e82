// The per-output-channel int8 weight format: W (N, K) int8 with one f32 scale per row
// ('scales', (N) f32), W[j, k] = q[j, k] * scales[j]. Linear quantizes each activation row with
// one scale, so a whole dot product accumulates exactly in int32 before the scales are applied.
#include <cmath>
#include <vector>

#include "linear_common.h"

namespace attnode {
namespace {

class I8Weight : public PackedWeight {
 public:
  // q: (N, K) i8 by strides (weights.h), scales: (N) f32
  I8Weight(const WeightSource& q, const float* scales)
      : PackedWeight(DType::i8, q.n, q.k),
        kp_(round_up(static_cast<size_t>(q.k), kPanelChunkBytes)),
        q_(pack_panels_strided<uint8_t>(q.as<int8_t>(), static_cast<size_t>(q.n), static_cast<size_t>(q.k), q.stride_n,
                                        q.stride_k, kp_, kWeightOffset, offset_weight)),
        scales_(scales, scales + q.n) {}

  size_t bytes() const override { return q_.size() + scales_.size() * sizeof(float); }
  const char* variant(Isa isa) const override { return quant_kernels(isa).variant; }

  void linear(const float* x, size_t m, size_t ldx, float* out, size_t ldo, const float* bias, Activation act,
              const OpEnv& env) const override {
    const size_t K = static_cast<size_t>(k());
    const QuantizedRows xq = quantize_rows(x, m, ldx, K, K, env);
    const I8Weights w{q_.data(), scales_.data(), static_cast<size_t>(n()), K, kp_};
    const auto gemm = quant_kernels(env.isa).gemm_i8;
    linear_over_n(m, static_cast<size_t>(n()), K, 4 * kPanelRows, kMinSplitInt8, out, ldo, bias, act, env,
                  [&](size_t i0, size_t i1, size_t n0, size_t n1) { gemm(w, row_range(xq, i0, i1), n0, n1, out + i0 * ldo, ldo); });
  }

 private:
  size_t kp_;                   // K rounded up to 64
  WeightVector<uint8_t> q_;      // panels of (N, kp) q + 128 (quant.h)
  std::vector<float> scales_;   // (N) f32
};

// weight: (N, K) i8, scales: (N) f32, every scale finite. K is capped so an int32 dot product
// of int8 values cannot overflow, offset included (2^31 / (255 * 128)).
std::unique_ptr<PackedWeight> make_i8_weight(Args& args, const WeightSource& w) {
  const TensorView scales = args.optional_tensor("scales", {DType::f32});
  if (!scales.present) args.type_error("i8 weights need 'scales': one f32 per output row, shape [" + std::to_string(w.n) + "]");
  args.expect_shape("scales", scales, {w.n});
  if (w.k > 65536)
    args.range_error("'weight' (i8) has " + std::to_string(w.k) + " input features; at most 65536 are supported");
  const float* s = scales.as<float>();
  for (size_t j = 0; j < scales.numel; ++j)
    if (!std::isfinite(s[j]))
      args.range_error("'scales'[" + std::to_string(j) + "] is not finite; every row scale must be a finite number");
  return std::make_unique<I8Weight>(w, s);
}

const WeightFormatRegistrar kI8(DType::i8, make_i8_weight);

}  // namespace
}  // namespace attnode
