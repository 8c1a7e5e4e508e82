// Dtype conversion between f32, f16 and bf16 with round-to-nearest-even (half.h), bit-exact
// with ts/tensor/half.ts.
#include "../half.h"
#include "../op.h"

namespace attnode {
namespace {

// x: (...) f32 | f16 | bf16 -> out: (...) f32 | f16 | bf16.
OpRun prepare_cast(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32, DType::f16, DType::bf16});
  const TensorView out = args.tensor("out", {DType::f32, DType::f16, DType::bf16});
  args.expect_shape("out", out, x.shape);
  if (x.dtype != out.dtype) args.expect_no_partial_overlap("out", out, "x", x);
  const DType from = x.dtype, to = out.dtype;
  const void* src = x.data;
  void* dst = out.data;
  const size_t n = x.numel;
  return [=](const OpEnv& env) {
    env.pool->parallel_for(n, 65536, [&](size_t s, size_t e) {
      for (size_t i = s; i < e; ++i) {
        float v;
        if (from == DType::f32) v = static_cast<const float*>(src)[i];
        else if (from == DType::f16) v = f16_to_f32(static_cast<const uint16_t*>(src)[i]);
        else v = bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
        if (to == DType::f32) static_cast<float*>(dst)[i] = v;
        else if (to == DType::f16) static_cast<uint16_t*>(dst)[i] = f32_to_f16(v);
        else static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v);
      }
    });
  };
}

const OpRegistrar kCast("cast", prepare_cast);

}  // namespace
}  // namespace attnode

namespace attnode {
namespace {
const KernelFamilyRegistrar kCastFamily("cast", [](Isa) { return "generic"; });
}  // namespace
}  // namespace attnode
