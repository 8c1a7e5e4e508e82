// Standalone check of every compiled-in k-quant kernel table (cpu/kquant.h) against the scalar
// one, and of the scalar one (packer included) against the reference dequantizers
// (cpu/block_formats.cc), without Node: Q2_K..Q6_K, IQ4_XS, Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL GEMMs over random super-blocks
// and random quantized activations on awkward shapes. Built and run by
// tools/check-quant-kernels.sh, natively, under qemu-x86_64 (AVX2 without AVX-512) and under
// qemu-aarch64 (NEON dot product). Integer sums are exact in every table; only the f32
// epilogue (fused or not) may differ, by a few ulp of its largest terms. Exit status 1 on a mismatch.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/block_formats.h"
#include "cpu/dispatch.h"
#include "cpu/kquant.h"
#include "cpu/quant_format.h"
#include "half.h"

using namespace attnode;

namespace {

std::mt19937 rng(4242);
int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

struct Format {
  const char* name;
  size_t src_bytes, panel_bytes;
  void (*pack)(const uint8_t*, size_t, size_t, size_t, size_t, uint8_t*);
  decltype(KQuantKernels::gemm_q4_k) KQuantKernels::*gemm;
  std::vector<size_t> halves;  // byte offsets of f16 fields, set to small finite values
  void (*dequantize)(const uint8_t*, size_t, float*);
  size_t block = kSuperBlock;  // K values per block; also the activation group (256, or 32 for Q4_1 / Q5_1)
};

// The scalar kernel against the reference: W dequantized by block_formats.cc times the
// activations' values, summed in double.
bool check_reference(const Format& f, const Q4KWeights& w, const KQuantRows& x, const uint8_t* blocks,
                     const float* got) {
  const size_t m = x.x.m, n = w.n, k = w.k, nsb = k / f.block, group = x.x.group;
  std::vector<float> row(k);
  std::vector<double> want(m * n);
  double big = 0.0;
  for (size_t j = 0; j < n; ++j) {
    f.dequantize(blocks + j * nsb * f.src_bytes, k, row.data());
    for (size_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (size_t p = 0; p < k; ++p) s += static_cast<double>(row[p]) * x.x.q[i * x.x.ldq + p] * x.x.scales[i * (k / group) + p / group];
      want[i * n + j] = s;
      big = std::fmax(big, std::fabs(s));
    }
  }
  for (size_t i = 0; i < m * n; ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-5 * (big + std::fabs(want[i])))) {
      std::printf("scalar %s against the reference M=%zu N=%zu K=%zu: out[%zu] = %g, reference %g\n", f.name, m, n, k, i, got[i], want[i]);
      return false;
    }
  return true;
}

bool check(const char* table, const KQuantKernels& kern, const Format& f, size_t m, size_t n, size_t k) {
  const size_t nsb = k / f.block, panels = (n + kQ4KPanelCols - 1) / kQ4KPanelCols, groups = k / f.block;
  std::vector<uint8_t> blocks(n * nsb * f.src_bytes);
  for (auto& b : blocks) b = static_cast<uint8_t>(uniform(0, 255));
  for (size_t b = 0; b < n * nsb; ++b)
    for (size_t o : f.halves) {
      const uint16_t h = f32_to_f16(static_cast<float>(uniform(-1000, 1000)) * 1e-4f);
      blocks[b * f.src_bytes + o] = static_cast<uint8_t>(h & 0xff);
      blocks[b * f.src_bytes + o + 1] = static_cast<uint8_t>(h >> 8);
    }
  std::vector<uint8_t> packed(panels * nsb * f.panel_bytes);
  f.pack(blocks.data(), n, k, 0, panels, packed.data());
  const size_t ldq = (k + 63) / 64 * 64;
  std::vector<int8_t> q(m * ldq, 0);
  std::vector<float> scales(m * groups);
  std::vector<int32_t> bsums(m * (k / 16), 0), sums(m * groups, 0);
  for (size_t i = 0; i < m; ++i) {
    for (size_t p = 0; p < k; ++p) {
      q[i * ldq + p] = static_cast<int8_t>(uniform(-127, 127));
      bsums[i * (k / 16) + p / 16] += q[i * ldq + p];
      sums[i * groups + p / f.block] += q[i * ldq + p];
    }
    for (size_t s = 0; s < groups; ++s) scales[i * groups + s] = static_cast<float>(uniform(1, 1000)) * 1e-4f;
  }
  // The pair forms the AVX2 tiles read, from the library (a wrong one shows as a mismatch against
  // the scalar table, which reads only bsums, summed here).
  std::vector<int32_t> bsums_lib(m * (k / 16)), pairs32(m * (k / 32)), offs6(m * (k / 16));
  for (size_t i = 0; i < m; ++i)
    kquant_row_sums(q.data() + i * ldq, k, bsums_lib.data() + i * (k / 16), pairs32.data() + i * (k / 32), offs6.data() + i * (k / 16));
  if (bsums_lib != bsums) {
    std::printf("kquant_row_sums: bsums differ from the sums of 16 quants (K=%zu)\n", k);
    return false;
  }
  const KQuantRows x{QuantizedRows{q.data(), scales.data(), sums.data(), m, k, ldq, f.block}, bsums.data(), pairs32.data(),
                     offs6.data()};
  const Q4KWeights w{packed.data(), n, k};
  std::vector<float> want(m * n), got(m * n);
  (kKQuantScalar.*f.gemm)(w, x, 0, n, want.data(), n);
  if (&kern == &kKQuantScalar) return check_reference(f, w, x, blocks.data(), want.data());
  (kern.*f.gemm)(w, x, 0, n, got.data(), n);
  // The epilogue's f32 terms (d * isum, dmin * imin, summed over super-blocks) are far larger
  // than what is left after they cancel, so the tolerance scales with the largest output.
  float big = 0.0f;
  for (float v : want) big = std::fmax(big, std::fabs(v));
  for (size_t i = 0; i < m * n; ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-5f * (big + std::fabs(want[i])))) {
      std::printf("%s %s M=%zu N=%zu K=%zu: out[%zu] = %g, scalar %g\n", table, f.name, m, n, k, i, got[i], want[i]);
      return false;
    }
  return true;
}

// A table's Q8_K activation quantizer against quant_format.h's, bit for bit, on rows with ties
// for the largest magnitude (both signs), zeros, a NaN and an infinity in some super-blocks.
bool check_quantizer(const char* table, const KQuantKernels& kern) {
  const size_t k = 256 * 7;
  std::vector<float> x(k);
  for (size_t i = 0; i < k; ++i) x[i] = static_cast<float>(uniform(-100000, 100000)) * 1e-4f;
  for (size_t i = 0; i < 256; ++i) x[256 + i] = 0.0f;                  // all zeros
  x[512 + 17] = 12.5f, x[512 + 90] = -12.5f;                            // a tie, positive first
  x[768 + 3] = -11.0f, x[768 + 200] = 11.0f;                            // a tie, negative first
  x[1024 + 5] = NAN;
  x[1280 + 255] = INFINITY;
  for (size_t i = 0; i < 256; ++i) x[1536 + i] = static_cast<float>(uniform(-4, 4)) * 0.5f;  // exact halves: ties in rounding
  std::vector<int8_t> q0(k), q1(k);
  std::vector<float> s0(k / 256), s1(k / 256);
  std::vector<int32_t> u0(k / 256), u1(k / 256);
  quantize_row_q8_k(x.data(), k, q0.data(), s0.data(), u0.data());
  kern.quantize_row_q8_k(x.data(), k, q1.data(), s1.data(), u1.data());
  const bool same = q0 == q1 && u0 == u1 && std::memcmp(s0.data(), s1.data(), s0.size() * sizeof(float)) == 0;
  if (!same) std::printf("%s quantize_row_q8_k differs from quant_format.h's\n", table);
  return same;
}

}  // namespace

int main() {
  const std::vector<Format> formats = {
      {"q4_k", kQ4_KBytes, kQ4KPanelBlockBytes, pack_q4_k_panel_range, &KQuantKernels::gemm_q4_k, {0, 2}, dequantize_row_q4_k},
      {"q5_k", kQ5_KBytes, kQ5KPanelBlockBytes, pack_q5_k_panel_range, &KQuantKernels::gemm_q5_k, {0, 2}, dequantize_row_q5_k},
      {"q6_k", kQ6_KBytes, kQ6KPanelBlockBytes, pack_q6_k_panel_range, &KQuantKernels::gemm_q6_k, {208}, dequantize_row_q6_k},
      {"iq4_xs", kIQ4_XSBytes, kIQ4XSPanelBlockBytes, pack_iq4_xs_panel_range, &KQuantKernels::gemm_iq4_xs, {0},
       dequantize_row_iq4_xs},
      {"q2_k", kQ2_KBytes, kQ2KPanelBlockBytes, pack_q2_k_panel_range, &KQuantKernels::gemm_q2_k, {80, 82}, dequantize_row_q2_k},
      {"q3_k", kQ3_KBytes, kQ3KPanelBlockBytes, pack_q3_k_panel_range, &KQuantKernels::gemm_q3_k, {108}, dequantize_row_q3_k},
      {"q4_1", kQ4_1Bytes, kQ41PanelBlockBytes, pack_q4_1_panel_range, &KQuantKernels::gemm_q4_1, {0, 2}, dequantize_row_q4_1, 32},
      {"q5_1", kQ5_1Bytes, kQ51PanelBlockBytes, pack_q5_1_panel_range, &KQuantKernels::gemm_q5_1, {0, 2}, dequantize_row_q5_1, 32},
      {"q4_0", kQ4_0Bytes, kQ40PanelBlockBytes, pack_q4_0_panel_range, &KQuantKernels::gemm_q4_0, {0}, dequantize_row_q4_0, 32},
      {"q5_0", kQ5_0Bytes, kQ50PanelBlockBytes, pack_q5_0_panel_range, &KQuantKernels::gemm_q5_0, {0}, dequantize_row_q5_0, 32},
      {"iq4_nl", kIQ4_NLBytes, kQ40PanelBlockBytes, pack_iq4_nl_panel_range, &KQuantKernels::gemm_iq4_nl, {0}, dequantize_row_iq4_nl, 32},
  };
  struct Table {
    const char* name;
    const KQuantKernels* k;
    bool runs;
  };
  std::vector<Table> tables = {{"scalar", &kKQuantScalar, true}};
#if ATTNODE_X86
  tables.push_back({"avx2", &kKQuantAvx2, isa_available(Isa::avx2)});
  tables.push_back({"avx512", &kKQuantAvx512, isa_available(Isa::avx512)});
#endif
#if ATTNODE_ARM64
  tables.push_back({"neon_dot", &kKQuantNeonDot, cpu_features().neon_dotprod});
#endif
  bool ok = true;
  for (const Table& t : tables) {
    if (!t.runs) {
      std::printf("%-9s skipped (not on this CPU)\n", t.name);
      continue;
    }
    bool mine = check_quantizer(t.name, *t.k);
    for (const Format& f : formats)
      for (size_t m : {1, 3, 17, 33})
        for (size_t n : {1, 17, 37})
          for (size_t k : {size_t{256}, size_t{768}, 3 * f.block}) mine = check(t.name, *t.k, f, m, n, k) && mine;
    std::printf("%-9s %s\n", t.name, mine ? "ok" : "MISMATCH");
    ok = ok && mine;
  }
  return ok ? 0 : 1;
}
