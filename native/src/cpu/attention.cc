// Picks the attention table for an Isa, and the fused kernel's workspace size.
#include "attention.h"

namespace attnode {

size_t attention_fused_workspace_floats(size_t d) {
  const size_t dp = (d + kAttnDPad - 1) / kAttnDPad * kAttnDPad;
  // K tile transposed (D, KT), V tile (KT, Dp), scores (RT, KT), scaled q and accumulators
  // (RT, Dp) each, running max and sum (RT) each.
  return d * kAttnKeyTile + kAttnKeyTile * dp + kAttnRowTile * kAttnKeyTile + 2 * kAttnRowTile * dp + 2 * kAttnRowTile;
}

size_t attention_decode_workspace_floats(size_t rows, size_t d) { return rows * (kAttnKeyTile + d); }

const AttentionKernels& attention_kernels(Isa isa) {
  switch (isa) {
#if ATTNODE_X86
    case Isa::avx512: return kAttentionAvx512;
    case Isa::avx2: return kAttentionAvx2;
#endif
    default: return kAttentionScalar;
  }
}

namespace {
const KernelFamilyRegistrar kFamily("attention", [](Isa isa) { return attention_kernels(isa).variant; });
}  // namespace

}  // namespace attnode
