// AVX-512 attention kernels: the shared template (vec_attention.inc) with 16 f32 lanes.
// Compiled with AVX-512 flags; only called when cpuid reports AVX-512 (see dispatch.cc).
#include "vec512.h"
#include "../vec_attention.inc"

namespace attnode {
extern constexpr AttentionKernels kAttentionAvx512 = make_attention<V512K>("avx512");
}  // namespace attnode
