// CPU feature detection and Isa selection (see dispatch.h). Detection runs once; nothing
// here changes after load.
#include "dispatch.h"

#include <cstring>
#include <vector>

#if ATTNODE_X86
#include <cpuid.h>
#endif
#if ATTNODE_ARM64 && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace attnode {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if ATTNODE_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  bool ymm_os = false, zmm_os = false;
  if (osxsave) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    ymm_os = (lo & 0x6) == 0x6;    // SSE and AVX state saved by the OS
    zmm_os = (lo & 0xe6) == 0xe6;  // plus opmask and ZMM state
  }
  f.fma = ymm_os && ((c >> 12) & 1);
  f.f16c = ymm_os && ((c >> 29) & 1);
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = ymm_os && ((b >> 5) & 1);
    f.avx512f = zmm_os && ((b >> 16) & 1);
    f.avx512dq = zmm_os && ((b >> 17) & 1);
    f.avx512bw = zmm_os && ((b >> 30) & 1);
    f.avx512vl = zmm_os && ((b >> 31) & 1);
    f.avx512vnni = zmm_os && ((c >> 11) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    f.avxvnni = ymm_os && ((a >> 4) & 1);
    f.avx512bf16 = zmm_os && ((a >> 5) & 1);
  }
#elif ATTNODE_ARM64
  f.neon = true;
#if defined(__linux__)
  f.neon_dotprod = (getauxval(AT_HWCAP) & (1UL << 20)) != 0;  // HWCAP_ASIMDDP
#endif
#endif
  return f;
}

constexpr Isa kAll[] = {Isa::avx512, Isa::avx2, Isa::neon, Isa::scalar};

std::vector<KernelFamily>& families() {
  static std::vector<KernelFamily> f;
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::neon: return "neon";
    default: return "scalar";
  }
}

bool isa_available(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::avx512:
      // The AVX-512 kernels use VNNI and BF16 dot products as well (Zen 4, Sapphire Rapids).
      return ATTNODE_X86 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx512vnni && f.avx512bf16 &&
             f.fma && f.f16c;
    case Isa::avx2: return ATTNODE_X86 && f.avx2 && f.fma && f.f16c;
    case Isa::neon: return ATTNODE_ARM64 && f.neon;
    default: return true;
  }
}

Isa best_isa() {
  for (Isa i : kAll)
    if (isa_available(i)) return i;
  return Isa::scalar;
}

bool isa_by_name(const char* name, Isa* out) {
  for (Isa i : kAll)
    if (std::strcmp(isa_name(i), name) == 0 && isa_available(i)) {
      *out = i;
      return true;
    }
  return false;
}

const char* const* available_isas() {
  static const struct Names {
    const char* v[sizeof(kAll) / sizeof(kAll[0]) + 1] = {};
    Names() {
      size_t k = 0;
      for (Isa i : kAll)
        if (isa_available(i)) v[k++] = isa_name(i);
    }
  } names;
  return names.v;
}

KernelFamilyRegistrar::KernelFamilyRegistrar(const char* name, const char* (*variant)(Isa isa)) {
  families().push_back({name, variant});
}

const KernelFamily* kernel_families(size_t* count) {
  *count = families().size();
  return families().data();
}

}  // namespace attnode
