// The dispatch tables: one struct of function pointers per op family, one instance per
// instruction set, chosen once per addon instance from cpuid (or forced by setIsa for tests).
#pragma once

#include <cstddef>
#include <cstdint>

namespace attnode {

// Element-wise and row-wise f32 kernels. Every pointer is required (the scalar table is the
// reference, the others are judged against it). Output may alias input where noted.
struct ElementwiseKernels {
  const char* variant;
  // out[i] = a[i] + b[i]; out may alias a or b.  a, b, out: (n) f32
  void (*add_f32)(const float* a, const float* b, float* out, size_t n);
  // out[i] = a[i] * b[i]; out may alias a or b.
  void (*mul_f32)(const float* a, const float* b, float* out, size_t n);
  // out[i] = x[i] * s; out may alias x.
  void (*scale_f32)(const float* x, float s, float* out, size_t n);
  // GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  void (*gelu_tanh_f32)(const float* x, float* out, size_t n);
  // GELU, exact: 0.5 x (1 + erf(x / sqrt(2))).
  void (*gelu_erf_f32)(const float* x, float* out, size_t n);
  // SiLU: x * sigmoid(x).
  void (*silu_f32)(const float* x, float* out, size_t n);
  // Numerically stable softmax of one row; a row of all -inf gives zeros.  x, out: (n) f32
  void (*softmax_row_f32)(const float* x, float* out, size_t n);
  // LayerNorm of one row (biased variance, as PyTorch). bias may be null.  w, b: (n) f32
  void (*layernorm_row_f32)(const float* x, const float* w, const float* b, float eps, float* out, size_t n);
  // RMSNorm of one row: x / sqrt(mean(x^2) + eps) * w.
  void (*rmsnorm_row_f32)(const float* x, const float* w, float eps, float* out, size_t n);
};

// One table per family; later families (gemm, attention, quant, ...) add their own member.
struct KernelSet {
  const char* isa;
  const ElementwiseKernels* elementwise;
};

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  bool neon = false, neon_dotprod = false;
};

const CpuFeatures& cpu_features();

// The best kernel set this CPU runs, or the one named ("avx512", "avx2", "neon", "scalar");
// null when that set was not compiled in or this CPU cannot run it.
const KernelSet* best_kernel_set();
const KernelSet* kernel_set_by_name(const char* name);
// Names of the sets this build and CPU can run, best first, null-terminated.
const char* const* available_kernel_sets();

// Per-ISA tables, defined in isa/<name>/ (only those compiled for this architecture exist).
extern const KernelSet kKernelsScalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const KernelSet kKernelsAvx2;
extern const KernelSet kKernelsAvx512;
#endif
#if defined(__aarch64__)
extern const KernelSet kKernelsNeon;
#endif

}  // namespace attnode
