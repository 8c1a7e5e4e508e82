// Int8 and half-precision weight kernels for `linear`: int8 GEMM/GEMV over quantized activations
// (int32 accumulation, scales in the epilogue) and f16/bf16 GEMM converting weights in
// registers. One table per instruction set (isa/<name>/quant*.cc); the scalar table is the
// reference. Bias and activation are applied by the weight formats (weights/*.cc), not here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dispatch.h"

namespace attnode {

// Activations quantized on the fly (quant_format.h: quantize_activations).
struct QuantizedRows {
  const int8_t* q;       // (M, K) s8
  const float* scales;   // (M, K / group) f32
  size_t m, k, group;    // group: 32 for q8_0 weights, K for per-row int8 weights
};

// q8_0 weights split into quants and scales so each row's quants are contiguous.
struct Q8_0Weights {
  const int8_t* q;     // (N, K) s8
  const uint16_t* d;   // (N, K / 32) f16
  size_t n, k;
};

// Per-output-channel int8 weights.
struct I8Weights {
  const int8_t* q;       // (N, K) s8
  const float* scales;   // (N) f32
  const int32_t* sums;   // (N) sum of each row's quants (for the unsigned-activation trick)
  size_t n, k;
};

struct QuantKernels {
  const char* variant;
  // out[i * ldo + j] = sum_b f16(d[j, b]) * xs[i, b] * dot(q[j, b], xq[i, b]) for i < M,
  // j in [n0, n1).  x.group must be 32.  out: (M, ldo) f32
  void (*gemm_q8_0)(const Q8_0Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // out[i * ldo + j] = scales[j] * xs[i] * dot(q[j], xq[i]).  x.group must be K.
  void (*gemm_i8)(const I8Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // out[i * ldo + j] = dot(f32(w[j]), x[i]) with w: (N, K) f16 bits, x: (M, K) f32 rows ldx apart.
  void (*gemm_f16)(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                   float* out, size_t ldo);
  // The same with w: (N, K) bf16 bits.
  void (*gemm_bf16)(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                    float* out, size_t ldo);
};

const QuantKernels& quant_kernels(Isa isa);

extern const QuantKernels kQuantScalar;
#if ATTNODE_X86
extern const QuantKernels kQuantAvx2;
extern const QuantKernels kQuantAvx512;
#endif

}  // namespace attnode
