// Instruction-set selection: CPU feature detection (once) and the Isa an addon instance uses.
// Each op family keeps its own table of function pointers per Isa (see elementwise.h) and
// registers a KernelFamily so cpuInfo() can report which variant every family runs.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#define ATTNODE_X86 1
#else
#define ATTNODE_X86 0
#endif
#if defined(__aarch64__)
#define ATTNODE_ARM64 1
#else
#define ATTNODE_ARM64 0
#endif

namespace attnode {

// Best first. A family without a variant for an Isa falls back to the next one it has.
enum class Isa { avx512, avx2, neon, scalar };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  bool neon = false, neon_dotprod = false;
};

const CpuFeatures& cpu_features();

const char* isa_name(Isa isa);
// Whether this build contains the Isa's kernels and this CPU can run them.
bool isa_available(Isa isa);
Isa best_isa();
// False when the name is unknown or unavailable here.
bool isa_by_name(const char* name, Isa* out);
// Names of the available Isas, best first, null-terminated.
const char* const* available_isas();

// For cpuInfo(): the variant name an op family uses under a given Isa.
struct KernelFamily {
  const char* name;
  const char* (*variant)(Isa isa);
};
const KernelFamily* kernel_families(size_t* count);
struct KernelFamilyRegistrar {
  KernelFamilyRegistrar(const char* name, const char* (*variant)(Isa isa));
};

}  // namespace attnode
