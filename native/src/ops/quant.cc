// quantize / dequantize / rowScales: the int8 formats as ops, bit-exact with ts/tensor/q8.ts and
// ts/tensor/i8.ts. Malformed input (non-finite values or scales) is rejected before any work.
#include <cmath>

#include "../cpu/quant_format.h"
#include "../op.h"

namespace attnode {
namespace {

size_t rows_of(const TensorView& t) { return t.shape.empty() || t.dim(-1) == 0 ? 0 : t.numel / static_cast<size_t>(t.dim(-1)); }

std::vector<int64_t> leading(const TensorView& t) {
  return std::vector<int64_t>(t.shape.begin(), t.shape.empty() ? t.shape.end() : t.shape.end() - 1);
}

// Every value of an f32 tensor finite, else a RangeError naming it and the first bad index.
void expect_finite(Args& args, const char* name, const TensorView& t, const char* why) {
  const float* v = t.as<float>();
  for (size_t i = 0; i < t.numel; ++i)
    if (!std::isfinite(v[i]))
      args.range_error(std::string("'") + name + "' holds a non-finite value at flat index " + std::to_string(i) + "; " + why);
}

void expect_q8_0_scales(Args& args, const char* name, const TensorView& t) {
  const size_t blocks = t.numel / kQ8BlockSize;
  const size_t bad = q8_0_first_bad_scale(t.as<uint8_t>(), blocks);
  if (bad < blocks)
    args.range_error(std::string("'") + name + "' (q8_0) block " + std::to_string(bad) + " has a non-finite scale");
}

// x: (..., K) f32 -> out: (..., K) q8_0 (K % 32 == 0), or with scales: (...) f32 -> out: (..., K) i8.
OpRun prepare_quantize(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView out = args.tensor("out", {DType::q8_0, DType::i8});
  args.expect_rank_at_least("x", x, 1);
  args.expect_shape("out", out, x.shape);
  const float* px = x.as<float>();
  const size_t K = static_cast<size_t>(x.dim(-1)), rows = rows_of(x);
  if (out.dtype == DType::q8_0) {
    expect_finite(args, "x", x, "q8_0 cannot represent it");
    for (size_t b = 0; b < x.numel / kQ8BlockSize; ++b)
      if ((f32_to_f16(int8_scale(absmax(px + b * kQ8BlockSize, kQ8BlockSize))) & 0x7c00u) == 0x7c00u)
        args.range_error("'x' block " + std::to_string(b) + " has max |x| above 65504 * 127, beyond q8_0's f16 scale");
    auto* po = out.as<uint8_t>();
    return [=](const OpEnv& env) {
      env.pool->parallel_for(rows, 64, [&](size_t s, size_t e) {
        for (size_t i = s; i < e; ++i) quantize_row_q8_0(px + i * K, K, po + i * (K / kQ8BlockSize) * kQ8BlockBytes);
      });
    };
  }
  const TensorView scales = args.tensor("scales", {DType::f32});
  args.expect_shape("scales", scales, leading(x));
  expect_finite(args, "x", x, "int8 cannot represent it");
  expect_finite(args, "scales", scales, "a row scale must be a finite number");
  const float* ps = scales.as<float>();
  auto* po = out.as<int8_t>();
  return [=](const OpEnv& env) {
    env.pool->parallel_for(rows, 64, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) quantize_group(px + i * K, K, ps[i], po + i * K);
    });
  };
}

// x: (..., K) q8_0 -> out f32, or x: (..., K) i8 with scales: (...) f32 -> out: (..., K) f32.
OpRun prepare_dequantize(Args& args) {
  const TensorView x = args.tensor("x", {DType::q8_0, DType::i8});
  const TensorView out = args.tensor("out", {DType::f32});
  args.expect_rank_at_least("x", x, 1);
  args.expect_shape("out", out, x.shape);
  float* po = out.as<float>();
  const size_t K = static_cast<size_t>(x.dim(-1)), rows = rows_of(x);
  if (x.dtype == DType::q8_0) {
    expect_q8_0_scales(args, "x", x);
    const auto* px = x.as<uint8_t>();
    return [=](const OpEnv& env) {
      env.pool->parallel_for(rows, 64, [&](size_t s, size_t e) {
        for (size_t i = s; i < e; ++i) dequantize_row_q8_0(px + i * (K / kQ8BlockSize) * kQ8BlockBytes, K, po + i * K);
      });
    };
  }
  const TensorView scales = args.tensor("scales", {DType::f32});
  args.expect_shape("scales", scales, leading(x));
  expect_finite(args, "scales", scales, "a row scale must be a finite number");
  const auto* px = x.as<int8_t>();
  const float* ps = scales.as<float>();
  return [=](const OpEnv& env) {
    env.pool->parallel_for(rows, 64, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i)
        for (size_t p = 0; p < K; ++p) po[i * K + p] = static_cast<float>(px[i * K + p]) * ps[i];
    });
  };
}

// x: (..., K) f32 -> out: (...) f32, max |x| / 127 per row (the per-output-channel int8 scale);
// NaN for a row holding NaN or Inf.
OpRun prepare_row_scales(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  args.expect_rank_at_least("x", x, 1);
  args.expect_shape("out", out, leading(x));
  const float* px = x.as<float>();
  float* po = out.as<float>();
  const size_t K = static_cast<size_t>(x.dim(-1)), rows = out.numel;
  return [=](const OpEnv& env) {
    env.pool->parallel_for(rows, 64, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) po[i] = int8_scale(absmax(px + i * K, K));
    });
  };
}

const OpRegistrar kQuantize("quantize", prepare_quantize);
const OpRegistrar kDequantize("dequantize", prepare_dequantize);
const OpRegistrar kRowScales("rowScales", prepare_row_scales);

}  // namespace
}  // namespace attnode
