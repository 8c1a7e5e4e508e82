// openblas: runs a system OpenBLAS's cblas_sgemm / cblas_sgemv for side-by-side benchmarks.
// The library is looked up with dlopen at run time, never linked: attnode does not depend on
// it, and a clear error says when it is absent. Native-only; not part of the Backend contract.
#include <mutex>
#include <string>

#include "../op.h"

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define ATTNODE_HAS_DLOPEN 1
#else
#define ATTNODE_HAS_DLOPEN 0
#endif

namespace attnode {
namespace {

// CBLAS enum values, fixed by the CBLAS standard (cblas.h).
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
using SgemvFn = void (*)(int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
using SetThreadsFn = void (*)(int);

struct OpenBlas {
  SgemmFn sgemm = nullptr;
  SgemvFn sgemv = nullptr;
  SetThreadsFn set_threads = nullptr;
  std::string error;
  // One BLAS call at a time: its thread count is process-wide state.
  std::mutex call;
};

OpenBlas& openblas() {
  static OpenBlas lib;
  static std::once_flag once;
  std::call_once(once, [] {
#if ATTNODE_HAS_DLOPEN
    const char* names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas.0.dylib"};
    void* h = nullptr;
    for (const char* n : names)
      if ((h = dlopen(n, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (!h) {
      lib.error = "no system OpenBLAS found (tried libopenblas.so.0, libopenblas.so, libopenblas.dylib)";
      return;
    }
    lib.sgemm = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
    lib.sgemv = reinterpret_cast<SgemvFn>(dlsym(h, "cblas_sgemv"));
    lib.set_threads = reinterpret_cast<SetThreadsFn>(dlsym(h, "openblas_set_num_threads"));
    if (!lib.sgemm || !lib.sgemv) lib.error = "the OpenBLAS found has no cblas_sgemm / cblas_sgemv";
#else
    lib.error = "loading OpenBLAS at run time is not supported on this platform";
#endif
  });
  return lib;
}

// a: (M, K) f32, b: (K, N) f32 or with transB (N, K), out: (M, N) f32; threads: OpenBLAS's own
// thread count. M = 1 with transB runs cblas_sgemv (y = W x, the decode shape).
OpRun prepare_openblas(Args& args) {
  const TensorView a = args.tensor("a", {DType::f32});
  const TensorView b = args.tensor("b", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  const bool trans_b = args.boolean("transB", false);
  const int64_t threads = args.integer("threads", 1, 1, 1024);
  if (a.rank() != 2) args.range_error("'a' must have shape [M, K], got " + a.shape_str());
  if (b.rank() != 2) args.range_error("'b' must have rank 2, got " + b.shape_str());
  const int64_t m = a.dim(0), k = a.dim(1);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  if ((trans_b ? b.dim(1) : b.dim(0)) != k) args.range_error("'b' " + b.shape_str() + " does not match K = " + std::to_string(k));
  args.expect_shape("out", out, {m, n});
  constexpr int64_t kIntMax = 2147483647;
  if (m > kIntMax || n > kIntMax || k > kIntMax) args.range_error("dimensions must fit a 32-bit BLAS int");
  OpenBlas& lib = openblas();
  if (!lib.error.empty()) throw Napi::Error::New(args.env(), "openblas: " + lib.error);
  const float* pa = a.as<float>();
  const float* pb = b.as<float>();
  float* pc = out.as<float>();
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k), T = static_cast<int>(threads);
  return [=, &lib](const OpEnv&) {
    if (M == 0 || N == 0) return;
    std::lock_guard<std::mutex> lock(lib.call);
    if (lib.set_threads) lib.set_threads(T);
    if (M == 1 && trans_b)
      lib.sgemv(kRowMajor, kNoTrans, N, K, 1.0f, pb, K, pa, 1, 0.0f, pc, 1);
    else
      lib.sgemm(kRowMajor, kNoTrans, trans_b ? kTrans : kNoTrans, M, N, K, 1.0f, pa, K, pb, trans_b ? K : N, 0.0f, pc, N);
  };
}

const OpRegistrar kOpenBlas("openblas", prepare_openblas);

}  // namespace
}  // namespace attnode
