// AVX2+FMA element-wise kernels: the shared vector template instantiated with 8 f32 lanes.
// Compiled with AVX2/FMA/F16C flags; only called when cpuid reports them (see dispatch.cc).
#include <immintrin.h>

#include "../../elementwise.h"
#include "../vec_elementwise.inc"
#include "vec256.h"

namespace attnode {
namespace {

// The shared avx2 vector traits (also used by the attention kernels).
using V256 = V256K;
}  // namespace

extern constexpr ElementwiseKernels kElementwiseAvx2 = make_elementwise<V256>("avx2");

}  // namespace attnode
