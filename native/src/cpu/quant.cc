// Picks the quantized-kernel table for an Isa (NEON falls back to scalar until it has its own).
#include "quant.h"

namespace attnode {

const QuantKernels& quant_kernels(Isa isa) {
  switch (isa) {
#if ATTNODE_X86
    case Isa::avx512: return kQuantAvx512;
    case Isa::avx2: return kQuantAvx2;
#endif
    default: return kQuantScalar;
  }
}

namespace {
const KernelFamilyRegistrar kFamily("quant", [](Isa isa) { return quant_kernels(isa).variant; });
}  // namespace

}  // namespace attnode
