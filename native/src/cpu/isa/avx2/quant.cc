// AVX2 quantized kernels: the templates of quant_kernel.inc over the 8-lane traits of
// quant256.h (int8 dot products with vpmaddubsw on |q| and x carrying q's sign, F16C widening for
// f16, a shift for bf16). CPUs with AVX-512 VNNI take the AVX-512 table; CPUs with AVX-VNNI but
// no AVX-512 take isa/avxvnni/quant.cc.
#include "../../quant.h"
#include "../quant_kernel.inc"
#include "quant256.h"

namespace attnode {

// q8_0: 2 rows x 16 columns; row panels: 2 activation rows x 4 weight rows (16 registers).
extern constexpr QuantKernels kQuantAvx2 = make_quant_kernels<Q256, 2, 2, 2>("avx2_maddubs");

}  // namespace attnode
