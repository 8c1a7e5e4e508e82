// matmul: C = alpha * A . op(B) + beta * C in f32, plain or batched. Argument checks here; the
// GEMM (cpu/gemm.h) packs B chunk by chunk inside its blocked loop. Strided views arrive
// contiguous: the TypeScript native backend copies them before the call.
#include "../common.h"
#include "../cpu/gemm.h"
#include "../op.h"

namespace attnode {
namespace {

// a: (M, K) | (B, M, K) f32; b: (K, N) | (B, K, N), or with transB (N, K) | (B, N, K);
// out: (M, N) | (B, M, N) f32, read as C when beta != 0.
OpRun prepare_matmul(Args& args) {
  const TensorView a = args.tensor("a", {DType::f32});
  const TensorView b = args.tensor("b", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  const bool trans_b = args.boolean("transB", false);
  const float alpha = static_cast<float>(args.number("alpha", 1.0, -3.4e38, 3.4e38));
  const float beta = static_cast<float>(args.number("beta", 0.0, -3.4e38, 3.4e38));
  if (a.rank() != 2 && a.rank() != 3)
    args.range_error("'a' must have shape [M, K] or [batch, M, K], got " + a.shape_str());
  if (b.rank() != 2 && b.rank() != 3)
    args.range_error(std::string("'b' must have shape ") + (trans_b ? "[N, K] or [batch, N, K]" : "[K, N] or [batch, K, N]") +
                     ", got " + b.shape_str());
  const bool batched_a = a.rank() == 3, batched_b = b.rank() == 3;
  const int64_t m = a.dim(-2), k = a.dim(-1);
  const int64_t bk = trans_b ? b.dim(-1) : b.dim(-2);
  const int64_t n = trans_b ? b.dim(-2) : b.dim(-1);
  if (bk != k)
    args.range_error("'a' has K = " + std::to_string(k) + " but 'b' " + b.shape_str() +
                     (trans_b ? " (transB: [N, K])" : " ([K, N])") + " has K = " + std::to_string(bk));
  if (batched_a && batched_b && a.dim(0) != b.dim(0))
    args.range_error("'a' has batch " + std::to_string(a.dim(0)) + " but 'b' has batch " + std::to_string(b.dim(0)));
  const int64_t batch = batched_a ? a.dim(0) : (batched_b ? b.dim(0) : 1);
  if (batched_a || batched_b)
    args.expect_shape("out", out, {batch, m, n});
  else
    args.expect_shape("out", out, {m, n});
  args.expect_no_partial_overlap("out", out, "a", a);
  args.expect_no_partial_overlap("out", out, "b", b);
  if ((out.data == a.data && a.nbytes > 0) || (out.data == b.data && b.nbytes > 0))
    args.range_error("'out' may not alias 'a' or 'b'");

  const size_t M = static_cast<size_t>(m), K = static_cast<size_t>(k), N = static_cast<size_t>(n);
  const size_t B = static_cast<size_t>(batch);
  const float* pa = a.as<float>();
  const float* pb = b.as<float>();
  float* pc = out.as<float>();
  return [=](const OpEnv& env) {
    if (B == 0 || M == 0 || N == 0) return;
    for (size_t i = 0; i < B; ++i) {
      GemmArgs g;
      g.m = M;
      g.n = N;
      g.k = K;
      g.a = pa + (batched_a ? i * M * K : 0);
      g.lda = K;
      // B is packed inside the blocked loop, a cache-sized chunk at a time.
      g.b = pb + (batched_b ? i * K * N : 0);
      g.ldb = trans_b ? K : N;
      g.trans_b = trans_b;
      g.c = pc + i * M * N;
      g.ldc = N;
      g.alpha = alpha;
      g.beta = beta;
      gemm_f32(g, env.isa, env.pool);
    }
  };
}

const OpRegistrar kMatmul("matmul", prepare_matmul);

}  // namespace
}  // namespace attnode
