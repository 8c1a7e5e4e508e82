// AVX-512 element-wise kernels: the shared vector template instantiated with 16 f32 lanes.
// Compiled with AVX-512 flags; only called when cpuid reports AVX-512 (see dispatch.cc).
#include <immintrin.h>

#include "../../elementwise.h"
#include "../vec_elementwise.inc"
#include "vec512.h"

namespace attnode {
namespace {

// The shared avx512 vector traits (also used by the attention kernels).
using V512 = V512K;
}  // namespace

extern constexpr ElementwiseKernels kElementwiseAvx512 = make_elementwise<V512>("avx512");

}  // namespace attnode
