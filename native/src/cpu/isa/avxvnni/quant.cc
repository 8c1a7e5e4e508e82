// AVX-VNNI quantized kernels (Alder Lake and later cores without AVX-512, Zen 5): the AVX2
// traits with the VEX-encoded vpdpbusd as the int8 dot step, weights taken as q + 128 like the
// AVX-512 table. Chosen over the AVX2 table by cpuid (cpu/quant.cc). Checked against the scalar
// table by tools/check-quant-kernels.sh, which on a CPU with AVX-512 VNNI but no AVX-VNNI (and no
// emulator has it) builds this file with ATTNODE_AVXVNNI_AS_EVEX: the EVEX form of the same
// 256-bit instruction, identical arithmetic, so only the encoding goes unchecked there.
#include "../../quant.h"
#include "../avx2/quant256.h"
#include "../quant_kernel.inc"

#if defined(ATTNODE_AVXVNNI_AS_EVEX)
#define ATTNODE_DPBUSD_256 _mm256_dpbusd_epi32
#else
#define ATTNODE_DPBUSD_256 _mm256_dpbusd_avx_epi32
#endif

namespace attnode {
namespace {

struct QVnni256 : Q256 {
  static constexpr bool kOffsetDot = true;
  struct Wv {
    I u;
  };
  static Wv weights(const uint8_t* p) { return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))}; }
  static I dot(I acc, const Wv& w, I x) { return ATTNODE_DPBUSD_256(acc, w.u, x); }
};

}  // namespace

// q8_0: 3 rows x 16 columns (6 int32 + 6 f32 accumulators of the 16 registers); row panels:
// 2 activation rows x 4 weight rows.
extern constexpr QuantKernels kQuantAvxVnni = make_quant_kernels<QVnni256, 3, 2, 2>("avx_vnni");

}  // namespace attnode

#undef ATTNODE_DPBUSD_256
