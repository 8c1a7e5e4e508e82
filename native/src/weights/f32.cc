// The f32 weight format: W (N, K) packed once into the GEMM's column panels (cpu/gemm.h), and
// linear as one blocked GEMM with bias and activation fused into the tile epilogue.
// The 'reference' layout option keeps the plain loops of weights/f32_reference.cc instead.
#include <array>
#include <mutex>
#include <vector>

#include "../cpu/gemm.h"
#include "../weight_buffer.h"
#include "../weights.h"

namespace attnode {

std::unique_ptr<PackedWeight> make_f32_reference_weight(int64_t n, int64_t k, const float* w);

namespace {

GemmActivation gemm_activation(Activation a) {
  switch (a) {
    case Activation::gelu_erf: return GemmActivation::gelu_erf;
    case Activation::gelu_tanh: return GemmActivation::gelu_tanh;
    case Activation::silu: return GemmActivation::silu;
    case Activation::relu: return GemmActivation::relu;
    case Activation::tanh: return GemmActivation::tanh;
    default: return GemmActivation::none;
  }
}

constexpr size_t kIsaCount = 4;
// Source bytes packed between two reports of rows read (WeightSource::read_rows).
constexpr size_t kBandBytes = size_t{4} << 20;

class F32PackedWeight : public PackedWeight {
 public:
  // w: (N, K) f32 rows ldw apart (trans) or its transpose (K, N) rows ldw apart (Conv1D
  // storage), packed now for the panel width of the best instruction set on this CPU. Rows
  // (trans) are packed in bands of about kBandBytes, each reported to `src` once it is done.
  F32PackedWeight(const WeightSource& src, const float* w, size_t ldw, bool trans)
      : PackedWeight(DType::f32, src.n, src.k), primary_(best_isa()) {
    const size_t N = static_cast<size_t>(n()), K = static_cast<size_t>(k());
    Pack& p = packs_[index(primary_)];
    const GemmKernels& kt = gemm_kernels(primary_);
    p.nr = kt.nr;
    p.data.resize(std::max<size_t>(1, gemm_packed_b_floats(K, N, p.nr)));
    // Whole panels per band: a band's packed panels start at its first row's panel.
    const size_t band = std::max<size_t>(1, kBandBytes / (std::max<size_t>(1, K) * sizeof(float) * p.nr)) * p.nr;
    for (size_t n0 = 0; n0 < N; n0 += band) {
      const size_t nb = std::min(band, N - n0);
      gemm_pack_b(w + n0 * (trans ? ldw : 1), ldw, trans, K, nb, kt, p.data.data() + n0 * K, nullptr);
      if (trans) src.read_rows(n0 + nb);
    }
    std::call_once(p.once, [] {});
  }

  size_t bytes() const override {
    std::lock_guard<std::mutex> lock(bytes_mutex_);
    size_t total = 0;
    for (const Pack& p : packs_) total += p.data.size() * sizeof(float);
    return total;
  }
  const char* variant(Isa isa) const override { return gemm_kernels(isa).variant; }

  void linear(const float* x, size_t m, size_t ldx, float* out, size_t ldo, const float* bias, Activation act,
              const OpEnv& env) const override {
    GemmArgs g;
    g.m = m;
    g.n = static_cast<size_t>(n());
    g.k = static_cast<size_t>(k());
    g.a = x;
    g.lda = ldx;
    g.bp = packed_for(env.isa).data();
    g.c = out;
    g.ldc = ldo;
    g.bias = bias;
    g.act = gemm_activation(act);
    gemm_f32(g, env.isa, env.pool);
  }

 private:
  struct Pack {
    size_t nr = 0;
    WeightVector<float> data;  // (ceil(N / nr), K, nr) f32
    std::once_flag once;
  };

  static size_t index(Isa isa) { return static_cast<size_t>(isa); }

  // Another kernel set (tests, setIsa) may want another panel width: derived once from the
  // primary packing, since W itself is not kept.
  const WeightVector<float>& packed_for(Isa isa) const {
    Pack& p = packs_[index(isa)];
    std::call_once(p.once, [&] {
      const Pack& src = packs_[index(primary_)];
      const size_t N = static_cast<size_t>(n()), K = static_cast<size_t>(k());
      const GemmKernels& kt = gemm_kernels(isa);
      const size_t nr = kt.nr;
      if (nr == src.nr) return;  // shares the primary packing
      std::vector<float> w(std::max<size_t>(1, N * K));
      for (size_t j = 0; j < N; ++j)
        for (size_t q = 0; q < K; ++q) w[j * K + q] = src.data[(j / src.nr) * K * src.nr + q * src.nr + j % src.nr];
      WeightVector<float> d(std::max<size_t>(1, gemm_packed_b_floats(K, N, nr)));
      gemm_pack_b(w.data(), K, true, K, N, kt, d.data(), nullptr);
      std::lock_guard<std::mutex> lock(bytes_mutex_);
      p.nr = nr;
      p.data = std::move(d);
    });
    return p.data.empty() ? packs_[index(primary_)].data : p.data;
  }

  Isa primary_;
  mutable std::array<Pack, kIsaCount> packs_;
  mutable std::mutex bytes_mutex_;
};

// w: (N, K) f32 by strides. The GEMM packer reads row-major (N, K) or (K, N) directly; the
// reference layout keeps a row-major copy, gathered here from other strides.
std::unique_ptr<PackedWeight> make_f32_weight(Args& args, const WeightSource& w) {
  const std::string layout = args.choice("layout", "packed", {"packed", "reference"});
  const size_t N = static_cast<size_t>(w.n), K = static_cast<size_t>(w.k);
  if (layout == "reference") {
    if (w.plain()) return make_f32_reference_weight(w.n, w.k, w.as<float>());
    std::vector<float> rows(std::max<size_t>(1, N * K));
    for (size_t j = 0; j < N; ++j)
      for (size_t p = 0; p < K; ++p) rows[j * K + p] = w.at<float>(j, p);
    return make_f32_reference_weight(w.n, w.k, rows.data());
  }
  if (w.stride_k == 1) return std::make_unique<F32PackedWeight>(w, w.as<float>(), w.stride_n, true);
  if (w.stride_n == 1) return std::make_unique<F32PackedWeight>(w, w.as<float>(), w.stride_k, false);
  args.range_error("'weight' strides must make rows or columns contiguous");
}

const WeightFormatRegistrar kF32(DType::f32, make_f32_weight);

}  // namespace
}  // namespace attnode
