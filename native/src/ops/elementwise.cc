// Element-wise and row-wise ops: add, mul, scale, gelu, silu, softmax, layerNorm, rmsNorm.
// Argument checks here; arithmetic in the dispatch table (cpu/isa/*).
#include <cmath>

#include "../cpu/elementwise.h"
#include "../op.h"

namespace attnode {
namespace {

constexpr size_t kElementGrain = 16384;  // elements per task: below this, threads cost more than they give

bool is_suffix(const std::vector<int64_t>& suffix, const std::vector<int64_t>& shape) {
  if (suffix.size() > shape.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (suffix[suffix.size() - 1 - i] != shape[shape.size() - 1 - i]) return false;
  return true;
}

// a: (..., S) f32, b: (S) f32 (any suffix of a's shape, broadcast over the leading dims).
template <bool kMul>
OpRun prepare_binary(Args& args) {
  const TensorView a = args.tensor("a", {DType::f32});
  const TensorView b = args.tensor("b", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  if (!is_suffix(b.shape, a.shape))
    args.range_error("'b' shape " + b.shape_str() + " must equal 'a' shape " + a.shape_str() +
                     " or a suffix of it (broadcast over leading dimensions)");
  args.expect_shape("out", out, a.shape);
  args.expect_no_partial_overlap("out", out, "a", a);
  args.expect_no_partial_overlap("out", out, "b", b);
  const float* pa = a.as<float>();
  const float* pb = b.as<float>();
  float* po = out.as<float>();
  const size_t n = a.numel, inner = b.numel;
  return [=](const OpEnv& env) {
    if (n == 0) return;
    auto fn = kMul ? elementwise_kernels(env.isa).mul_f32 : elementwise_kernels(env.isa).add_f32;
    if (inner == n) {
      env.pool->parallel_for(n, kElementGrain, [&](size_t s, size_t e) { fn(pa + s, pb + s, po + s, e - s); });
      return;
    }
    const size_t rows = n / inner;
    const size_t grain = std::max<size_t>(1, kElementGrain / inner);
    env.pool->parallel_for(rows, grain, [&](size_t s, size_t e) {
      for (size_t r = s; r < e; ++r) fn(pa + r * inner, pb, po + r * inner, inner);
    });
  };
}

// x: (...) f32 -> out: (...) f32, a unary kernel chosen at run time.
using UnaryFn = void (*)(const float*, float*, size_t);
OpRun unary(Args& args, UnaryFn ElementwiseKernels::*member) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  args.expect_shape("out", out, x.shape);
  args.expect_no_partial_overlap("out", out, "x", x);
  const float* px = x.as<float>();
  float* po = out.as<float>();
  const size_t n = x.numel;
  return [=](const OpEnv& env) {
    UnaryFn fn = elementwise_kernels(env.isa).*member;
    env.pool->parallel_for(n, kElementGrain, [&](size_t s, size_t e) { fn(px + s, po + s, e - s); });
  };
}

OpRun prepare_scale(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  const float s = static_cast<float>(args.number("s", 1.0, -3.4e38, 3.4e38));
  args.expect_shape("out", out, x.shape);
  args.expect_no_partial_overlap("out", out, "x", x);
  const float* px = x.as<float>();
  float* po = out.as<float>();
  const size_t n = x.numel;
  return [=](const OpEnv& env) {
    auto fn = elementwise_kernels(env.isa).scale_f32;
    env.pool->parallel_for(n, kElementGrain, [&](size_t b, size_t e) { fn(px + b, s, po + b, e - b); });
  };
}

OpRun prepare_gelu(Args& args) {
  const std::string approx = args.choice("approximate", "none", {"none", "tanh"});
  return unary(args, approx == "tanh" ? &ElementwiseKernels::gelu_tanh_f32 : &ElementwiseKernels::gelu_erf_f32);
}

OpRun prepare_silu(Args& args) { return unary(args, &ElementwiseKernels::silu_f32); }

// Row ops share the split: rows of the last dimension, several rows per task.
struct Rows {
  size_t rows, cols;
};

Rows row_split(Args& args, const TensorView& x) {
  args.expect_rank_at_least("x", x, 1);
  const size_t cols = static_cast<size_t>(x.dim(-1));
  return {cols ? x.numel / cols : 0, cols};
}

OpRun prepare_softmax(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  args.expect_shape("out", out, x.shape);
  args.expect_no_partial_overlap("out", out, "x", x);
  const Rows r = row_split(args, x);
  const float* px = x.as<float>();
  float* po = out.as<float>();
  return [=](const OpEnv& env) {
    auto fn = elementwise_kernels(env.isa).softmax_row_f32;
    env.pool->parallel_for(r.rows, std::max<size_t>(1, kElementGrain / (r.cols + 1)), [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) fn(px + i * r.cols, po + i * r.cols, r.cols);
    });
  };
}

// x: (..., C) f32, weight: (C) f32, bias: (C) f32 or absent.
OpRun prepare_layernorm(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView w = args.tensor("weight", {DType::f32});
  const TensorView b = args.optional_tensor("bias", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  const float eps = static_cast<float>(args.number("eps", 1e-5, 0.0, 1.0));
  const Rows r = row_split(args, x);
  args.expect_shape("weight", w, {static_cast<int64_t>(r.cols)});
  if (b.present) args.expect_shape("bias", b, {static_cast<int64_t>(r.cols)});
  args.expect_shape("out", out, x.shape);
  args.expect_no_partial_overlap("out", out, "x", x);
  const float* px = x.as<float>();
  const float* pw = w.as<float>();
  const float* pb = b.present ? b.as<float>() : nullptr;
  float* po = out.as<float>();
  return [=](const OpEnv& env) {
    auto fn = elementwise_kernels(env.isa).layernorm_row_f32;
    env.pool->parallel_for(r.rows, std::max<size_t>(1, kElementGrain / (r.cols + 1)), [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) fn(px + i * r.cols, pw, pb, eps, po + i * r.cols, r.cols);
    });
  };
}

OpRun prepare_rmsnorm(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView w = args.tensor("weight", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  const float eps = static_cast<float>(args.number("eps", 1e-6, 0.0, 1.0));
  const Rows r = row_split(args, x);
  args.expect_shape("weight", w, {static_cast<int64_t>(r.cols)});
  args.expect_shape("out", out, x.shape);
  args.expect_no_partial_overlap("out", out, "x", x);
  const float* px = x.as<float>();
  const float* pw = w.as<float>();
  float* po = out.as<float>();
  return [=](const OpEnv& env) {
    auto fn = elementwise_kernels(env.isa).rmsnorm_row_f32;
    env.pool->parallel_for(r.rows, std::max<size_t>(1, kElementGrain / (r.cols + 1)), [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) fn(px + i * r.cols, pw, eps, po + i * r.cols, r.cols);
    });
  };
}

const OpRegistrar kAdd("add", prepare_binary<false>);
const OpRegistrar kMul("mul", prepare_binary<true>);
const OpRegistrar kScale("scale", prepare_scale);
const OpRegistrar kGelu("gelu", prepare_gelu);
const OpRegistrar kSilu("silu", prepare_silu);
const OpRegistrar kSoftmax("softmax", prepare_softmax);
const OpRegistrar kLayerNorm("layerNorm", prepare_layernorm);
const OpRegistrar kRmsNorm("rmsNorm", prepare_rmsnorm);

}  // namespace
}  // namespace attnode
