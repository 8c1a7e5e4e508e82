// K-quant kernel tables by Isa, the Q4_K / Q5_K / Q6_K / IQ4_XS panel packers, and the scalar kernels (the plain version
// the SIMD ones are checked against). Not the SIMD kernels: isa/<name>/kquant.cc.
#include "kquant.h"

#include <cstring>

#include "block_formats.h"
#include "quant_format.h"
#include "../half.h"

namespace attnode {

const KQuantKernels& kquant_kernels(Isa isa) {
  switch (isa) {
#if ATTNODE_X86
    case Isa::avx512: return kKQuantAvx512;
    case Isa::avx2: return kKQuantAvx2;
#endif
#if ATTNODE_ARM64
    case Isa::neon: return cpu_features().neon_dotprod ? kKQuantNeonDot : kKQuantScalar;
#endif
    default: return kKQuantScalar;
  }
}

void kquant_row_sums(const int8_t* q, size_t k, int32_t* bsums, int32_t* pairs32, int32_t* offs6) {
  const auto pair = [](int32_t lo, int32_t hi) {
    return static_cast<int32_t>((static_cast<uint32_t>(lo) & 0xffffu) | (static_cast<uint32_t>(hi) << 16));
  };
  for (size_t b = 0; b < k / 16; ++b) {
    const int8_t* g = q + 16 * b;
    int32_t h0 = 0, h1 = 0;  // bytes 0,1 and 2,3 of each group of 4
    for (size_t p = 0; p < 16; p += 4) {
      h0 += g[p] + g[p + 1];
      h1 += g[p + 2] + g[p + 3];
    }
    bsums[b] = h0 + h1;
    offs6[b] = pair(32 * h0, 32 * h1);
  }
  for (size_t b = 0; b < k / 32; ++b) pairs32[b] = pair(bsums[2 * b] + bsums[2 * b + 1], 0);
}

namespace {

// Q4_K and Q5_K share everything but the fifth bit (Q5_K's qh) and the bytes per block.
template <bool Five>
void pack_q45_k(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  const size_t nsb = k / kSuperBlock;
  const size_t src_bytes = Five ? kQ5_KBytes : kQ4_KBytes, dst_bytes = Five ? kQ5KPanelBlockBytes : kQ4KPanelBlockBytes;
  const size_t qs = Five ? 48 : 16;
  for (size_t p = p0; p < p1; ++p)
    for (size_t s = 0; s < nsb; ++s) {
      uint8_t* dst = out + (p * nsb + s) * dst_bytes;
      std::memset(dst, 0, dst_bytes);
      for (size_t c = 0; c < kQ4KPanelCols && p * kQ4KPanelCols + c < n; ++c) {
        const uint8_t* blk = blocks + ((p * kQ4KPanelCols + c) * nsb + s) * src_bytes;
        uint8_t q[kSuperBlock];
        // Sub-block pair j/2 shares 32 bytes of qs: low nibbles sub-block j, high nibbles j + 1;
        // Q5_K's fifth bit of value v is bit v / 32 of qh[v % 32].
        for (size_t v = 0; v < kSuperBlock; ++v) {
          const uint8_t byte = blk[qs + (v / 64) * 32 + v % 32];
          q[v] = (v % 64) < 32 ? byte & 0xF : byte >> 4;
          if (Five) q[v] = static_cast<uint8_t>(q[v] | (((blk[16 + v % 32] >> (v / 32)) & 1) << 4));
        }
        for (size_t t = 0; t < 32; ++t)
          for (size_t b = 0; b < 4; ++b)
            dst[64 * t + 4 * c + b] = static_cast<uint8_t>((q[8 * t + b] & 0xF) | ((q[8 * t + 4 + b] & 0xF) << 4));
        if (Five)
          for (size_t u = 0; u < 8; ++u)
            for (size_t b = 0; b < 4; ++b) {
              uint8_t hb = 0;
              for (size_t g = 0; g < 8; ++g) hb = static_cast<uint8_t>(hb | ((q[32 * u + 4 * g + b] >> 4) << g));
              dst[kQ5KHighOffset + 64 * u + 4 * c + b] = hb;
            }
        for (size_t j = 0; j < 8; ++j) {
          uint8_t sc, m;
          kquant_scale_min(blk + 4, j, &sc, &m);
          dst[kQ4KScaleOffset + 16 * j + c] = sc;
          dst[kQ4KMinOffset + 16 * j + c] = m;
        }
        const float d = f16_to_f32(static_cast<uint16_t>(blk[0] | (blk[1] << 8)));
        const float dmin = f16_to_f32(static_cast<uint16_t>(blk[2] | (blk[3] << 8)));
        std::memcpy(dst + kQ4KDOffset + 4 * c, &d, 4);
        std::memcpy(dst + kQ4KDminOffset + 4 * c, &dmin, 4);
      }
    }
}

}  // namespace

void pack_q4_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_q45_k<false>(blocks, n, k, p0, p1, out);
}

void pack_q5_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_q45_k<true>(blocks, n, k, p0, p1, out);
}

void pack_q6_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  const size_t nsb = k / kSuperBlock;
  for (size_t p = p0; p < p1; ++p)
    for (size_t s = 0; s < nsb; ++s) {
      uint8_t* dst = out + (p * nsb + s) * kQ6KPanelBlockBytes;
      std::memset(dst, 0, kQ6KPanelBlockBytes);
      for (size_t c = 0; c < kQ4KPanelCols && p * kQ4KPanelCols + c < n; ++c) {
        const uint8_t* blk = blocks + ((p * kQ4KPanelCols + c) * nsb + s) * kQ6_KBytes;
        // The 6-bit quants (0..63) of the 256 values, read as the reference dequantizer reads them.
        uint8_t q[kSuperBlock];
        for (size_t h = 0; h < 2; ++h)
          for (size_t l = 0; l < 32; ++l) {
            const uint8_t a = blk[64 * h + l], b = blk[64 * h + l + 32], hb = blk[128 + 32 * h + l];
            q[128 * h + l] = static_cast<uint8_t>((a & 0xF) | ((hb & 3) << 4));
            q[128 * h + l + 32] = static_cast<uint8_t>((b & 0xF) | (((hb >> 2) & 3) << 4));
            q[128 * h + l + 64] = static_cast<uint8_t>((a >> 4) | (((hb >> 4) & 3) << 4));
            q[128 * h + l + 96] = static_cast<uint8_t>((b >> 4) | (((hb >> 6) & 3) << 4));
          }
        for (size_t t = 0; t < 32; ++t)
          for (size_t b = 0; b < 4; ++b)
            dst[64 * t + 4 * c + b] = static_cast<uint8_t>((q[8 * t + b] & 0xF) | ((q[8 * t + 4 + b] & 0xF) << 4));
        for (size_t u = 0; u < 16; ++u)
          for (size_t b = 0; b < 4; ++b) {
            uint8_t hb = 0;
            for (size_t g = 0; g < 4; ++g) hb = static_cast<uint8_t>(hb | ((q[16 * u + 4 * g + b] >> 4) << (2 * g)));
            dst[kQ6KHighOffset + 64 * u + 4 * c + b] = hb;
          }
        for (size_t j = 0; j < 16; ++j) dst[kQ6KScaleOffset + 16 * j + c] = blk[192 + j];
        const float d = f16_to_f32(static_cast<uint16_t>(blk[208] | (blk[209] << 8)));
        std::memcpy(dst + kQ6KDOffset + 4 * c, &d, 4);
      }
    }
}

namespace {

// The blocks of 32: Q4_1 / Q5_1 with mins, Q4_0 / Q5_0 / IQ4_NL without.
enum class Legacy { q4_0, q4_1, q5_0, q5_1, iq4_nl };
constexpr bool legacy_five(Legacy l) { return l == Legacy::q5_0 || l == Legacy::q5_1; }
constexpr bool legacy_min(Legacy l) { return l == Legacy::q4_1 || l == Legacy::q5_1; }

template <Legacy L>
void pack_legacy(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  constexpr bool Five = legacy_five(L), Min = legacy_min(L);
  const size_t nb = k / kLegacyBlock;
  // Source: d, [m], [qh[4]], qs[16] (GGUF's block_q4_0 .. block_q5_1, block_iq4_nl).
  const size_t src_bytes = L == Legacy::q4_0 ? kQ4_0Bytes : L == Legacy::q4_1 ? kQ4_1Bytes : L == Legacy::q5_0 ? kQ5_0Bytes
                           : L == Legacy::q5_1 ? kQ5_1Bytes : kIQ4_NLBytes;
  const size_t hoff = Min ? 4 : 2, qoff = hoff + (Five ? 4 : 0);
  const size_t dst_bytes = L == Legacy::q4_1 ? kQ41PanelBlockBytes : L == Legacy::q5_1 ? kQ51PanelBlockBytes
                           : L == Legacy::q5_0 ? kQ50PanelBlockBytes : kQ40PanelBlockBytes;
  const size_t doff = L == Legacy::q4_1 ? kQ41DOffset : L == Legacy::q5_1 ? kQ51DOffset : L == Legacy::q5_0 ? kQ50DOffset : kQ40DOffset;
  const size_t moff = L == Legacy::q5_1 ? kQ51MOffset : kQ41MOffset;
  const size_t high = L == Legacy::q5_1 ? kQ51HighOffset : kQ50HighOffset;
  for (size_t p = p0; p < p1; ++p)
    for (size_t b = 0; b < nb; ++b) {
      uint8_t* dst = out + (p * nb + b) * dst_bytes;
      std::memset(dst, 0, dst_bytes);
      for (size_t c = 0; c < kQ4KPanelCols && p * kQ4KPanelCols + c < n; ++c) {
        const uint8_t* blk = blocks + ((p * kQ4KPanelCols + c) * nb + b) * src_bytes;
        // Value v: nibble of qs[v % 16] (low for v < 16); the fifth bit is bit v of qh.
        const uint8_t* qs = blk + qoff;
        const uint32_t qh = Five ? blk[hoff] | (blk[hoff + 1] << 8) | (blk[hoff + 2] << 16) | (static_cast<uint32_t>(blk[hoff + 3]) << 24) : 0;
        uint8_t q[kLegacyBlock];
        for (size_t v = 0; v < kLegacyBlock; ++v)
          q[v] = static_cast<uint8_t>((v < 16 ? qs[v] & 0xF : qs[v - 16] >> 4) | (((qh >> v) & 1) << 4));
        for (size_t t = 0; t < 4; ++t)
          for (size_t i = 0; i < 4; ++i)
            dst[64 * t + 4 * c + i] = static_cast<uint8_t>((q[8 * t + i] & 0xF) | ((q[8 * t + 4 + i] & 0xF) << 4));
        if (Five)
          for (size_t i = 0; i < 4; ++i) {
            uint8_t hb = 0;
            for (size_t g = 0; g < 8; ++g) hb = static_cast<uint8_t>(hb | ((q[4 * g + i] >> 4) << g));
            dst[high + 4 * c + i] = hb;
          }
        std::memcpy(dst + doff + 2 * c, blk, 2);
        if (Min) std::memcpy(dst + moff + 2 * c, blk + 2, 2);
      }
    }
}

}  // namespace

void pack_q4_1_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_legacy<Legacy::q4_1>(blocks, n, k, p0, p1, out);
}

void pack_q4_0_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_legacy<Legacy::q4_0>(blocks, n, k, p0, p1, out);
}

void pack_q5_0_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_legacy<Legacy::q5_0>(blocks, n, k, p0, p1, out);
}

void pack_iq4_nl_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_legacy<Legacy::iq4_nl>(blocks, n, k, p0, p1, out);
}

void pack_q5_1_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_legacy<Legacy::q5_1>(blocks, n, k, p0, p1, out);
}

namespace {

// Q2_K / Q3_K: the 2-bit quants of value v as the reference reads them: half v / 128, shift
// 2 * ((v % 128) / 32), byte v % 32 of the half's 32; Q3_K's high bit of v is bit
// (v / 128) * 4 + (v % 128) / 32 of hmask[v % 32].
template <bool Three>
void pack_q23_k(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  const size_t nsb = k / kSuperBlock;
  const size_t src_bytes = Three ? kQ3_KBytes : kQ2_KBytes, dst_bytes = Three ? kQ3KPanelBlockBytes : kQ2KPanelBlockBytes;
  for (size_t p = p0; p < p1; ++p)
    for (size_t s = 0; s < nsb; ++s) {
      uint8_t* dst = out + (p * nsb + s) * dst_bytes;
      std::memset(dst, 0, dst_bytes);
      for (size_t c = 0; c < kQ4KPanelCols && p * kQ4KPanelCols + c < n; ++c) {
        const uint8_t* blk = blocks + ((p * kQ4KPanelCols + c) * nsb + s) * src_bytes;
        const uint8_t* qs = blk + (Three ? 32 : 16);
        uint8_t q[kSuperBlock], h[kSuperBlock];
        for (size_t v = 0; v < kSuperBlock; ++v) {
          const size_t half = v / 128, grp = (v % 128) / 32, l = v % 32;
          q[v] = (qs[32 * half + l] >> (2 * grp)) & 3;
          h[v] = Three ? (blk[l] >> (4 * half + grp)) & 1 : 0;
        }
        for (size_t u = 0; u < 16; ++u)
          for (size_t b = 0; b < 4; ++b) {
            uint8_t byte = 0;
            for (size_t g = 0; g < 4; ++g) byte = static_cast<uint8_t>(byte | (q[16 * u + 4 * g + b] << (2 * g)));
            dst[64 * u + 4 * c + b] = byte;
          }
        if (Three) {
          for (size_t w = 0; w < 8; ++w)
            for (size_t b = 0; b < 4; ++b) {
              uint8_t byte = 0;
              for (size_t g = 0; g < 8; ++g) byte = static_cast<uint8_t>(byte | (h[32 * w + 4 * g + b] << g));
              dst[kQ3KHighOffset + 64 * w + 4 * c + b] = byte;
            }
          for (size_t j = 0; j < 16; ++j) dst[kQ3KScaleOffset + 16 * j + c] = static_cast<uint8_t>(static_cast<int8_t>(q3_k_scale(blk + 96, j)));
          const float d = f16_to_f32(static_cast<uint16_t>(blk[108] | (blk[109] << 8)));
          std::memcpy(dst + kQ3KDOffset + 4 * c, &d, 4);
        } else {
          for (size_t j = 0; j < 16; ++j) {
            dst[kQ2KScaleOffset + 16 * j + c] = blk[j] & 0xF;
            dst[kQ2KMinOffset + 16 * j + c] = blk[j] >> 4;
          }
          const float d = f16_to_f32(static_cast<uint16_t>(blk[80] | (blk[81] << 8)));
          const float dmin = f16_to_f32(static_cast<uint16_t>(blk[82] | (blk[83] << 8)));
          std::memcpy(dst + kQ2KDOffset + 4 * c, &d, 4);
          std::memcpy(dst + kQ2KDminOffset + 4 * c, &dmin, 4);
        }
      }
    }
}

}  // namespace

void pack_q2_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_q23_k<false>(blocks, n, k, p0, p1, out);
}

void pack_q3_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  pack_q23_k<true>(blocks, n, k, p0, p1, out);
}

void pack_iq4_xs_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  const size_t nsb = k / kSuperBlock;
  for (size_t p = p0; p < p1; ++p)
    for (size_t s = 0; s < nsb; ++s) {
      uint8_t* dst = out + (p * nsb + s) * kIQ4XSPanelBlockBytes;
      std::memset(dst, 0, kIQ4XSPanelBlockBytes);
      for (size_t c = 0; c < kQ4KPanelCols && p * kQ4KPanelCols + c < n; ++c) {
        const uint8_t* blk = blocks + ((p * kQ4KPanelCols + c) * nsb + s) * kIQ4_XSBytes;
        // Value v's index: sub-block v / 32, byte v % 16 of its 16, low nibble for v % 32 < 16.
        uint8_t q[kSuperBlock];
        for (size_t v = 0; v < kSuperBlock; ++v) {
          const uint8_t byte = blk[8 + 16 * (v / 32) + v % 16];
          q[v] = (v % 32) < 16 ? byte & 0xF : byte >> 4;
        }
        for (size_t t = 0; t < 32; ++t)
          for (size_t b = 0; b < 4; ++b)
            dst[64 * t + 4 * c + b] = static_cast<uint8_t>(q[8 * t + b] | (q[8 * t + 4 + b] << 4));
        for (size_t j = 0; j < 8; ++j) dst[kIQ4XSScaleOffset + 16 * j + c] = static_cast<uint8_t>(static_cast<int8_t>(iq4_xs_scale(blk, j) - 32));
        const float d = f16_to_f32(static_cast<uint16_t>(blk[0] | (blk[1] << 8)));
        std::memcpy(dst + kIQ4XSDOffset + 4 * c, &d, 4);
      }
    }
}

namespace {

void gemm_iq4_xs_scalar(const Q4KWeights& w, const KQuantRows& a, size_t n0, size_t n1, float* out, size_t ldo) {
  const size_t nsb = w.k / kSuperBlock;
  const QuantizedRows& x = a.x;
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      const size_t p = j / kQ4KPanelCols, c = j % kQ4KPanelCols;
      float acc = 0.0f;
      for (size_t s = 0; s < nsb; ++s) {
        const uint8_t* blk = w.p + (p * nsb + s) * kIQ4XSPanelBlockBytes;
        const int8_t* xq = x.q + i * x.ldq + s * kSuperBlock;
        int32_t isum = 0;
        for (size_t sb = 0; sb < 8; ++sb) {
          int32_t dot = 0;
          for (size_t t = 4 * sb; t < 4 * sb + 4; ++t)
            for (size_t b = 0; b < 4; ++b) {
              const uint8_t byte = blk[64 * t + 4 * c + b];
              dot += kIq4Codebook[byte & 0xF] * xq[8 * t + b] + kIq4Codebook[byte >> 4] * xq[8 * t + 4 + b];
            }
          isum += dot * static_cast<int8_t>(blk[kIQ4XSScaleOffset + 16 * sb + c]);
        }
        float d;
        std::memcpy(&d, blk + kIQ4XSDOffset + 4 * c, 4);
        acc += x.scales[i * nsb + s] * (d * static_cast<float>(isum));
      }
      out[i * ldo + j] = acc;
    }
}

template <Legacy L>
void gemm_legacy_scalar(const Q4KWeights& w, const KQuantRows& a, size_t n0, size_t n1, float* out, size_t ldo) {
  constexpr bool Five = legacy_five(L), Min = legacy_min(L);
  const size_t nb = w.k / kLegacyBlock;
  const size_t bytes = L == Legacy::q4_1 ? kQ41PanelBlockBytes : L == Legacy::q5_1 ? kQ51PanelBlockBytes
                       : L == Legacy::q5_0 ? kQ50PanelBlockBytes : kQ40PanelBlockBytes;
  const size_t doff = L == Legacy::q4_1 ? kQ41DOffset : L == Legacy::q5_1 ? kQ51DOffset : L == Legacy::q5_0 ? kQ50DOffset : kQ40DOffset;
  const size_t moff = L == Legacy::q5_1 ? kQ51MOffset : kQ41MOffset;
  const size_t high = L == Legacy::q5_1 ? kQ51HighOffset : kQ50HighOffset;
  const int32_t offset = L == Legacy::q4_0 ? 8 : L == Legacy::q5_0 ? 16 : 0;
  const auto level = [](int q) { return L == Legacy::iq4_nl ? static_cast<int32_t>(kIq4Codebook[q]) : q; };
  const QuantizedRows& x = a.x;
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      const size_t p = j / kQ4KPanelCols, c = j % kQ4KPanelCols;
      float acc = 0.0f;
      for (size_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w.p + (p * nb + b) * bytes;
        const int8_t* xq = x.q + i * x.ldq + b * kLegacyBlock;
        int32_t dot = 0;
        for (size_t t = 0; t < 4; ++t)
          for (size_t v = 0; v < 4; ++v) {
            const uint8_t byte = blk[64 * t + 4 * c + v];
            const uint8_t hb = Five ? blk[high + 4 * c + v] : 0;
            dot += level((byte & 0xF) | (((hb >> (2 * t)) & 1) << 4)) * xq[8 * t + v] +
                   level((byte >> 4) | (((hb >> (2 * t + 1)) & 1) << 4)) * xq[8 * t + 4 + v];
          }
        const float d = f16_to_f32(static_cast<uint16_t>(blk[doff + 2 * c] | (blk[doff + 2 * c + 1] << 8)));
        if (Min) {
          const float m = f16_to_f32(static_cast<uint16_t>(blk[moff + 2 * c] | (blk[moff + 2 * c + 1] << 8)));
          acc += x.scales[i * nb + b] * (d * static_cast<float>(dot) + m * static_cast<float>(x.sums[i * nb + b]));
        } else {
          acc += x.scales[i * nb + b] * (d * static_cast<float>(dot - offset * x.sums[i * nb + b]));
        }
      }
      out[i * ldo + j] = acc;
    }
}

template <bool Three>
void gemm_q23_k_scalar(const Q4KWeights& w, const KQuantRows& a, size_t n0, size_t n1, float* out, size_t ldo) {
  const size_t nsb = w.k / kSuperBlock;
  const size_t bytes = Three ? kQ3KPanelBlockBytes : kQ2KPanelBlockBytes;
  const QuantizedRows& x = a.x;
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      const size_t p = j / kQ4KPanelCols, c = j % kQ4KPanelCols;
      float acc = 0.0f;
      for (size_t s = 0; s < nsb; ++s) {
        const uint8_t* blk = w.p + (p * nsb + s) * bytes;
        const int8_t* xq = x.q + i * x.ldq + s * kSuperBlock;
        int32_t isum = 0, imin = 0;
        for (size_t u = 0; u < 16; ++u) {
          int32_t dot = 0;
          for (size_t g = 0; g < 4; ++g)
            for (size_t b = 0; b < 4; ++b) {
              int q = (blk[64 * u + 4 * c + b] >> (2 * g)) & 3;
              // Q3_K: sub-block u is half u % 2 of high chunk u / 2: bit 4 (u % 2) + g.
              if (Three) q |= ((blk[kQ3KHighOffset + 64 * (u / 2) + 4 * c + b] >> (4 * (u % 2) + g)) & 1) << 2;
              dot += q * xq[16 * u + 4 * g + b];
            }
          const int32_t bs = a.bsums[i * (w.k / 16) + s * 16 + u];
          if (Three) {
            isum += static_cast<int8_t>(blk[kQ3KScaleOffset + 16 * u + c]) * (dot - 4 * bs);
          } else {
            isum += blk[kQ2KScaleOffset + 16 * u + c] * dot;
            imin += blk[kQ2KMinOffset + 16 * u + c] * bs;
          }
        }
        float d, dmin = 0.0f;
        std::memcpy(&d, blk + (Three ? kQ3KDOffset : kQ2KDOffset) + 4 * c, 4);
        if (!Three) std::memcpy(&dmin, blk + kQ2KDminOffset + 4 * c, 4);
        acc += x.scales[i * nsb + s] * (d * static_cast<float>(isum) - dmin * static_cast<float>(imin));
      }
      out[i * ldo + j] = acc;
    }
}

void gemm_q6_k_scalar(const Q4KWeights& w, const KQuantRows& a, size_t n0, size_t n1, float* out, size_t ldo) {
  const size_t nsb = w.k / kSuperBlock;
  const QuantizedRows& x = a.x;
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      const size_t p = j / kQ4KPanelCols, c = j % kQ4KPanelCols;
      float acc = 0.0f;
      for (size_t s = 0; s < nsb; ++s) {
        const uint8_t* blk = w.p + (p * nsb + s) * kQ6KPanelBlockBytes;
        const int8_t* xq = x.q + i * x.ldq + s * kSuperBlock;
        int32_t isum = 0;
        for (size_t u = 0; u < 16; ++u) {
          int32_t dot = 0;
          for (size_t t = 2 * u; t < 2 * u + 2; ++t)
            for (size_t b = 0; b < 4; ++b) {
              const uint8_t byte = blk[64 * t + 4 * c + b];
              const uint8_t hb = blk[kQ6KHighOffset + 64 * u + 4 * c + b];
              const size_t g = 2 * (t - 2 * u);  // K 8t + b is group g of the high byte, 8t + 4 + b group g + 1
              dot += ((byte & 0xF) | (((hb >> (2 * g)) & 3) << 4)) * xq[8 * t + b];
              dot += ((byte >> 4) | (((hb >> (2 * g + 2)) & 3) << 4)) * xq[8 * t + 4 + b];
            }
          const int32_t sc = static_cast<int8_t>(blk[kQ6KScaleOffset + 16 * u + c]);
          isum += sc * (dot - 32 * a.bsums[i * (w.k / 16) + s * 16 + u]);
        }
        float d;
        std::memcpy(&d, blk + kQ6KDOffset + 4 * c, 4);
        acc += x.scales[i * nsb + s] * (d * static_cast<float>(isum));
      }
      out[i * ldo + j] = acc;
    }
}

// The plain loops over the panel layout: integer sums per sub-block, f32 per super-block.
template <bool Five>
void gemm_q45_k_scalar(const Q4KWeights& w, const KQuantRows& a, size_t n0, size_t n1, float* out, size_t ldo) {
  const size_t nsb = w.k / kSuperBlock;
  const size_t block_bytes = Five ? kQ5KPanelBlockBytes : kQ4KPanelBlockBytes;
  const QuantizedRows& x = a.x;
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      const size_t p = j / kQ4KPanelCols, c = j % kQ4KPanelCols;
      float acc = 0.0f;
      for (size_t s = 0; s < nsb; ++s) {
        const uint8_t* blk = w.p + (p * nsb + s) * block_bytes;
        const int8_t* xq = x.q + i * x.ldq + s * kSuperBlock;
        int32_t isum = 0, imin = 0;
        for (size_t sb = 0; sb < 8; ++sb) {
          int32_t dot = 0;
          for (size_t t = 4 * sb; t < 4 * sb + 4; ++t)
            for (size_t b = 0; b < 4; ++b) {
              const uint8_t byte = blk[64 * t + 4 * c + b];
              // Q5_K: bit g of the sub-block's high byte is K 32 sb + 4g + b's fifth bit.
              const uint8_t hb = Five ? blk[kQ5KHighOffset + 64 * sb + 4 * c + b] : 0;
              const size_t g = 2 * (t - 4 * sb);
              dot += ((byte & 0xF) | (((hb >> g) & 1) << 4)) * xq[8 * t + b] + ((byte >> 4) | (((hb >> (g + 1)) & 1) << 4)) * xq[8 * t + 4 + b];
            }
          isum += dot * blk[kQ4KScaleOffset + 16 * sb + c];
          imin += blk[kQ4KMinOffset + 16 * sb + c] * (a.bsums[i * (w.k / 16) + s * 16 + 2 * sb] + a.bsums[i * (w.k / 16) + s * 16 + 2 * sb + 1]);
        }
        float d, dmin;
        std::memcpy(&d, blk + kQ4KDOffset + 4 * c, 4);
        std::memcpy(&dmin, blk + kQ4KDminOffset + 4 * c, 4);
        acc += x.scales[i * nsb + s] * (d * static_cast<float>(isum) - dmin * static_cast<float>(imin));
      }
      out[i * ldo + j] = acc;
    }
}

}  // namespace

const KQuantKernels kKQuantScalar = {"scalar", gemm_q45_k_scalar<false>, gemm_q6_k_scalar, gemm_q45_k_scalar<true>,
                                     gemm_iq4_xs_scalar, gemm_legacy_scalar<Legacy::q4_1>, gemm_legacy_scalar<Legacy::q5_1>,
                                     gemm_q23_k_scalar<false>, gemm_q23_k_scalar<true>, gemm_legacy_scalar<Legacy::q4_0>,
                                     gemm_legacy_scalar<Legacy::q5_0>, gemm_legacy_scalar<Legacy::iq4_nl>, quantize_row_q8_k};

}  // namespace attnode
