// Int8 and half-precision weight kernels for `linear`: int8 GEMM/GEMV over quantized activations
// (int32 accumulation, scales in f32 per block or per row) and f16/bf16 GEMM converting weights
// in registers, with the panel layouts they read. One table per instruction set
// (isa/<name>/quant.cc, most of them from isa/quant_kernel.inc); the scalar table is the
// reference. Bias and activation are applied by the weight formats (weights/*.cc), not here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dispatch.h"

namespace attnode {

// Row panels (f16, bf16 and per-row i8 weights): rows in groups of kPanelRows (the last group
// padded), each group stored as 64-byte chunks of its rows in turn (chunk 0 of rows 0..3, chunk 1
// of rows 0..3, ...), so the kernels' tile of 4 rows is one sequential stream that the hardware
// prefetcher follows from DRAM. Rows are padded to whole chunks. Same layout for every
// instruction set.
constexpr size_t kPanelRows = 4;
constexpr size_t kPanelChunkBytes = 64;

inline size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

// Index of element (row j, column p) in a panel array whose rows hold `kp` elements (padded)
// and whose chunks hold `chunk` elements (64 bytes).
inline size_t panel_index(size_t j, size_t p, size_t kp, size_t chunk) {
  return (j / kPanelRows) * kPanelRows * kp + (p / chunk) * kPanelRows * chunk + (j % kPanelRows) * chunk + p % chunk;
}

// Activations quantized on the fly (quant_format.h: quantize_activations), rows ldq apart with
// zeros from K up to ldq (a multiple of 64), so kernels read whole chunks without tails.
struct QuantizedRows {
  const int8_t* q;       // (M, ldq) s8
  const float* scales;   // (M, K / group) f32
  const int32_t* sums;   // (M, K / group) sum of each group's quants
  size_t m, k, ldq, group;  // group: 32 for q8_0 weights, K for per-row int8 weights
};

// Packed int8 weights hold q + 128 as unsigned bytes: vpdpbusd multiplies unsigned by signed
// bytes, so the weights take the unsigned side and the activations keep their sign. The dot
// product is then sum((q + 128) * x) - 128 * sum(x), and sum(x) is per activation group,
// computed once per call instead of once per weight row. Padding bytes meet zero activations.
constexpr uint8_t kWeightOffset = 128;

// q8_0 weights, repacked at pack time for the kernels' register tiles (same 34 bytes per 32
// weights as GGUF's Q8_0 blocks). Columns (output features) in panels of kQ8PanelCols, the last
// one padded with zero weights and zero scales; each panel holds, block by block (32 values of K):
//   8 groups of 4 K values, each (kQ8PanelCols, 4) bytes q + 128: column c's 4 bytes at 4c,
//   then the block's kQ8PanelCols f16 scales.
// So one vector of W int32 lanes takes the 4-byte groups of W adjacent columns, and an int8
// dot-product instruction (vpdpbusd) multiplies them by 4 broadcast activation bytes: columns in
// lanes, no horizontal sums. A panel is one sequential stream of nb * kQ8PanelBlockBytes bytes.
constexpr size_t kQ8PanelCols = 32;
constexpr size_t kQ8GroupBytes = kQ8PanelCols * 4;                             // one group of 4 K values
constexpr size_t kQ8PanelQuantBytes = 8 * kQ8GroupBytes;                       // 1024
constexpr size_t kQ8PanelBlockBytes = kQ8PanelQuantBytes + 2 * kQ8PanelCols;  // 1088

// Byte offset of weight (column j, K index p) and of the f16 scale of (column j, block b) within
// the packed array of a matrix with nb blocks per row.
inline size_t q8_0_panel_quant(size_t j, size_t p, size_t nb) {
  return (j / kQ8PanelCols) * nb * kQ8PanelBlockBytes + (p / 32) * kQ8PanelBlockBytes + (p % 32 / 4) * kQ8GroupBytes +
         (j % kQ8PanelCols) * 4 + p % 4;
}
inline size_t q8_0_panel_scale(size_t j, size_t b, size_t nb) {
  return (j / kQ8PanelCols) * nb * kQ8PanelBlockBytes + b * kQ8PanelBlockBytes + kQ8PanelQuantBytes + 2 * (j % kQ8PanelCols);
}

struct Q8_0Weights {
  const uint8_t* p;  // (ceil(N / 32), K / 32) panel blocks, see above
  size_t n, k;
};

// Per-output-channel int8 weights.
struct I8Weights {
  const uint8_t* q;      // panels of (N, kp) q + 128, kp = K rounded up to 64
  const float* scales;   // (N) f32
  size_t n, k, kp;
};

struct QuantKernels {
  const char* variant;
  // out[i * ldo + j] = sum_b f16(d[j, b]) * xs[i, b] * dot(q[j, b], xq[i, b]) for i < M,
  // j in [n0, n1); n0 a multiple of kQ8PanelCols.  x.group must be 32.  out: (M, ldo) f32
  void (*gemm_q8_0)(const Q8_0Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // out[i * ldo + j] = scales[j] * xs[i] * dot(q[j], xq[i]).  x.group must be K.
  void (*gemm_i8)(const I8Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // out[i * ldo + j] = dot(f32(w[j]), x[i]) with w: panels of (N, kp) f16 bits (kp = K rounded
  // up to 32), x: (M, K) f32 rows ldx apart.
  void (*gemm_f16)(const uint16_t* w, size_t k, size_t kp, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                   float* out, size_t ldo);
  // The same with bf16 bits.
  void (*gemm_bf16)(const uint16_t* w, size_t k, size_t kp, const float* x, size_t m, size_t ldx, size_t n0,
                    size_t n1, float* out, size_t ldo);
  // One activation row quantized in groups of `group` (quant_format.h: quantize_activations,
  // bit for bit): x: (K) f32 -> q: (K) s8, scales, sums: (K / group).
  void (*quantize_row)(const float* x, size_t k, size_t group, int8_t* q, float* scales, int32_t* sums);
  // Benchmarks' ceiling: iters rounds of kQuantPeakChains independent chains of the kernels'
  // int8 dot step (one vpdpbusd, or the AVX2 sequence) on registers only, each doing dot_macs
  // multiply-adds. Returns a value that depends on every round so the loop cannot be dropped.
  int32_t (*dot_peak_loop)(size_t iters);
  size_t dot_macs;
};

constexpr size_t kQuantPeakChains = 12;

const QuantKernels& quant_kernels(Isa isa);

extern const QuantKernels kQuantScalar;
#if ATTNODE_X86
extern const QuantKernels kQuantAvx2;
extern const QuantKernels kQuantAvxVnni;  // the AVX2 Isa on CPUs with AVX-VNNI
extern const QuantKernels kQuantAvx512;
#endif
#if ATTNODE_ARM64
extern const QuantKernels kQuantNeonDot;  // the NEON Isa on CPUs with the dot-product extension
#endif

}  // namespace attnode
