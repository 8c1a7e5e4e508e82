// Integer kernels for k-quant weights (Q2_K..Q6_K), IQ4_XS, the legacy Q4_0 / Q4_1 / Q5_0 / Q5_1 and IQ4_NL in `linear`: the column-panel
// layout they read, the pack step from GGUF super-blocks, and one table per instruction set
// (scalar, AVX2, AVX-512 VNNI, NEON dot product; isa/kquant_kernel.inc). Activations are quantized per 256 (q8_K: one f32
// scale per super-block) with per-32 sums for the mins. Not the reference dequantizer (block_formats.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dispatch.h"
#include "quant.h"

namespace attnode {

// Q4_K column panels: 16 output columns per panel (the last padded with zero scales), per
// super-block of 256 K values:
//   32 chunks of 64 bytes: chunk t holds, for column c, 4 bytes at 4c whose byte b is
//     q[c][8t + b] | q[c][8t + 4 + b] << 4  (so masking gives K 8t..8t+3, shifting 8t+4..8t+7)
//   sc[8][16] u8, m[8][16] u8    6-bit sub-block scales and mins, sub-block j by column
//   d[16] f32, dmin[16] f32      the super-block's f16 scales, widened
constexpr size_t kQ4KPanelCols = 16;
constexpr size_t kQ4KQuantBytes = 32 * 64;
constexpr size_t kQ4KScaleOffset = kQ4KQuantBytes;             // sc
constexpr size_t kQ4KMinOffset = kQ4KScaleOffset + 8 * 16;     // m
constexpr size_t kQ4KDOffset = kQ4KMinOffset + 8 * 16;         // d
constexpr size_t kQ4KDminOffset = kQ4KDOffset + 16 * 4;        // dmin
constexpr size_t kQ4KPanelBlockBytes = kQ4KDminOffset + 16 * 4;  // 2432 (4.75 bits per weight)

// Q6_K column panels: 16 columns, per super-block:
//   32 chunks of 64 bytes of low nibbles, laid out as Q4_K's (chunk t: K 8t..8t+7)
//   16 chunks of 64 bytes of high 2-bit pairs: chunk u, column c, byte b holds the high bits of
//     K 16u + b (bits 0-1), 16u + 4 + b (2-3), 16u + 8 + b (4-5), 16u + 12 + b (6-7)
//   sc[16][16] int8 (sub-block of 16 by column), d[16] f32
// so q = nibble | high << 4 is 0..63 and a value is d * sc * (q - 32).
constexpr size_t kQ6KHighOffset = 32 * 64;
constexpr size_t kQ6KScaleOffset = kQ6KHighOffset + 16 * 64;
constexpr size_t kQ6KDOffset = kQ6KScaleOffset + 16 * 16;
constexpr size_t kQ6KPanelBlockBytes = kQ6KDOffset + 16 * 4;  // 3392 (6.625 bits per weight)

// Q5_K column panels: Q4_K's (quants, sc, m, d, dmin at the same offsets) followed by 8 chunks of
// 64 bytes of fifth bits: chunk u (sub-block u), column c, byte b, bit g is the fifth bit of K
// 32u + 4g + b, so q = nibble | bit << 4 is 0..31.
constexpr size_t kQ5KHighOffset = kQ4KPanelBlockBytes;
constexpr size_t kQ5KPanelBlockBytes = kQ5KHighOffset + 8 * 64;  // 2944 (5.75 bits per weight)

// IQ4_XS column panels: 16 columns, per super-block:
//   32 chunks of 64 bytes of 4-bit codebook indices, laid out as Q4_K's quants (chunk t: K 8t..8t+7)
//   sc[8][16] int8 (ls - 32, sub-block of 32 by column), d[16] f32
// so a value is d * sc * kIq4Codebook[index]; kernels look the index up with a byte shuffle.
constexpr size_t kIQ4XSScaleOffset = 32 * 64;
constexpr size_t kIQ4XSDOffset = kIQ4XSScaleOffset + 8 * 16;
constexpr size_t kIQ4XSPanelBlockBytes = kIQ4XSDOffset + 16 * 4;  // 2240 (4.375 bits per weight)

// Q4_1 / Q5_1 column panels: 16 columns, per block of 32 K values:
//   4 chunks of 64 bytes of nibbles: chunk t, column c, byte b holds q[c][8t + b] | q[c][8t + 4 + b] << 4
//   [Q5_1] 64 bytes of fifth bits: column c, byte b, bit g is the fifth bit of K 4g + b
//   d[16] f16, m[16] f16          the block's scale and min as stored
// so a value is d * q + m. Activations are quantized per 32 (x.group 32, with their sums).
constexpr size_t kQ41DOffset = 4 * 64;
constexpr size_t kQ41MOffset = kQ41DOffset + 16 * 2;
constexpr size_t kQ41PanelBlockBytes = kQ41MOffset + 16 * 2;  // 320 (5 bits per weight, as the file)
constexpr size_t kQ51HighOffset = 4 * 64;
constexpr size_t kQ51DOffset = kQ51HighOffset + 64;
constexpr size_t kQ51MOffset = kQ51DOffset + 16 * 2;
constexpr size_t kQ51PanelBlockBytes = kQ51MOffset + 16 * 2;  // 384 (6 bits per weight, as the file)

// Q4_0 / Q5_0 / IQ4_NL column panels: Q4_1 / Q5_1's without the mins, 16 columns per block of 32:
//   4 chunks of 64 bytes of nibbles (Q4_1's layout; IQ4_NL's are codebook indices)
//   [Q5_0] 64 bytes of fifth bits (Q5_1's layout)
//   d[16] f16                     the block's scale as stored
// so a value is d * (q - 8), d * (q - 16) or d * kIq4Codebook[q]: the file's bytes, rearranged.
constexpr size_t kQ40DOffset = 4 * 64;
constexpr size_t kQ40PanelBlockBytes = kQ40DOffset + 16 * 2;  // 288 (4.5 bits per weight, as the file; IQ4_NL too)
constexpr size_t kQ50HighOffset = 4 * 64;
constexpr size_t kQ50DOffset = kQ50HighOffset + 64;
constexpr size_t kQ50PanelBlockBytes = kQ50DOffset + 16 * 2;  // 352 (5.5 bits per weight, as the file)

// Q2_K / Q3_K column panels: 16 columns, per super-block:
//   16 chunks of 64 bytes of 2-bit quants: chunk u (sub-block of 16), column c, byte b holds
//     K 16u + b (bits 0-1), 16u + 4 + b (2-3), 16u + 8 + b (4-5), 16u + 12 + b (6-7)
//   [Q3_K] 8 chunks of 64 bytes of high bits: chunk w, column c, byte b, bit g is the high bit
//     of K 32w + 4g + b, so q = low | high << 2 is 0..7 and a value is d * sc * (q - 4)
//   Q2_K: sc[16][16] u8, m[16][16] u8, d[16] f32, dmin[16] f32; value d * sc * q - dmin * m
//   Q3_K: sc[16][16] int8 (-32..31), d[16] f32
constexpr size_t kQ2KScaleOffset = 16 * 64;
constexpr size_t kQ2KMinOffset = kQ2KScaleOffset + 16 * 16;
constexpr size_t kQ2KDOffset = kQ2KMinOffset + 16 * 16;
constexpr size_t kQ2KDminOffset = kQ2KDOffset + 16 * 4;
constexpr size_t kQ2KPanelBlockBytes = kQ2KDminOffset + 16 * 4;  // 1664 (3.25 bits per weight)
constexpr size_t kQ3KHighOffset = 16 * 64;
constexpr size_t kQ3KScaleOffset = kQ3KHighOffset + 8 * 64;
constexpr size_t kQ3KDOffset = kQ3KScaleOffset + 16 * 16;
constexpr size_t kQ3KPanelBlockBytes = kQ3KDOffset + 16 * 4;  // 1856 (3.625 bits per weight)

struct Q4KWeights {
  const uint8_t* p;  // (ceil(N / 16), K / 256) panel blocks, see above
  size_t n, k;
};

// Activations for k-quant kernels: x.q / x.scales from quantize_rows with group 256, and sums of
// their quants (kquant_row_sums).   bsums, offs6: (M, K / 16), pairs32: (M, K / 32)
struct KQuantRows {
  QuantizedRows x;
  const int32_t* bsums;    // sum of each 16 quants
  const int32_t* pairs32;  // sum of each 32 quants as the 16-bit pair (sum, 0)
  const int32_t* offs6;    // per 16 quants, the 16-bit pair (32 * sum at 0,1,4,5,8,9,12,13; 32 * sum at the rest)
};

// The sums above for one row of K quants (K a multiple of 32). pairs32 and offs6 serve the tiles
// that add byte products in 16-bit pairs (isa/kquant_tiles_pairs.inc): a vpmaddubsw lane of a
// 4-byte group holds bytes 0,1 or 2,3 of it, and Q6_K's offset of 32 comes off there.
//   q: (K) s8 -> bsums, offs6: (K / 16), pairs32: (K / 32)
void kquant_row_sums(const int8_t* q, size_t k, int32_t* bsums, int32_t* pairs32, int32_t* offs6);

struct KQuantKernels {
  const char* variant;
  // out[i * ldo + j] = sum_s xs[i, s] * (d[j, s] * sum_b sc[j, s, b] * dot(q[j, s, b], xq[i, s, b])
  //                    - dmin[j, s] * sum_b m[j, s, b] * bsum[i, s, b])   for j in [n0, n1), n0 % 16 == 0.
  void (*gemm_q4_k)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // out[i * ldo + j] = sum_s xs[i, s] * d[j, s] * sum_b sc[j, s, b] * (dot(q[j, s, b], xq[i, s, b]) - 32 * bsum[i, s, b])
  // (sub-blocks of 16; w.p holds Q6_K panels).
  void (*gemm_q6_k)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // As gemm_q4_k with q = nibble | fifth bit << 4 (w.p holds Q5_K panels).
  void (*gemm_q5_k)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // out[i * ldo + j] = sum_s xs[i, s] * d[j, s] * sum_b sc[j, s, b] * dot(kIq4Codebook[idx[j, s, b]], xq[i, s, b])
  // (sub-blocks of 32; w.p holds IQ4_XS panels).
  void (*gemm_iq4_xs)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // out[i * ldo + j] = sum_b xs[i, b] * (d[j, b] * dot(q[j, b], xq[i, b]) + m[j, b] * sum(xq[i, b]))
  // over blocks b of 32 (x.group 32, x.sums; bsums unused; w.p holds Q4_1 / Q5_1 panels).
  void (*gemm_q4_1)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  void (*gemm_q5_1)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // As gemm_q4_k over 16 sub-blocks of 16 (w.p holds Q2_K panels).
  void (*gemm_q2_k)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // As gemm_q6_k with q = low | high << 2 and an offset of 4 (w.p holds Q3_K panels).
  void (*gemm_q3_k)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // out[i * ldo + j] = sum_b xs[i, b] * d[j, b] * (dot(q[j, b], xq[i, b]) - o * sum(xq[i, b])) over blocks of
  // 32 (x.group 32, x.sums), o = 8 (Q4_0), 16 (Q5_0); IQ4_NL: q the codebook levels, o = 0.
  void (*gemm_q4_0)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  void (*gemm_q5_0)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  void (*gemm_iq4_nl)(const Q4KWeights& w, const KQuantRows& x, size_t n0, size_t n1, float* out, size_t ldo);
  // One activation row as Q8_K super-blocks, bit for bit quant_format.h's quantize_row_q8_k.
  //   x: (K) f32, K a multiple of 256 -> q: (K) s8, scales, sums: (K / 256)
  void (*quantize_row_q8_k)(const float* x, size_t k, int8_t* q, float* scales, int32_t* sums);
};

const KQuantKernels& kquant_kernels(Isa isa);

extern const KQuantKernels kKQuantScalar;
#if ATTNODE_X86
// The AVX2 Q8_K quantizer, which the AVX-512 table shares (isa/avx2/kquant.cc).
void quantize_row_q8_k_avx2(const float* x, size_t k, int8_t* q, float* scales, int32_t* sums);
extern const KQuantKernels kKQuantAvx2;
extern const KQuantKernels kKQuantAvx512;
#endif
#if ATTNODE_ARM64
extern const KQuantKernels kKQuantNeonDot;
#endif

// Panels [p0, p1) of GGUF Q4_K super-blocks into `out`.   blocks: (N, K / 256) -> out: panel blocks
void pack_q4_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
// The same for GGUF Q5_K and Q6_K super-blocks into their panels.
void pack_q5_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
void pack_q6_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
// GGUF Q4_1 / Q5_1 blocks into their panels.   blocks: (N, K / 32) -> out: panel blocks
void pack_q4_1_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
void pack_q5_1_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
// GGUF Q4_0 / Q5_0 / IQ4_NL blocks into their panels.   blocks: (N, K / 32) -> out: panel blocks
void pack_q4_0_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
void pack_q5_0_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
void pack_iq4_nl_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
void pack_q2_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
void pack_q3_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);
void pack_iq4_xs_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out);

}  // namespace attnode
