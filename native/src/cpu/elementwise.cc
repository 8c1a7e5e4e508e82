// Picks the element-wise table for an Isa.
#include "elementwise.h"

namespace attnode {

const ElementwiseKernels& elementwise_kernels(Isa isa) {
  switch (isa) {
#if ATTNODE_X86
    case Isa::avx512: return kElementwiseAvx512;
    case Isa::avx2: return kElementwiseAvx2;
#endif
#if ATTNODE_ARM64
    case Isa::neon: return kElementwiseNeon;
#endif
    default: return kElementwiseScalar;
  }
}

namespace {
const KernelFamilyRegistrar kFamily("elementwise", [](Isa isa) { return elementwise_kernels(isa).variant; });
}  // namespace

}  // namespace attnode
