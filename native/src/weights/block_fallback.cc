// The GGUF legacy and k-quant weight formats without an integer kernel of their own: W (N, K)
// kept as its blocks (same bytes as the file) and, per tile of output features, dequantized by
// the format table's reference into an f32 scratch tile that the f32 GEMM multiplies. Correct
// for every block format; not fast (formats with integer kernels register their own file).
#include <algorithm>
#include <cstring>
#include <vector>

#include "../cpu/gemm.h"
#include "../formats.h"
#include "../threadpool.h"
#include "linear_common.h"

namespace attnode {
namespace {

// Output features dequantized at once: with K = 4096 a 32-row f32 tile is 512 KiB, in L2.
constexpr size_t kTileRows = 32;
constexpr double kMinSplitBlock = 2e5;

// The GEMM on a tile runs on the thread that dequantized it: a pool of one never wakes anyone.
ThreadPool& single_thread_pool() {
  static ThreadPool pool(1);
  return pool;
}

class BlockFallbackWeight : public PackedWeight {
 public:
  // blocks: (N, K / block) blocks of the dtype, as stored.
  BlockFallbackWeight(DType dtype, int64_t n, int64_t k, WeightVector<uint8_t> blocks)
      : PackedWeight(dtype, n, k), blocks_(std::move(blocks)) {}

  size_t bytes() const override { return blocks_.size(); }
  const char* variant(Isa) const override { return "dequantize_f32_gemm"; }

  void linear(const float* x, size_t m, size_t ldx, float* out, size_t ldo, const float* bias, Activation act,
              const OpEnv& env) const override {
    const FormatTraits& f = format_traits(dtype());
    const size_t K = static_cast<size_t>(k()), N = static_cast<size_t>(n());
    const size_t row_bytes = K / f.block_size * f.block_bytes;
    linear_over_n(m, N, K, kTileRows, kMinSplitBlock, out, ldo, bias, act, env, [&](size_t i0, size_t i1, size_t n0, size_t n1) {
      thread_local std::vector<float> tile;
      tile.resize(kTileRows * std::max<size_t>(K, 1));
      for (size_t j0 = n0; j0 < n1; j0 += kTileRows) {
        const size_t rows = std::min(kTileRows, n1 - j0);
        for (size_t r = 0; r < rows; ++r) f.to_float(blocks_.data() + (j0 + r) * row_bytes, K, tile.data() + r * K);
        GemmArgs g;
        g.m = i1 - i0;
        g.n = rows;
        g.k = K;
        g.a = x + i0 * ldx;
        g.lda = ldx;
        g.b = tile.data();
        g.ldb = K;
        g.trans_b = true;
        g.c = out + i0 * ldo + j0;
        g.ldc = ldo;
        gemm_f32(g, env.isa, &single_thread_pool());
      }
    });
  }

 private:
  WeightVector<uint8_t> blocks_;  // (N, K / block) blocks
};

// weight: (N, K) in a block format, K a multiple of its block (checked by Args). Always plain:
// packWeight refuses 'transposed' for block formats.
std::unique_ptr<PackedWeight> make_block_fallback_weight(Args&, const WeightSource& w) {
  const FormatTraits& f = format_traits(w.dtype);
  const size_t N = static_cast<size_t>(w.n), K = static_cast<size_t>(w.k);
  const size_t bytes = N * (K / f.block_size) * f.block_bytes;
  WeightVector<uint8_t> blocks(std::max<size_t>(bytes, 1), 0);
  if (bytes) std::memcpy(blocks.data(), w.data, bytes);
  w.read_rows(N);
  return std::make_unique<BlockFallbackWeight>(w.dtype, w.n, w.k, std::move(blocks));
}

const WeightFormatRegistrar kQ2_K(DType::q2_k, make_block_fallback_weight);
const WeightFormatRegistrar kQ3_K(DType::q3_k, make_block_fallback_weight);

}  // namespace

}  // namespace attnode
