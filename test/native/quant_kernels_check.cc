// Standalone check of every compiled-in quantized-kernel table against the scalar reference,
// without Node: q8_0, per-row i8, f16 and bf16 linear kernels and the activation quantizer on
// awkward shapes. Built and run by tools/check-quant-kernels.sh, natively and under qemu-user
// for instruction sets this machine lacks (AVX-VNNI without AVX-512, NEON dot products).
// Tables the CPU (or emulator) cannot run are reported as skipped; exit status 1 on a mismatch.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/quant.h"
#include "cpu/quant_format.h"
#include "cpu/quant_pack.h"
#include "half.h"

using namespace attnode;

namespace {

struct Table {
  const char* name;
  const QuantKernels* k;
  bool runs;
};

std::vector<Table> tables() {
  const CpuFeatures& f = cpu_features();
  std::vector<Table> t;
#if ATTNODE_X86
  t.push_back({"avx2", &kQuantAvx2, isa_available(Isa::avx2)});
#if defined(ATTNODE_AVXVNNI_AS_EVEX)  // the table built with the EVEX vpdpbusd (see avxvnni/quant.cc)
  t.push_back({"avx_vnni", &kQuantAvxVnni, isa_available(Isa::avx2) && f.avx512vnni && f.avx512vl});
#else
  t.push_back({"avx_vnni", &kQuantAvxVnni, isa_available(Isa::avx2) && f.avxvnni});
#endif
  t.push_back({"avx512", &kQuantAvx512, isa_available(Isa::avx512)});
#endif
#if ATTNODE_ARM64
  t.push_back({"neon_dot", &kQuantNeonDot, f.neon_dotprod});
#endif
  (void)f;
  return t;
}

std::mt19937 rng(12345);
float normal(float s) { return std::normal_distribution<float>(0.0f, s)(rng); }

struct Rows {
  std::vector<int8_t> q;
  std::vector<float> scales;
  std::vector<int32_t> sums;
  QuantizedRows view;
};

// x (M, K) quantized in groups by `k`'s quantize_row, rows padded to 64 bytes as the kernels want.
Rows quantize(const QuantKernels& k, const std::vector<float>& x, size_t m, size_t kk, size_t group) {
  Rows r;
  const size_t ldq = round_up(kk, kPanelChunkBytes), groups = group ? kk / group : 0;
  r.q.assign(m * ldq, 0);
  r.scales.assign(m * (groups ? groups : 1), 0.0f);
  r.sums.assign(m * (groups ? groups : 1), 0);
  for (size_t i = 0; i < m && groups; ++i)
    k.quantize_row(x.data() + i * kk, kk, group, r.q.data() + i * ldq, r.scales.data() + i * groups, r.sums.data() + i * groups);
  r.view = QuantizedRows{r.q.data(), r.scales.data(), r.sums.data(), m, kk, ldq, group};
  return r;
}

int failures = 0;
void fail(const std::string& what) {
  if (++failures <= 20) std::printf("  FAIL %s\n", what.c_str());
}

// |got - want| <= 1e-5 * (1 + scale): the f32 sums differ only in order.
void compare(const char* what, const Table& t, size_t m, size_t kk, size_t n, const std::vector<float>& got,
             const std::vector<float>& want, const std::vector<float>& scale, bool exact) {
  for (size_t i = 0; i < want.size(); ++i) {
    const float g = got[i], w = want[i];
    const bool ok = exact ? std::memcmp(&g, &w, 4) == 0 : std::fabs(g - w) <= 1e-5f * (1.0f + scale[i]);
    if (!ok) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "%s %s M=%zu K=%zu N=%zu at %zu: got %.9g want %.9g", t.name, what, m, kk, n, i, g, w);
      fail(buf);
      return;
    }
  }
}

void check_q8_0(const Table& t, size_t m, size_t kk, size_t n) {
  const size_t nb = kk / 32;
  std::vector<uint8_t> blocks(n * nb * kQ8BlockBytes);
  for (size_t b = 0; b < n * nb; ++b) {
    const uint16_t d = f32_to_f16(normal(0.05f));
    blocks[b * 34] = static_cast<uint8_t>(d & 0xff);
    blocks[b * 34 + 1] = static_cast<uint8_t>(d >> 8);
    for (size_t p = 0; p < 32; ++p) blocks[b * 34 + 2 + p] = static_cast<uint8_t>(rng() & 0xff);  // -128 included
  }
  const auto panels = pack_q8_0_panels(blocks.data(), n, kk);
  std::vector<float> x(m * kk);
  for (float& v : x) v = normal(1.0f);
  const Rows rs = quantize(kQuantScalar, x, m, kk, 32), rt = quantize(*t.k, x, m, kk, 32);
  if (rs.q != rt.q || std::memcmp(rs.scales.data(), rt.scales.data(), rs.scales.size() * 4) != 0 || rs.sums != rt.sums)
    fail(std::string(t.name) + " quantize_row q8_0 K=" + std::to_string(kk) + " differs from the scalar one");
  const Q8_0Weights w{panels.data(), n, kk};
  std::vector<float> want(m * n, -1.0f), got(m * n, -1.0f), scale(m * n, 0.0f);
  kQuantScalar.gemm_q8_0(w, rs.view, 0, n, want.data(), n);
  t.k->gemm_q8_0(w, rs.view, 0, n, got.data(), n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j)
      for (size_t b = 0; b < nb; ++b) scale[i * n + j] += std::fabs(f16_to_f32(static_cast<uint16_t>(blocks[(j * nb + b) * 34] | (blocks[(j * nb + b) * 34 + 1] << 8)))) * rs.scales[i * nb + b] * 32 * 128 * 127;
  compare("gemm_q8_0", t, m, kk, n, got, want, scale, false);
}

void check_i8(const Table& t, size_t m, size_t kk, size_t n) {
  std::vector<int8_t> q(n * kk);
  for (int8_t& v : q) v = static_cast<int8_t>(rng() & 0xff);
  std::vector<float> ws(n);
  for (float& s : ws) s = std::fabs(normal(0.01f));
  const size_t kp = round_up(kk, kPanelChunkBytes);
  const auto panels = pack_panels<uint8_t>(q.data(), n, kk, kp, kWeightOffset, offset_weight);
  std::vector<float> x(m * kk);
  for (float& v : x) v = normal(1.0f);
  const Rows rs = quantize(kQuantScalar, x, m, kk, kk), rt = quantize(*t.k, x, m, kk, kk);
  if (rs.q != rt.q || std::memcmp(rs.scales.data(), rt.scales.data(), rs.scales.size() * 4) != 0)
    fail(std::string(t.name) + " quantize_row per-row K=" + std::to_string(kk) + " differs from the scalar one");
  const I8Weights w{panels.data(), ws.data(), n, kk, kp};
  std::vector<float> want(m * n, -1.0f), got(m * n, -1.0f), none(m * n, 0.0f);
  kQuantScalar.gemm_i8(w, rs.view, 0, n, want.data(), n);
  t.k->gemm_i8(w, rs.view, 0, n, got.data(), n);
  compare("gemm_i8", t, m, kk, n, got, want, none, true);  // integer dot products: exact
}

void check_half(const Table& t, bool bf16, size_t m, size_t kk, size_t n) {
  std::vector<uint16_t> h(n * kk);
  for (uint16_t& v : h) v = bf16 ? f32_to_bf16(normal(0.1f)) : f32_to_f16(normal(0.1f));
  const size_t kp = round_up(kk, kPanelChunkBytes / 2);
  const auto panels = pack_panels<uint16_t>(h.data(), n, kk, kp, uint16_t{0}, [](uint16_t v) { return v; });
  std::vector<float> x(m * kk), want(m * n, -1.0f), got(m * n, -1.0f), scale(m * n, 0.0f);
  for (float& v : x) v = normal(1.0f);
  const auto gemm_s = bf16 ? kQuantScalar.gemm_bf16 : kQuantScalar.gemm_f16;
  const auto gemm_t = bf16 ? t.k->gemm_bf16 : t.k->gemm_f16;
  gemm_s(panels.data(), kk, kp, x.data(), m, kk, 0, n, want.data(), n);
  gemm_t(panels.data(), kk, kp, x.data(), m, kk, 0, n, got.data(), n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j)
      for (size_t p = 0; p < kk; ++p)
        scale[i * n + j] += std::fabs(x[i * kk + p] * (bf16 ? bf16_to_f32(h[j * kk + p]) : f16_to_f32(h[j * kk + p])));
  compare(bf16 ? "gemm_bf16" : "gemm_f16", t, m, kk, n, got, want, scale, false);
}

}  // namespace

int main() {
  const size_t ms[] = {1, 2, 3, 5, 6, 7, 13, 17, 129};
  const size_t ns[] = {1, 3, 16, 17, 31, 32, 33, 48, 65, 97};
  const size_t k8[] = {32, 64, 96, 160, 768};
  const size_t ks[] = {1, 7, 31, 33, 100, 767};
  int ran = 0;
  for (const Table& t : tables()) {
    if (!t.runs) {
      std::printf("%-9s skipped: this CPU cannot run it\n", t.name);
      continue;
    }
    const int before = failures;
    size_t cases = 0;
    for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); ++mi)
      for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ++ni) {
        const size_t m = ms[mi], n = ns[ni];
        check_q8_0(t, m, k8[(mi + ni) % 5], n);
        check_i8(t, m, ks[(mi + ni) % 6], n);
        check_half(t, false, m, ks[(mi + 2 * ni) % 6], n);
        check_half(t, true, m, ks[(2 * mi + ni) % 6], n);
        cases += 4;
      }
    std::printf("%-9s %s: %zu cases (variant %s)\n", t.name, failures == before ? "ok" : "FAILED", cases, t.k->variant);
    ++ran;
  }
  std::printf("%d table(s) checked against scalar, %d failure(s)\n", ran, failures);
  return failures ? 1 : 0;
}
