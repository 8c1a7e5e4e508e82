// Geometry and scalar reference dequantizers of GGUF's legacy (Q4_0, Q4_1, Q5_0, Q5_1),
// k-quant (Q2_K..Q6_K) and IQ4 (IQ4_NL, IQ4_XS) blocks, bit-compatible with ggml's block structs (ggml-common.h). Not the kernels.
//
// Each dequantizer turns n values (n a multiple of its block size) of little-endian blocks into
// f32, evaluating in f32 in the order written in block_formats.cc, which ts/tensor/legacy-quants.ts
// and ts/tensor/kquants.ts follow step for step so the two agree bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attnode {

constexpr size_t kLegacyBlock = 32;   // QK4_0 = QK4_1 = QK5_0 = QK5_1
constexpr size_t kSuperBlock = 256;   // QK_K

// Bytes per block (ggml-common.h): f16 fields are 2 bytes, little-endian.
constexpr size_t kQ4_0Bytes = 2 + 16;            // d, qs[16]
constexpr size_t kQ4_1Bytes = 2 + 2 + 16;        // d, m, qs[16]
constexpr size_t kQ5_0Bytes = 2 + 4 + 16;        // d, qh[4], qs[16]
constexpr size_t kQ5_1Bytes = 2 + 2 + 4 + 16;    // d, m, qh[4], qs[16]
constexpr size_t kQ2_KBytes = 16 + 64 + 2 + 2;   // scales[16], qs[64], d, dmin
constexpr size_t kQ3_KBytes = 32 + 64 + 12 + 2;  // hmask[32], qs[64], scales[12], d
constexpr size_t kQ4_KBytes = 2 + 2 + 12 + 128;  // d, dmin, scales[12], qs[128]
constexpr size_t kQ5_KBytes = 2 + 2 + 12 + 32 + 128;  // d, dmin, scales[12], qh[32], qs[128]
constexpr size_t kQ6_KBytes = 128 + 64 + 16 + 2;      // ql[128], qh[64], scales[16] (int8), d
constexpr size_t kIQ4_NLBytes = 2 + 16;               // d, qs[16]
constexpr size_t kIQ4_XSBytes = 2 + 2 + 4 + 128;      // d, scales_h, scales_l[4], qs[128]

// ggml's kvalues_iq4nl: the int8 level of each 4-bit index of IQ4_NL / IQ4_XS, ascending.
inline constexpr int8_t kIq4Codebook[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

//   src: (n / block) blocks -> y: (n) f32
void dequantize_row_q4_0(const uint8_t* src, size_t n, float* y);
void dequantize_row_q4_1(const uint8_t* src, size_t n, float* y);
void dequantize_row_q5_0(const uint8_t* src, size_t n, float* y);
void dequantize_row_q5_1(const uint8_t* src, size_t n, float* y);
void dequantize_row_q2_k(const uint8_t* src, size_t n, float* y);
void dequantize_row_q3_k(const uint8_t* src, size_t n, float* y);
void dequantize_row_q4_k(const uint8_t* src, size_t n, float* y);
void dequantize_row_q5_k(const uint8_t* src, size_t n, float* y);
void dequantize_row_q6_k(const uint8_t* src, size_t n, float* y);
void dequantize_row_iq4_nl(const uint8_t* src, size_t n, float* y);
void dequantize_row_iq4_xs(const uint8_t* src, size_t n, float* y);

// The 6-bit scale (0..63, the multiplier is ls - 32) of sub-block ib (0..7) of an IQ4_XS block:
// the low 4 bits from nibble ib of scales_l, the high 2 from bits 2ib, 2ib + 1 of scales_h.
inline int iq4_xs_scale(const uint8_t* blk, size_t ib) {
  const int scales_h = blk[2] | (blk[3] << 8);
  return ((blk[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block (ggml's
// get_scale_min_k4): scales[12] packs 8 scales and 8 mins.
inline void kquant_scale_min(const uint8_t* scales, size_t j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// The 6-bit scale (0..63, stored with an offset of 32) of sub-block j (0..15) of a Q3_K super-block.
inline int q3_k_scale(const uint8_t* scales, size_t j) {
  const int lo = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  const int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

}  // namespace attnode
