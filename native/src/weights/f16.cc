// The f16 and bf16 weight formats: W (N, K) stored as 16-bit halves (half the bytes of f32) and
// widened to f32 in registers by the quant kernels; f32 activations, f32 accumulation.
#include <vector>

#include "linear_common.h"

namespace attnode {
namespace {

class HalfWeight : public PackedWeight {
 public:
  // w: (N, K) f16 | bf16 bits by strides (weights.h)
  explicit HalfWeight(const WeightSource& w)
      : PackedWeight(w.dtype, w.n, w.k),
        kp_(round_up(static_cast<size_t>(w.k), kPanelChunkBytes / 2)),
        w_(pack_panels_strided<uint16_t>(w.as<uint16_t>(), static_cast<size_t>(w.n), static_cast<size_t>(w.k), w.stride_n,
                                         w.stride_k, kp_, uint16_t{0}, [](uint16_t h) { return h; })) {}

  size_t bytes() const override { return w_.size() * sizeof(uint16_t); }
  const char* variant(Isa isa) const override { return quant_kernels(isa).variant; }

  void linear(const float* x, size_t m, size_t ldx, float* out, size_t ldo, const float* bias, Activation act,
              const OpEnv& env) const override {
    const QuantKernels& kern = quant_kernels(env.isa);
    const auto gemm = dtype() == DType::f16 ? kern.gemm_f16 : kern.gemm_bf16;
    const size_t K = static_cast<size_t>(k());
    linear_over_n(m, static_cast<size_t>(n()), K, 4 * kPanelRows, kMinSplitHalf, out, ldo, bias, act, env,
                  [&](size_t i0, size_t i1, size_t n0, size_t n1) {
                    gemm(w_.data(), K, kp_, x + i0 * ldx, i1 - i0, ldx, n0, n1, out + i0 * ldo, ldo);
                  });
  }

 private:
  size_t kp_;                // K rounded up to 32 halves (64 bytes)
  WeightVector<uint16_t> w_;  // panels of (N, kp) f16 or bf16 bits (quant.h)
};

}  // namespace

// weight: (N, K) f16 | bf16. Any bit pattern is a valid half (NaN weights give NaN outputs).
// Shared with bf16.cc, which registers it for bf16.
std::unique_ptr<PackedWeight> make_half_weight(Args& args, const WeightSource& w) {
  return std::make_unique<HalfWeight>(w);
}

namespace {
const WeightFormatRegistrar kF16(DType::f16, make_half_weight);
}  // namespace

}  // namespace attnode
