// K-quant kernel tables by Isa, the Q4_K panel packer, and the scalar kernel (the plain version
// the SIMD ones are checked against). Not the SIMD kernels: isa/<name>/kquant.cc.
#include "kquant.h"

#include <cstring>

#include "block_formats.h"
#include "../half.h"

namespace attnode {

const KQuantKernels& kquant_kernels(Isa isa) {
  switch (isa) {
#if ATTNODE_X86
    case Isa::avx512: return kKQuantAvx512;
    case Isa::avx2: return kKQuantAvx2;
#endif
    default: return kKQuantScalar;
  }
}

void pack_q4_k_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  const size_t nsb = k / kSuperBlock;
  for (size_t p = p0; p < p1; ++p)
    for (size_t s = 0; s < nsb; ++s) {
      uint8_t* dst = out + (p * nsb + s) * kQ4KPanelBlockBytes;
      std::memset(dst, 0, kQ4KPanelBlockBytes);
      for (size_t c = 0; c < kQ4KPanelCols && p * kQ4KPanelCols + c < n; ++c) {
        const uint8_t* blk = blocks + ((p * kQ4KPanelCols + c) * nsb + s) * kQ4_KBytes;
        uint8_t q[kSuperBlock];
        // Sub-block pair j/2 shares 32 bytes of qs: low nibbles sub-block j, high nibbles j + 1.
        for (size_t v = 0; v < kSuperBlock; ++v) {
          const uint8_t byte = blk[16 + (v / 64) * 32 + v % 32];
          q[v] = (v % 64) < 32 ? byte & 0xF : byte >> 4;
        }
        for (size_t t = 0; t < 32; ++t)
          for (size_t b = 0; b < 4; ++b) dst[64 * t + 4 * c + b] = static_cast<uint8_t>(q[8 * t + b] | (q[8 * t + 4 + b] << 4));
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

namespace {

// The plain loops over the panel layout: integer sums per sub-block, f32 per super-block.
void gemm_q4_k_scalar(const Q4KWeights& w, const KQuantRows& a, size_t n0, size_t n1, float* out, size_t ldo) {
  const size_t nsb = w.k / kSuperBlock;
  const QuantizedRows& x = a.x;
  for (size_t i = 0; i < x.m; ++i)
    for (size_t j = n0; j < n1; ++j) {
      const size_t p = j / kQ4KPanelCols, c = j % kQ4KPanelCols;
      float acc = 0.0f;
      for (size_t s = 0; s < nsb; ++s) {
        const uint8_t* blk = w.p + (p * nsb + s) * kQ4KPanelBlockBytes;
        const int8_t* xq = x.q + i * x.ldq + s * kSuperBlock;
        int32_t isum = 0, imin = 0;
        for (size_t sb = 0; sb < 8; ++sb) {
          int32_t dot = 0;
          for (size_t t = 4 * sb; t < 4 * sb + 4; ++t)
            for (size_t b = 0; b < 4; ++b) {
              const uint8_t byte = blk[64 * t + 4 * c + b];
              dot += (byte & 0xF) * xq[8 * t + b] + (byte >> 4) * xq[8 * t + 4 + b];
            }
          isum += dot * blk[kQ4KScaleOffset + 16 * sb + c];
          imin += blk[kQ4KMinOffset + 16 * sb + c] * a.bsums[i * (w.k / 32) + s * 8 + sb];
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

const KQuantKernels kKQuantScalar = {"scalar", gemm_q4_k_scalar};

}  // namespace attnode
