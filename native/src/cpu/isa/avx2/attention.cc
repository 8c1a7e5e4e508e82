// AVX2+FMA+F16C attention kernels: the shared template (vec_attention.inc) with 8 f32 lanes.
// Compiled with AVX2 flags; only called when cpuid reports AVX2, FMA and F16C (see dispatch.cc).
#include "vec256.h"
#include "../vec_attention.inc"

namespace attnode {
extern constexpr AttentionKernels kAttentionAvx2 = make_attention<V256K>("avx2");
}  // namespace attnode
