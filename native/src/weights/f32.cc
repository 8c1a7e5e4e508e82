// The f32 weight format. Until the packed GEMM lands this uses the reference layout; the
// 'layout' option ('packed' | 'reference') lets tests pin the reference explicitly.
#include "../weights.h"

namespace attnode {

std::unique_ptr<PackedWeight> make_f32_reference_weight(int64_t n, int64_t k, const float* w);

namespace {

std::unique_ptr<PackedWeight> make_f32_weight(Args& args, const TensorView& w) {
  const std::string layout = args.choice("layout", "packed", {"packed", "reference"});
  (void)layout;
  return make_f32_reference_weight(w.dim(0), w.dim(1), w.as<float>());
}

const WeightFormatRegistrar kF32(DType::f32, make_f32_weight);

}  // namespace
}  // namespace attnode
