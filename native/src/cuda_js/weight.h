// Weights of `linear` on the CUDA device: W (N, K) uploaded once at load in the layout the
// kernels read (cuda/kernels.h), behind a JS handle (WeightHandle's twin, CudaWeightHandle).
// f32, f16, bf16, q8_0 (split into quants and scales), q4_k and q6_k (GGUF blocks as stored) run
// their own kernels; every other format (legacy 4/5-bit, q2_k, q3_k, q5_k, iq4_*, per-row i8) is
// dequantized on the host by the format table's reference and held as f32, so it computes the
// same values as the CPU's reference at four bytes a weight. Not the kernels.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "context.h"
#include "cuda/kernels.h"
#include "dtype.h"

namespace attnode::cuda_js {

// Scratch a linear needs for M rows (device memory the caller lends for one launch sequence).
struct LinearScratch {
  size_t halves = 0;   // f16/bf16 GEMM: M * K activations rounded to the weight's half type
  size_t quants = 0;   // q8_0: M * K int8 activations
  size_t scales = 0;   // q8_0: M * K / 32 f32 scales
};

class DeviceWeight {
 public:
  enum class Kind { f32, half, q8_0, q4_k, q6_k };

  DType dtype;  // the format it was given in
  Kind kind;
  cuda::Half half = cuda::Half::f16;
  size_t n = 0, k = 0;
  DeviceBytesRef w;  // f32 (N, K) | halves (N, K) | q8_0 quants (N, K) s8 | k-quant blocks
  DeviceBytesRef d;  // q8_0 scales (N, K / 32) f16 bits

  size_t bytes() const { return (w ? w->bytes : 0) + (d ? d->bytes : 0); }
  const char* variant() const;
  LinearScratch scratch(size_t m) const;
  // c(M, N) = x(M, K) . W^T + bias on stream s; scratch as scratch(m) asked for (null where 0).
  void linear(const float* x, size_t m, float* c, const float* bias, uint16_t* halves, int8_t* quants, float* scales,
              cudaStream_t s) const;
};

// cudaPackWeight({ weight: { dtype, shape, data } (N, K), scales?: (N) f32 for i8 }) -> a
// CudaWeightHandle: as the CPU's packWeight (addon.cc), read from host memory (mapped or not).
Napi::Value pack_weight(const Napi::CallbackInfo& info, Napi::FunctionReference& ctor);
Napi::Function define_weight_handle(Napi::Env env);
// The weight behind a handle; a TypeError naming `what` for anything else or a disposed one.
std::shared_ptr<const DeviceWeight> unwrap_weight(Napi::Env env, Napi::Value v, Napi::FunctionReference& ctor,
                                                  const std::string& what);
// This environment's weight-handle constructor (addon_cuda.cc).
Napi::FunctionReference& cuda_weight_ctor(Napi::Env env);

}  // namespace attnode::cuda_js
