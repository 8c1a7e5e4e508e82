// The q2_k .. q6_k, iq4_xs, q4_0, q4_1, q5_0, q5_1 and iq4_nl weight formats: GGUF blocks repacked at
// pack time into 16-column panels (cpu/kquant.h; q2_k 3.25, q3_k 3.625, q4_k 4.75, q5_k 5.75, q6_k
// 6.625, iq4_xs 4.375 bits per weight against the file's 2.625, 3.4375, 4.5, 5.5, 6.5625, 4.25; the
// blocks of 32 keep the file's 4.5 (q4_0, iq4_nl), 5 (q4_1), 5.5 (q5_0), 6 (q5_1)). Linear quantizes
// activations per 256 (q8_K: f32 scale per super-block, int sums), or per 32 for the blocks of 32
// (one f32 scale per block, with the sums their mins and offsets need), and runs the integer kernels.
#include <algorithm>
#include <vector>

#include "../cpu/block_formats.h"
#include "../cpu/kquant.h"
#include "linear_common.h"

namespace attnode {
namespace {

constexpr size_t kBandBytes = size_t{4} << 20;

// x (M, K) as Q8_K super-blocks (cpu/quant_format.h: quantize_row_q8_k, by the Isa's kernel) into thread-local scratch,
// rows split over the pool.   x: (M, K) f32 rows ldx apart, K a multiple of 256
QuantizedRows quantize_rows_q8_k(const float* x, size_t m, size_t ldx, size_t k, const OpEnv& env) {
  thread_local ActivationScratch scratch;
  const size_t groups = k / kSuperBlock, ldq = round_up(k, kPanelChunkBytes);
  scratch.q.assign(m * ldq, 0);
  scratch.scales.assign(m * std::max<size_t>(groups, 1), 0.0f);
  scratch.sums.assign(m * std::max<size_t>(groups, 1), 0);
  int8_t* q = scratch.q.data();
  float* sc = scratch.scales.data();
  int32_t* su = scratch.sums.data();
  const auto quantize_row = kquant_kernels(env.isa).quantize_row_q8_k;
  env.pool->parallel_for(m, std::max<size_t>(1, 16384 / std::max<size_t>(k, 1)), [&](size_t s, size_t e) {
    for (size_t i = s; i < e; ++i) quantize_row(x + i * ldx, k, q + i * ldq, sc + i * groups, su + i * groups);
  });
  return QuantizedRows{q, sc, su, m, k, ldq, kSuperBlock};
}

// The formats in blocks of 32, whose activations are quantized per 32 (with their sums).
bool is_legacy(DType d) { return d == DType::q4_0 || d == DType::q4_1 || d == DType::q5_0 || d == DType::q5_1 || d == DType::iq4_nl; }

class KQuantWeight : public PackedWeight {
 public:
  KQuantWeight(DType dtype, int64_t n, int64_t k, WeightVector<uint8_t> panels) : PackedWeight(dtype, n, k), p_(std::move(panels)) {}

  size_t bytes() const override { return p_.size(); }
  const char* variant(Isa isa) const override { return kquant_kernels(isa).variant; }

  void linear(const float* x, size_t m, size_t ldx, float* out, size_t ldo, const float* bias, Activation act,
              const OpEnv& env) const override {
    const size_t K = static_cast<size_t>(k()), N = static_cast<size_t>(n());
    const bool legacy = is_legacy(dtype());
    const QuantizedRows xq = legacy ? quantize_rows(x, m, ldx, K, kLegacyBlock, env) : quantize_rows_q8_k(x, m, ldx, K, env);
    // Sums of the quants (cpu/kquant.h: kquant_row_sums; q4_k's mins, q6_k's offset of 32), once
    // per call; q4_1 / q5_1 read quantize_rows' per-32 sums instead.   bsums, offs6: (M, K / 16), pairs32: (M, K / 32)
    thread_local std::vector<int32_t> bsums, pairs32, offs6;
    const size_t nsub = K / 16;
    bsums.resize(legacy ? 0 : m * nsub);
    offs6.resize(legacy ? 0 : m * nsub);
    pairs32.resize(legacy ? 0 : m * nsub / 2);
    for (size_t i = 0; i < (legacy ? 0 : m); ++i)
      kquant_row_sums(xq.q + i * xq.ldq, K, bsums.data() + i * nsub, pairs32.data() + i * nsub / 2, offs6.data() + i * nsub);
    // A thread_local is not captured: the pool threads get its pointer, not their own copy.
    const int32_t* bs = bsums.data();
    const int32_t* p32 = pairs32.data();
    const int32_t* o6 = offs6.data();
    const Q4KWeights w{p_.data(), N, K};
    const KQuantKernels& kern = kquant_kernels(env.isa);
    const auto gemm = dtype() == DType::q4_k   ? kern.gemm_q4_k
                      : dtype() == DType::q5_k ? kern.gemm_q5_k
                      : dtype() == DType::q6_k ? kern.gemm_q6_k
                      : dtype() == DType::q4_1 ? kern.gemm_q4_1
                      : dtype() == DType::q5_1 ? kern.gemm_q5_1
                      : dtype() == DType::q2_k ? kern.gemm_q2_k
                      : dtype() == DType::q3_k ? kern.gemm_q3_k
                      : dtype() == DType::q4_0 ? kern.gemm_q4_0
                      : dtype() == DType::q5_0 ? kern.gemm_q5_0
                      : dtype() == DType::iq4_nl ? kern.gemm_iq4_nl
                                               : kern.gemm_iq4_xs;
    linear_over_n(m, N, K, kQ4KPanelCols, kMinSplitInt8, out, ldo, bias, act, env, [&](size_t i0, size_t i1, size_t n0, size_t n1) {
      const KQuantRows part{row_range(xq, i0, i1), legacy ? bs : bs + i0 * nsub, legacy ? p32 : p32 + i0 * nsub / 2,
                            legacy ? o6 : o6 + i0 * nsub};
      gemm(w, part, n0, n1, out + i0 * ldo, ldo);
    });
  }

 private:
  WeightVector<uint8_t> p_;  // (ceil(N / 16), K / 256) panel blocks (cpu/kquant.h)
};

// weight: (N, K) q2_k .. q6_k | iq4_xs (K a multiple of 256) or q4_1 | q5_1 (of 32), checked by Args. Always plain. Band by band
// (about kBandBytes of source), each band's rows reported read once packed.
template <DType D, size_t SrcBytes, size_t PanelBytes, void (*Pack)(const uint8_t*, size_t, size_t, size_t, size_t, uint8_t*),
          size_t Block = kSuperBlock>
std::unique_ptr<PackedWeight> make_kquant_weight(Args&, const WeightSource& w) {
  const size_t N = static_cast<size_t>(w.n), K = static_cast<size_t>(w.k);
  const size_t nsb = K / Block, panels = (N + kQ4KPanelCols - 1) / kQ4KPanelCols;
  WeightVector<uint8_t> out(std::max<size_t>(1, panels * nsb * PanelBytes), 0);
  const size_t band = std::max<size_t>(1, kBandBytes / (std::max<size_t>(1, nsb) * SrcBytes * kQ4KPanelCols));
  for (size_t p0 = 0; p0 < panels; p0 += band) {
    const size_t p1 = std::min(panels, p0 + band);
    Pack(w.as<uint8_t>(), N, K, p0, p1, out.data());
    w.read_rows(std::min(N, p1 * kQ4KPanelCols));
  }
  return std::make_unique<KQuantWeight>(D, w.n, w.k, std::move(out));
}

const WeightFormatRegistrar kQ4K(DType::q4_k, make_kquant_weight<DType::q4_k, kQ4_KBytes, kQ4KPanelBlockBytes, pack_q4_k_panel_range>);
const WeightFormatRegistrar kQ5K(DType::q5_k, make_kquant_weight<DType::q5_k, kQ5_KBytes, kQ5KPanelBlockBytes, pack_q5_k_panel_range>);
const WeightFormatRegistrar kQ6K(DType::q6_k, make_kquant_weight<DType::q6_k, kQ6_KBytes, kQ6KPanelBlockBytes, pack_q6_k_panel_range>);
const WeightFormatRegistrar kQ2K(DType::q2_k, make_kquant_weight<DType::q2_k, kQ2_KBytes, kQ2KPanelBlockBytes, pack_q2_k_panel_range>);
const WeightFormatRegistrar kQ3K(DType::q3_k, make_kquant_weight<DType::q3_k, kQ3_KBytes, kQ3KPanelBlockBytes, pack_q3_k_panel_range>);
const WeightFormatRegistrar kQ4_1(DType::q4_1,
                                  make_kquant_weight<DType::q4_1, kQ4_1Bytes, kQ41PanelBlockBytes, pack_q4_1_panel_range, kLegacyBlock>);
const WeightFormatRegistrar kQ5_1(DType::q5_1,
                                  make_kquant_weight<DType::q5_1, kQ5_1Bytes, kQ51PanelBlockBytes, pack_q5_1_panel_range, kLegacyBlock>);
const WeightFormatRegistrar kQ4_0(DType::q4_0,
                                  make_kquant_weight<DType::q4_0, kQ4_0Bytes, kQ40PanelBlockBytes, pack_q4_0_panel_range, kLegacyBlock>);
const WeightFormatRegistrar kQ5_0(DType::q5_0,
                                  make_kquant_weight<DType::q5_0, kQ5_0Bytes, kQ50PanelBlockBytes, pack_q5_0_panel_range, kLegacyBlock>);
const WeightFormatRegistrar kIQ4_NL(DType::iq4_nl, make_kquant_weight<DType::iq4_nl, kIQ4_NLBytes, kQ40PanelBlockBytes,
                                                                      pack_iq4_nl_panel_range, kLegacyBlock>);
const WeightFormatRegistrar kIQ4XS(DType::iq4_xs,
                                   make_kquant_weight<DType::iq4_xs, kIQ4_XSBytes, kIQ4XSPanelBlockBytes, pack_iq4_xs_panel_range>);

}  // namespace
}  // namespace attnode
