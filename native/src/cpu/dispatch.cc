// Chooses kernel sets from CPU features. Detection runs once; the tables are immutable.
#include "kernels.h"

#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace attnode {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  bool ymm_os = false, zmm_os = false;
  if (osxsave) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    ymm_os = (lo & 0x6) == 0x6;     // SSE and AVX state saved by the OS
    zmm_os = (lo & 0xe6) == 0xe6;   // plus opmask and ZMM state
  }
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
  f.fma = f.fma && ymm_os;
  f.f16c = f.f16c && ymm_os;
#elif defined(__aarch64__)
  f.neon = true;
#if defined(__linux__)
  f.neon_dotprod = (getauxval(AT_HWCAP) & (1UL << 20)) != 0;  // HWCAP_ASIMDDP
#endif
#endif
  return f;
}

bool can_run(const KernelSet* set) {
  const CpuFeatures& f = cpu_features();
  if (std::strcmp(set->isa, "avx512") == 0)
    return f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx512vnni && f.avx512bf16 && f.fma && f.f16c;
  if (std::strcmp(set->isa, "avx2") == 0) return f.avx2 && f.fma && f.f16c;
  if (std::strcmp(set->isa, "neon") == 0) return f.neon;
  return true;
}

// Best first.
const KernelSet* const kAllSets[] = {
#if defined(__x86_64__) || defined(_M_X64)
    &kKernelsAvx512,
    &kKernelsAvx2,
#endif
#if defined(__aarch64__)
    &kKernelsNeon,
#endif
    &kKernelsScalar,
};

struct Available {
  const char* names[sizeof(kAllSets) / sizeof(kAllSets[0]) + 1] = {};
  Available() {
    size_t k = 0;
    for (const KernelSet* s : kAllSets)
      if (can_run(s)) names[k++] = s->isa;
  }
};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

const KernelSet* kernel_set_by_name(const char* name) {
  for (const KernelSet* s : kAllSets)
    if (std::strcmp(s->isa, name) == 0) return can_run(s) ? s : nullptr;
  return nullptr;
}

const KernelSet* best_kernel_set() {
  for (const KernelSet* s : kAllSets)
    if (can_run(s)) return s;
  return &kKernelsScalar;
}

const char* const* available_kernel_sets() {
  static const Available available;
  return available.names;
}

}  // namespace attnode
