// Scalar reference dequantizers of GGUF's legacy and k-quant blocks (block_formats.h), written
// from the block definitions in ggml-common.h. Kept forever: the kernels are checked against them.
// Built with -ffp-contract=off (CMakeLists.txt): a fused multiply-add would round once where
// ts/tensor/*quants.ts rounds twice.
#include "block_formats.h"

#include <cstring>

#include "../half.h"

namespace attnode {
namespace {

float f16_at(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | (p[1] << 8))); }
uint32_t u32_at(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }

}  // namespace

// Q4_0: value (q - 8) * d; byte j holds q of value j (low nibble) and of value j + 16 (high).
void dequantize_row_q4_0(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kLegacyBlock; ++b, src += kQ4_0Bytes, y += kLegacyBlock) {
    const float d = f16_at(src);
    const uint8_t* qs = src + 2;
    for (size_t j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((qs[j] & 0xF) - 8) * d;
      y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

// Q4_1: value q * d + m.
void dequantize_row_q4_1(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kLegacyBlock; ++b, src += kQ4_1Bytes, y += kLegacyBlock) {
    const float d = f16_at(src), m = f16_at(src + 2);
    const uint8_t* qs = src + 4;
    for (size_t j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(qs[j] & 0xF) * d + m;
      y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

// Q5_0: value (q - 16) * d; bit j of qh (a little-endian u32) is bit 4 of value j's q.
void dequantize_row_q5_0(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kLegacyBlock; ++b, src += kQ5_0Bytes, y += kLegacyBlock) {
    const float d = f16_at(src);
    const uint32_t qh = u32_at(src + 2);
    const uint8_t* qs = src + 6;
    for (size_t j = 0; j < 16; ++j) {
      const int q0 = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      y[j] = static_cast<float>(q0 - 16) * d;
      y[j + 16] = static_cast<float>(q1 - 16) * d;
    }
  }
}

// Q5_1: value q * d + m.
void dequantize_row_q5_1(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kLegacyBlock; ++b, src += kQ5_1Bytes, y += kLegacyBlock) {
    const float d = f16_at(src), m = f16_at(src + 2);
    const uint32_t qh = u32_at(src + 4);
    const uint8_t* qs = src + 8;
    for (size_t j = 0; j < 16; ++j) {
      const int q0 = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      y[j] = static_cast<float>(q0) * d + m;
      y[j + 16] = static_cast<float>(q1) * d + m;
    }
  }
}

// Q2_K: 16 sub-blocks of 16; scales[s] = 4-bit scale | 4-bit min << 4; value (d * sc) * q - dmin * m.
// The 2-bit quants of each half (128 values) sit in 32 bytes: shift 2i of byte l holds value
// 32i + l of that half.
void dequantize_row_q2_k(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kSuperBlock; ++b, src += kQ2_KBytes) {
    const uint8_t* sc = src;
    const uint8_t* q = src + 16;
    const float d = f16_at(src + 80), dmin = f16_at(src + 82);
    size_t s = 0;
    for (size_t half = 0; half < 2; ++half, q += 32)
      for (int shift = 0; shift < 8; shift += 2)
        for (size_t part = 0; part < 2; ++part, ++s) {
          const float dl = d * static_cast<float>(sc[s] & 0xF), ml = dmin * static_cast<float>(sc[s] >> 4);
          for (size_t l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[16 * part + l] >> shift) & 3) - ml;
        }
  }
}

// Q3_K: 16 sub-blocks of 16 with signed 6-bit scales; value (d * sc) * (q - 4 * !hbit), q the low
// 2 bits laid out as Q2_K's, the high bit of value 32i + l of half h in bit (4h + i) of hmask[l].
void dequantize_row_q3_k(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kSuperBlock; ++b, src += kQ3_KBytes) {
    const uint8_t* hm = src;
    const uint8_t* q = src + 32;
    const uint8_t* scales = src + 96;
    const float d = f16_at(src + 108);
    size_t s = 0;
    int bit = 0;
    for (size_t half = 0; half < 2; ++half, q += 32)
      for (int shift = 0; shift < 8; shift += 2, ++bit)
        for (size_t part = 0; part < 2; ++part, ++s) {
          const float dl = d * static_cast<float>(q3_k_scale(scales, s));
          for (size_t l = 0; l < 16; ++l) {
            const size_t i = 16 * part + l;
            const int v = ((q[i] >> shift) & 3) - ((hm[i] >> bit) & 1 ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
  }
}

// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins; value (d * sc) * q - dmin * m. Each 32
// bytes of qs hold two sub-blocks: low nibbles the first, high nibbles the second.
void dequantize_row_q4_k(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kSuperBlock; ++b, src += kQ4_KBytes) {
    const float d = f16_at(src), dmin = f16_at(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* q = src + 16;
    for (size_t j = 0; j < 8; j += 2, q += 32) {
      uint8_t sc, m;
      kquant_scale_min(scales, j, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      kquant_scale_min(scales, j + 1, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (size_t l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (size_t l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// Q5_K: Q4_K plus a fifth bit: bit 2p (first sub-block of pair p) or 2p + 1 (second) of qh[l].
void dequantize_row_q5_k(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kSuperBlock; ++b, src += kQ5_KBytes) {
    const float d = f16_at(src), dmin = f16_at(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* q = src + 48;
    for (size_t j = 0; j < 8; j += 2, q += 32) {
      uint8_t sc, m;
      kquant_scale_min(scales, j, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      kquant_scale_min(scales, j + 1, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (size_t l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((q[l] & 0xF) | (((qh[l] >> j) & 1) << 4)) - m1;
      for (size_t l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((q[l] >> 4) | (((qh[l] >> (j + 1)) & 1) << 4)) - m2;
    }
  }
}

// Q6_K: 16 sub-blocks of 16 with int8 scales; value (d * sc) * (q - 32), q = 4 low bits from ql
// and 2 high bits from qh. Per half (128 values): ql[l] / ql[l + 32] low nibbles are values l /
// l + 32, their high nibbles values l + 64 / l + 96; qh[l] bits 0-1, 2-3, 4-5, 6-7 go with them.
void dequantize_row_q6_k(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kSuperBlock; ++b, src += kQ6_KBytes) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = f16_at(src + 208);
    for (size_t half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128)
      for (size_t l = 0; l < 32; ++l) {
        const size_t is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
  }
}

// IQ4_NL: value d * kIq4Codebook[q]; byte j holds q of value j (low nibble) and j + 16 (high).
void dequantize_row_iq4_nl(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kLegacyBlock; ++b, src += kIQ4_NLBytes, y += kLegacyBlock) {
    const float d = f16_at(src);
    const uint8_t* qs = src + 2;
    for (size_t j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIq4Codebook[qs[j] & 0xF]);
      y[j + 16] = d * static_cast<float>(kIq4Codebook[qs[j] >> 4]);
    }
  }
}

// IQ4_XS: 8 sub-blocks of 32, value (d * (ls - 32)) * kIq4Codebook[q]; sub-block ib's indices
// are the 16 bytes at qs + 16 ib, laid out as IQ4_NL's.
void dequantize_row_iq4_xs(const uint8_t* src, size_t n, float* y) {
  for (size_t b = 0; b < n / kSuperBlock; ++b, src += kIQ4_XSBytes) {
    const float d = f16_at(src);
    for (size_t ib = 0; ib < 8; ++ib, y += 32) {
      const float dl = d * static_cast<float>(iq4_xs_scale(src, ib) - 32);
      const uint8_t* qs = src + 8 + 16 * ib;
      for (size_t j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIq4Codebook[qs[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kIq4Codebook[qs[j] >> 4]);
      }
    }
  }
}

}  // namespace attnode
