// The reference f32 weight format: W (N, K) kept row-major as given, out = x . W^T by plain dot
// products (double accumulation), parallel over output features. Kept forever as the judge of
// the packed GEMM formats; selected with the 'f32_reference' layout option.
#include <cstring>
#include <vector>

#include "../weights.h"

namespace attnode {
namespace {

class F32ReferenceWeight : public PackedWeight {
 public:
  F32ReferenceWeight(int64_t n, int64_t k, const float* w)
      : PackedWeight(DType::f32, n, k), w_(w, w + static_cast<size_t>(n) * static_cast<size_t>(k)) {}

  size_t bytes() const override { return w_.size() * sizeof(float); }
  const char* variant(Isa) const override { return "reference"; }

  void linear(const float* x, size_t m, size_t ldx, float* out, size_t ldo, const float* bias, Activation act,
              const OpEnv& env) const override {
    const size_t N = static_cast<size_t>(n()), K = static_cast<size_t>(k());
    env.pool->parallel_for(N, 16, [&](size_t s, size_t e) {
      for (size_t i = 0; i < m; ++i)
        for (size_t j = s; j < e; ++j) {
          double acc = bias ? bias[j] : 0.0;
          const float* wr = w_.data() + j * K;
          const float* xr = x + i * ldx;
          for (size_t p = 0; p < K; ++p) acc += static_cast<double>(xr[p]) * wr[p];
          out[i * ldo + j] = static_cast<float>(acc);
        }
    });
    for (size_t i = 0; i < m; ++i) apply_activation(out + i * ldo, N, act, env.isa);
  }

 private:
  std::vector<float> w_;  // (N, K) f32
};

}  // namespace

// Shared with weights/f32.cc, which picks this layout when asked for 'reference'.
std::unique_ptr<PackedWeight> make_f32_reference_weight(int64_t n, int64_t k, const float* w) {
  return std::make_unique<F32ReferenceWeight>(n, k, w);
}

}  // namespace attnode
