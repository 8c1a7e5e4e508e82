// linear: out(M, N) = act(x(M, K) . W^T + bias) for a packed weight of any format.
#include "../weights.h"

namespace attnode {
namespace {

// x: (..., K) f32, weight: handle of W (N, K), bias: (N) f32 optional -> out: (..., N) f32.
OpRun prepare_linear(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  std::shared_ptr<const PackedWeight> w = unwrap_weight(args, "weight");
  const TensorView bias = args.optional_tensor("bias", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  const Activation act = read_activation(args, "activation");
  args.expect_rank_at_least("x", x, 1);
  if (x.dim(-1) != w->k())
    args.range_error("'x' has " + std::to_string(x.dim(-1)) + " features in its last dimension but 'weight' expects " +
                     std::to_string(w->k()));
  if (bias.present) args.expect_shape("bias", bias, {w->n()});
  std::vector<int64_t> want = x.shape;
  want.back() = w->n();
  args.expect_shape("out", out, want);
  args.expect_no_partial_overlap("out", out, "x", x);
  const size_t K = static_cast<size_t>(w->k()), N = static_cast<size_t>(w->n());
  const size_t M = K ? x.numel / K : (N ? out.numel / N : 0);
  const float* px = x.as<float>();
  const float* pb = bias.present ? bias.as<float>() : nullptr;
  float* po = out.as<float>();
  if (px == po && x.numel > 0) args.range_error("'out' may not alias 'x'");
  return [=](const OpEnv& env) {
    if (M == 0 || N == 0) return;
    w->linear(px, M, K, po, N, pb, act, env);
  };
}

const OpRegistrar kLinear("linear", prepare_linear);

}  // namespace
}  // namespace attnode
