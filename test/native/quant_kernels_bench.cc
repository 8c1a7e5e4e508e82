// Standalone decode (M = 1) timing of the quantized GEMMs of one kernel table, without Node: GB/s
// of the packed weights from DRAM (copies rotated through far more than the last-level cache) and
// from cache, against a plain read of the same bytes timed in the same process. For profiling
// kernels (callgrind, perf stat) and quick ratios; the suite of record is bench/suites/quant.ts.
// Built and run by tools/bench-quant-kernels.sh.
// Usage: quant_kernels_bench [isa] [format ...]   (isa: avx512 | avx2 | neon | scalar)
// With QB_PROFILE=n in the environment: n untimed calls per format on 4096 x 4096 only (for
// callgrind's instruction counts per weight byte).

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/block_formats.h"
#include "cpu/dispatch.h"
#include "cpu/kquant.h"
#include "cpu/quant.h"
#include "cpu/quant_format.h"
#include "cpu/quant_pack.h"
#include "half.h"

using namespace attnode;

namespace {

// CPU time of this thread: on a shared, oversubscribed machine wall time mostly measures the
// other processes.
struct Clock {
  using time_point = double;
  static double now() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  }
};

struct Format {
  const char* name;
  size_t src_bytes, panel_bytes, block;
  void (*pack)(const uint8_t*, size_t, size_t, size_t, size_t, uint8_t*);
  decltype(KQuantKernels::gemm_q4_k) KQuantKernels::*gemm;  // null: q8_0
  std::vector<size_t> halves;
};

double seconds(double a, double b) { return b - a; }

// Read bandwidth over `bytes` (summed 32-byte loads), best of `passes` after one warm pass.
double read_gbs(const uint8_t* p, size_t bytes, int passes) {
  double best = 1e30;
  volatile uint64_t sink = 0;
  for (int r = 0; r <= passes; ++r) {
    const auto t0 = Clock::now();
    uint64_t s = 0;
    for (size_t i = 0; i < bytes; i += 64) {
      uint64_t a, b;
      std::memcpy(&a, p + i, 8);
      std::memcpy(&b, p + i + 32, 8);
      s += a ^ b;
    }
    sink = sink + s;
    if (r) best = std::min(best, seconds(t0, Clock::now()));
  }
  return static_cast<double>(bytes) / best * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  Isa isa = best_isa();
  int argi = 1;
  if (argc > 1 && isa_by_name(argv[1], &isa)) argi = 2;
  std::vector<std::string> only(argv + argi, argv + argc);
  const KQuantKernels& kern = kquant_kernels(isa);
  const QuantKernels& qk = quant_kernels(isa);
  const std::vector<Format> formats = {
      {"q8_0", kQ8BlockBytes, 0, 32, nullptr, nullptr, {0}},
      {"q4_k", kQ4_KBytes, kQ4KPanelBlockBytes, 256, pack_q4_k_panel_range, &KQuantKernels::gemm_q4_k, {0, 2}},
      {"q5_k", kQ5_KBytes, kQ5KPanelBlockBytes, 256, pack_q5_k_panel_range, &KQuantKernels::gemm_q5_k, {0, 2}},
      {"q6_k", kQ6_KBytes, kQ6KPanelBlockBytes, 256, pack_q6_k_panel_range, &KQuantKernels::gemm_q6_k, {208}},
      {"iq4_xs", kIQ4_XSBytes, kIQ4XSPanelBlockBytes, 256, pack_iq4_xs_panel_range, &KQuantKernels::gemm_iq4_xs, {0}},
      {"q4_0", kQ4_0Bytes, kQ40PanelBlockBytes, 32, pack_q4_0_panel_range, &KQuantKernels::gemm_q4_0, {0}},
      {"q5_0", kQ5_0Bytes, kQ50PanelBlockBytes, 32, pack_q5_0_panel_range, &KQuantKernels::gemm_q5_0, {0}},
      {"iq4_nl", kIQ4_NLBytes, kQ40PanelBlockBytes, 32, pack_iq4_nl_panel_range, &KQuantKernels::gemm_iq4_nl, {0}},
      {"q4_1", kQ4_1Bytes, kQ41PanelBlockBytes, 32, pack_q4_1_panel_range, &KQuantKernels::gemm_q4_1, {0, 2}},
      {"q2_k", kQ2_KBytes, kQ2KPanelBlockBytes, 256, pack_q2_k_panel_range, &KQuantKernels::gemm_q2_k, {80, 82}},
      {"q3_k", kQ3_KBytes, kQ3KPanelBlockBytes, 256, pack_q3_k_panel_range, &KQuantKernels::gemm_q3_k, {108}},
  };
  const size_t shapes[][2] = {{768, 3072}, {3072, 768}, {768, 50304}, {4096, 4096}, {4096, 11008}, {11008, 4096}};
  std::mt19937 rng(7);
  std::printf("kernels: %s (k-quant), %s (q8_0)\n", kern.variant, qk.variant);
  const char* prof = std::getenv("QB_PROFILE");
  const size_t profile_calls = prof ? static_cast<size_t>(std::atoi(prof)) : 0;
  std::vector<uint8_t> big(profile_calls ? 64 : size_t{512} << 20, 1);
  const double dram = profile_calls ? 1.0 : read_gbs(big.data(), big.size(), 2);
  std::printf("DRAM read %.1f GB/s\n", dram);
  std::printf("%-8s %-13s %9s %9s %7s %9s %9s %7s\n", "format", "K x N", "dram us", "GB/s", "% read", "cache us", "GB/s", "% read");
  for (const auto& sh : shapes) {
    const size_t K = sh[0], N = sh[1];
    if (profile_calls && (K != 4096 || N != 4096)) continue;
    std::vector<float> x(K);
    for (auto& v : x) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);
    for (const Format& f : formats) {
      if (!only.empty() && std::find(only.begin(), only.end(), f.name) == only.end()) continue;
      const size_t nb = K / f.block;
      std::vector<uint8_t> blocks(N * nb * f.src_bytes);
      for (auto& b : blocks) b = static_cast<uint8_t>(rng());
      for (size_t b = 0; b < N * nb; ++b)
        for (size_t o : f.halves) {
          const uint16_t h = f32_to_f16(static_cast<float>(static_cast<int>(rng() % 2001) - 1000) * 1e-4f);
          blocks[b * f.src_bytes + o] = static_cast<uint8_t>(h & 0xff);
          blocks[b * f.src_bytes + o + 1] = static_cast<uint8_t>(h >> 8);
        }
      const size_t bytes = f.gemm ? (N + 15) / 16 * nb * f.panel_bytes : (N + 31) / 32 * nb * kQ8PanelBlockBytes;
      const size_t copies = profile_calls ? 1 : std::max<size_t>(2, (size_t{256} << 20) / bytes + 1);
      std::vector<uint8_t> packed(copies * bytes);
      if (f.gemm)
        f.pack(blocks.data(), N, K, 0, (N + 15) / 16, packed.data());
      else
        pack_q8_0_panel_range(blocks.data(), N, K, 0, (N + 31) / 32, packed.data());
      for (size_t c = 1; c < copies; ++c) std::memcpy(packed.data() + c * bytes, packed.data(), bytes);
      const size_t ldq = (K + 63) / 64 * 64, group = f.block == 32 ? 32 : 256;
      std::vector<int8_t> q(ldq, 0);
      std::vector<float> sc(K / group);
      std::vector<int32_t> sums(K / group), bsums(K / 16), pairs32(K / 32), offs6(K / 16);
      if (group == 256)
        quantize_row_q8_k(x.data(), K, q.data(), sc.data(), sums.data());
      else
        qk.quantize_row(x.data(), K, 32, q.data(), sc.data(), sums.data());
      kquant_row_sums(q.data(), K, bsums.data(), pairs32.data(), offs6.data());
      const QuantizedRows xr{q.data(), sc.data(), sums.data(), 1, K, ldq, group};
      const KQuantRows kx{xr, bsums.data(), pairs32.data(), offs6.data()};
      std::vector<float> out(N);
      const auto call = [&](size_t c) {
        if (f.gemm)
          (kern.*f.gemm)(Q4KWeights{packed.data() + c * bytes, N, K}, kx, 0, N, out.data(), N);
        else
          qk.gemm_q8_0(Q8_0Weights{packed.data() + c * bytes, N, K}, xr, 0, N, out.data(), N);
      };
      if (profile_calls) {
        for (size_t r = 0; r < profile_calls; ++r) call(0);
        std::printf("%-8s %5zu x %-5zu %zu calls over %zu bytes\n", f.name, K, N, profile_calls, bytes);
        continue;
      }
      // DRAM: rotate through the copies (each read once per rotation); cache: copy 0 again and again.
      const auto time = [&](bool rotate) {
        std::vector<double> t;
        size_t c = 0;
        const size_t reps = std::max<size_t>(8, static_cast<size_t>(2e8 / static_cast<double>(bytes)));
        for (size_t r = 0; r < reps + 2; ++r) {
          const auto t0 = Clock::now();
          call(rotate ? c : 0);
          t.push_back(seconds(t0, Clock::now()));
          c = (c + 1) % copies;
        }
        std::sort(t.begin(), t.end());
        return t[t.size() / 2];
      };
      const double td = time(true), tc = time(false);
      const double cache = read_gbs(packed.data(), bytes, 20);
      std::printf("%-8s %5zu x %-5zu %9.1f %9.1f %6.0f%% %9.1f %9.1f %6.0f%%\n", f.name, K, N, td * 1e6, bytes / td * 1e-9,
                  100.0 * bytes / td * 1e-9 / dram, tc * 1e6, bytes / tc * 1e-9, 100.0 * bytes / tc * 1e-9 / cache);
    }
  }
  return 0;
}
