// The q8_0 weight format: GGUF Q8_0 blocks (f16 scale + 32 int8 per block) repacked at pack time
// into column panels with their scales interleaved (cpu/quant.h), same bytes per weight (8.5
// bits). Linear quantizes the activations per block of 32 and runs the int8 kernels.
#include <algorithm>
#include <cstring>
#include <vector>

#include "linear_common.h"

namespace attnode {
namespace {

// Source bytes packed between two reports of rows read (WeightSource::read_rows).
constexpr size_t kBandBytes = size_t{4} << 20;

class Q8_0Weight : public PackedWeight {
 public:
  // panels: (ceil(N / 32), K / 32) panel blocks (cpu/quant_pack.h), packed by make_q8_0_weight.
  // dtype: what the weight reports (q8_0).
  Q8_0Weight(DType dtype, int64_t n, int64_t k, WeightVector<uint8_t> panels) : PackedWeight(dtype, n, k), p_(std::move(panels)) {}

  size_t bytes() const override { return p_.size(); }  // padding included
  const char* variant(Isa isa) const override { return quant_kernels(isa).variant; }

  void linear(const float* x, size_t m, size_t ldx, float* out, size_t ldo, const float* bias, Activation act,
              const OpEnv& env) const override {
    const size_t K = static_cast<size_t>(k());
    const QuantizedRows xq = quantize_rows(x, m, ldx, K, kQ8BlockSize, env);
    const Q8_0Weights w{p_.data(), static_cast<size_t>(n()), K};
    const auto gemm = quant_kernels(env.isa).gemm_q8_0;
    linear_over_n(m, static_cast<size_t>(n()), K, kQ8PanelCols, kMinSplitInt8, out, ldo, bias, act, env,
                  [&](size_t i0, size_t i1, size_t n0, size_t n1) { gemm(w, row_range(xq, i0, i1), n0, n1, out + i0 * ldo, ldo); });
  }

 private:
  WeightVector<uint8_t> p_;  // (ceil(N / 32), K / 32) panel blocks of kQ8PanelBlockBytes (cpu/quant.h)
};

}  // namespace

// weight: (N, K) q8_0, K a multiple of 32 (checked by Args with the block count). Every block
// scale must be finite: a NaN or Inf scale is corrupt data, not a number to multiply by.
// Always plain (N, K): packWeight refuses 'transposed' for block formats. `stored` names the
// dtype the weight reports.
std::unique_ptr<PackedWeight> make_q8_0_panels(Args& args, const WeightSource& w, DType stored) {
  const auto* blocks = w.as<uint8_t>();
  const size_t N = static_cast<size_t>(w.n), K = static_cast<size_t>(w.k);
  const size_t per_row = K / kQ8BlockSize, panels = (N + kQ8PanelCols - 1) / kQ8PanelCols;
  WeightVector<uint8_t> out(panels * per_row * kQ8PanelBlockBytes, 0);
  // Band by band (about kBandBytes of blocks): check the band's scales, pack it, report its rows
  // read, so a mapped source is never resident whole next to its packed copy.
  const size_t band = std::max<size_t>(1, kBandBytes / (std::max<size_t>(1, per_row) * kQ8BlockBytes * kQ8PanelCols));
  for (size_t p0 = 0; p0 < panels; p0 += band) {
    const size_t p1 = std::min(panels, p0 + band);
    const size_t r0 = p0 * kQ8PanelCols, r1 = std::min(N, p1 * kQ8PanelCols);
    const size_t first = r0 * per_row, count = (r1 - r0) * per_row;
    const size_t bad = first + q8_0_first_bad_scale(blocks + first * kQ8BlockBytes, count);
    if (bad < first + count) {
      args.range_error(std::string("'weight' (") + dtype_name(stored) + ") block " + std::to_string(bad % per_row) + " of row " +
                       std::to_string(bad / per_row) + " has a non-finite scale (f16 bits 0x" +
                       [](uint16_t h) {
                         const char* hex = "0123456789abcdef";
                         std::string s;
                         for (int i = 12; i >= 0; i -= 4) s += hex[(h >> i) & 0xf];
                         return s;
                       }(q8_0_scale_bits(blocks, bad)) + ")");
    }
    pack_q8_0_panel_range(blocks, N, K, p0, p1, out.data());
    w.read_rows(r1);
  }
  return std::make_unique<Q8_0Weight>(stored, w.n, w.k, std::move(out));
}

namespace {

std::unique_ptr<PackedWeight> make_q8_0_weight(Args& args, const WeightSource& w) { return make_q8_0_panels(args, w, DType::q8_0); }

const WeightFormatRegistrar kQ8_0(DType::q8_0, make_q8_0_weight);

}  // namespace
}  // namespace attnode
