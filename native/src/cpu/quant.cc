// Picks the quantized-kernel table for an Isa and reports it to cpuInfo(). Not the kernels:
// those are in isa/<name>/quant.cc. The AVX2 Isa takes the AVX-VNNI table where the CPU has the
// VEX-encoded vpdpbusd; the NEON Isa takes the dot-product table where the CPU has sdot, and
// the scalar one otherwise.
#include "quant.h"

namespace attnode {

const QuantKernels& quant_kernels(Isa isa) {
  switch (isa) {
#if ATTNODE_X86
    case Isa::avx512: return kQuantAvx512;
    case Isa::avx2: return cpu_features().avxvnni ? kQuantAvxVnni : kQuantAvx2;
#endif
#if ATTNODE_ARM64
    case Isa::neon: return cpu_features().neon_dotprod ? kQuantNeonDot : kQuantScalar;
#endif
    default: return kQuantScalar;
  }
}

namespace {
const KernelFamilyRegistrar kFamily("quant", [](Isa isa) { return quant_kernels(isa).variant; });
}  // namespace

}  // namespace attnode
