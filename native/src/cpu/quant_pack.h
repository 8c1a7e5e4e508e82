// Packing weights into the panels the quantized kernels read (quant.h): row panels for f16,
// bf16 and per-row i8, column panels for q8_0. Run once per weight at pack time; not kernels.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "../dtype.h"
#include "quant_format.h"
#include "../weight_buffer.h"
#include "quant.h"

namespace attnode {

// Packed int8 weights: q + 128 as unsigned bytes (see kWeightOffset).
inline uint8_t offset_weight(int8_t q) { return static_cast<uint8_t>(static_cast<int32_t>(q) + kWeightOffset); }

// Rearranges W (N, K) into row panels: rows padded to kp elements and to a multiple of 4 with
// `pad`, each value passed through `convert`. W[j, p] is read at w[j * stride_n + p * stride_k],
// so a transposed (K, N) checkpoint tensor (stride_n = 1, stride_k = N) packs without a copy.
//   w: (N, K) by strides -> (N4, kp) panels
template <class Dst, class Src, class Convert>
WeightVector<Dst> pack_panels_strided(const Src* w, size_t n, size_t k, size_t stride_n, size_t stride_k, size_t kp,
                                      Dst pad, Convert convert) {
  const size_t chunk = kPanelChunkBytes / sizeof(Dst);
  WeightVector<Dst> out(round_up(n, kPanelRows) * kp, pad);
  // Transposed sources are walked k-major, so the reads stream through the stored rows.
  if (stride_n < stride_k) {
    for (size_t p = 0; p < k; ++p)
      for (size_t j = 0; j < n; ++j) out[panel_index(j, p, kp, chunk)] = convert(w[j * stride_n + p * stride_k]);
    return out;
  }
  for (size_t j = 0; j < n; ++j)
    for (size_t p = 0; p < k; ++p) out[panel_index(j, p, kp, chunk)] = convert(w[j * stride_n + p * stride_k]);
  return out;
}

//   w: (N, K) row-major -> (N4, kp) panels
template <class Dst, class Src, class Convert>
WeightVector<Dst> pack_panels(const Src* w, size_t n, size_t k, size_t kp, Dst pad, Convert convert) {
  return pack_panels_strided<Dst>(w, n, k, k, 1, kp, pad, convert);
}

// Panels [p0, p1) of GGUF Q8_0 blocks into their place in `out` (pack_q8_0_panels' layout), so
// that a packer can go band by band; padding columns hold weight 0 (byte 128) and scale 0.
//   blocks: (N, K / 32) Q8_0 blocks -> out: (ceil(N / 32), K / 32) panel blocks
inline void pack_q8_0_panel_range(const uint8_t* blocks, size_t n, size_t k, size_t p0, size_t p1, uint8_t* out) {
  const size_t nb = k / kQ8BlockSize;
  for (size_t pn = p0; pn < p1; ++pn)
    for (size_t b = 0; b < nb; ++b) {
      uint8_t* dst = out + (pn * nb + b) * kQ8PanelBlockBytes;
      std::memset(dst, kWeightOffset, kQ8PanelQuantBytes);
      for (size_t c = 0; c < kQ8PanelCols && pn * kQ8PanelCols + c < n; ++c) {
        const uint8_t* blk = blocks + ((pn * kQ8PanelCols + c) * nb + b) * kQ8BlockBytes;
        std::memcpy(dst + kQ8PanelQuantBytes + 2 * c, blk, 2);
        for (size_t p = 0; p < kQ8BlockSize; ++p)
          dst[(p / 4) * kQ8GroupBytes + 4 * c + p % 4] = offset_weight(static_cast<int8_t>(blk[2 + p]));
      }
    }
}

// GGUF Q8_0 blocks into column panels.
//   blocks: (N, K / 32) Q8_0 blocks -> (ceil(N / 32), K / 32) panel blocks
inline WeightVector<uint8_t> pack_q8_0_panels(const uint8_t* blocks, size_t n, size_t k) {
  const size_t nb = k / kQ8BlockSize, panels = (n + kQ8PanelCols - 1) / kQ8PanelCols;
  WeightVector<uint8_t> out(panels * nb * kQ8PanelBlockBytes, 0);
  pack_q8_0_panel_range(blocks, n, k, 0, panels, out.data());
  return out;
}

}  // namespace attnode
