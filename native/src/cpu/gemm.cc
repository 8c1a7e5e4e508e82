// The f32 GEMM driver: B packing, cache blocking, the thread split and the fused epilogue,
// around the microkernel table of the chosen instruction set (isa/<name>/gemm.cc).
// Not here: the microkernels themselves, and argument checks (the ops do those).
#include "gemm.h"

#include <algorithm>
#include <cstring>

#include "elementwise.h"
#include "../threadpool.h"

namespace attnode {

const GemmKernels& gemm_kernels(Isa isa) {
  switch (isa) {
#if ATTNODE_X86
    case Isa::avx512: return gemm_kernels_avx512();
    case Isa::avx2: return kGemmAvx2;
#endif
#if ATTNODE_ARM64
    case Isa::neon: return kGemmNeon;
#endif
    default: return kGemmScalar;
  }
}

namespace {

const KernelFamilyRegistrar kFamily("gemm", [](Isa isa) { return gemm_kernels(isa).variant; });

// Blocking (chosen for Zen 4: 32 KiB L1d, 1 MiB L2; measured, see bench/matmul.bench.ts):
// a microkernel's A micro-panel (mr x kKc) stays in L1 while B panels stream past it from a
// chunk of kKc x kNcCols in L2; kMcTiles * mr rows of A are packed at a time.
// kKc is the k block; deep products (K >= kDeepK) use twice that, which halves the passes over C
// (measured: +4% on 1024 and 2048 squares, no gain at K = 512 or 768).
constexpr size_t kKc = 256;
constexpr size_t kDeepK = 1024;
constexpr size_t kMcTiles = 8;
constexpr size_t kNcCols = 1024;

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// Packs rows [0, mc) and k-range [0, kc) of A into micro-panels of mr rows (the last one may
// be shorter and is packed with its own row count, as its kernel expects), with the
// instruction set's own packer when it has one.
//   a: (mc, kc) f32 rows lda apart -> dst: sum over panels of (kc, rows) k-major
void pack_a(const float* a, size_t lda, size_t mc, size_t kc, size_t mr, const GemmKernels& kt, float* dst) {
  for (size_t r0 = 0; r0 < mc; r0 += mr) {
    const size_t rows = std::min(mr, mc - r0);
    const float* src = a + r0 * lda;
    if (kt.pack_a) {
      kt.pack_a(src, lda, rows, kc, dst);
    } else {
      // Sequential writes, reads from `rows` streams (measured: about half the time of walking
      // each row with strided writes).
      for (size_t p = 0; p < kc; ++p)
        for (size_t i = 0; i < rows; ++i) dst[p * rows + i] = src[i * lda + p];
    }
    dst += rows * kc;
  }
}

// Packs k rows [k0, k0 + kc) of columns [col, col + cols) of B into one (kc, nr) panel,
// zero-filling columns past `cols`. B is (K, N) rows ldb apart, or (N, K) when trans.
void pack_b_panel(const float* b, size_t ldb, bool trans, size_t k0, size_t kc, size_t col, size_t cols,
                  const GemmKernels& kt, float* dst) {
  const size_t nr = kt.nr;
  if (trans && kt.pack_b_trans) {
    kt.pack_b_trans(b + col * ldb + k0, ldb, kc, cols, dst);
    return;
  }
  if (!trans && kt.pack_b) {
    kt.pack_b(b + k0 * ldb + col, ldb, kc, cols, dst);
    return;
  }
  if (!trans) {
    // Each k row of the panel is a contiguous run of cols floats.
    for (size_t p = 0; p < kc; ++p) {
      std::memcpy(dst + p * nr, b + (k0 + p) * ldb + col, cols * sizeof(float));
      std::fill(dst + p * nr + cols, dst + (p + 1) * nr, 0.0f);
    }
    return;
  }
  // A transpose, a few k at a time so the writes stay within a few cache lines.
  if (cols < nr)
    for (size_t p = 0; p < kc; ++p) std::fill(dst + p * nr + cols, dst + (p + 1) * nr, 0.0f);
  constexpr size_t kStep = 16;
  for (size_t p0 = 0; p0 < kc; p0 += kStep) {
    const size_t p1 = std::min(kc, p0 + kStep);
    for (size_t j = 0; j < cols; ++j) {
      const float* src = b + (col + j) * ldb + k0;
      for (size_t p = p0; p < p1; ++p) dst[p * nr + j] = src[p];
    }
  }
}

using ActFn = void (*)(const float*, float*, size_t);

ActFn activation_fn(GemmActivation act, Isa isa) {
  const ElementwiseKernels& e = elementwise_kernels(isa);
  switch (act) {
    case GemmActivation::gelu_erf: return e.gelu_erf_f32;
    case GemmActivation::gelu_tanh: return e.gelu_tanh_f32;
    case GemmActivation::silu: return e.silu_f32;
    case GemmActivation::relu: return relu_f32_plain;
    case GemmActivation::tanh: return tanh_f32_plain;
    default: return nullptr;
  }
}

// One thread's share: rows [m0, m1) by panels [j0, j1) of C.
void gemm_block(const GemmArgs& g, const GemmKernels& kt, ActFn act, size_t m0, size_t m1, size_t j0, size_t j1) {
  if (m0 >= m1 || j0 >= j1) return;
  const size_t nr = kt.nr, K = g.k;
  const size_t rows = m1 - m0;
  // Tiles of even height: 128 rows are 9 x 13 + 11 rather than 9 x 14 + 2, since a short
  // tile streams B as often as a full one for a fraction of the work.
  const size_t tiles = ceil_div(rows, kt.mr);
  const size_t mr = ceil_div(rows, tiles);
  // With a single row block of pre-packed B, the whole k range is done in one pass: C is
  // written once and each weight panel is one sequential stream (the decode case).
  const bool packed = g.bp != nullptr;
  const size_t kc_max = rows <= mr && packed ? std::max<size_t>(K, 1) : K >= kDeepK ? 2 * kKc : kKc;
  const size_t mc_max = kMcTiles * mr;
  const size_t panels_per_chunk = std::max<size_t>(1, kNcCols / nr);
  thread_local std::vector<float> abuf;
  const size_t need = std::min(rows, mc_max) * std::min(kc_max, std::max<size_t>(K, 1));
  if (abuf.size() < need) abuf.resize(need);
  // Unpacked B is packed chunk by chunk right before use, while it is still in cache.
  thread_local std::vector<float> bbuf;
  if (!packed) {
    const size_t bneed = std::min(kc_max, std::max<size_t>(K, 1)) * panels_per_chunk * nr;
    if (bbuf.size() < bneed) bbuf.resize(bneed);
  }

  for (size_t jc = j0; jc < j1; jc += panels_per_chunk) {
    const size_t jc_end = std::min(j1, jc + panels_per_chunk);
    size_t pc = 0;
    do {  // at least once, so K = 0 still applies beta, bias and the activation
      const size_t kc = std::min(kc_max, K - pc);
      const bool first = pc == 0, last = pc + kc >= K;
      if (!packed)
        for (size_t jp = jc; jp < jc_end; ++jp)
          pack_b_panel(g.b, g.ldb, g.trans_b, pc, kc, jp * nr, std::min(nr, g.n - jp * nr), kt,
                       bbuf.data() + (jp - jc) * kc * nr);
      for (size_t ic = m0; ic < m1; ic += mc_max) {
        const size_t mc = std::min(mc_max, m1 - ic);
        pack_a(g.a + ic * g.lda + pc, g.lda, mc, kc, mr, kt, abuf.data());
        const float* ap = abuf.data();
        for (size_t ir = 0; ir < mc; ir += mr) {
          const size_t mrr = std::min(mr, mc - ir);
          const GemmMicroKernel kern = kt.kernels[mrr];
          for (size_t jp = jc; jp < jc_end; ++jp) {
            const size_t col = jp * nr;
            const size_t nrr = std::min(nr, g.n - col);
            GemmTile tile{g.alpha, first ? g.beta : 1.0f, last && g.bias ? g.bias + col : nullptr};
            float* cp = g.c + (ic + ir) * g.ldc + col;
            const float* bpan = packed ? g.bp + jp * K * nr + pc * nr : bbuf.data() + (jp - jc) * kc * nr;
            kern(kc, ap, bpan, cp, g.ldc, nrr, tile);
            if (last && act)
              for (size_t i = 0; i < mrr; ++i) act(cp + i * g.ldc, cp + i * g.ldc, nrr);
          }
          ap += mrr * kc;
        }
      }
      pc += kc;
    } while (pc < K);
  }
}

}  // namespace

size_t gemm_packed_b_floats(size_t k, size_t n, size_t nr) { return ceil_div(n, nr) * nr * k; }

void gemm_pack_b(const float* b, size_t ldb, bool trans, size_t k, size_t n, const GemmKernels& kt, float* out,
                 ThreadPool* pool) {
  const size_t nr = kt.nr;
  const size_t panels = ceil_div(n, nr);
  auto pack = [&](size_t s, size_t e) {
    for (size_t jp = s; jp < e; ++jp) pack_b_panel(b, ldb, trans, 0, k, jp * nr, std::min(nr, n - jp * nr), kt, out + jp * k * nr);
  };
  if (pool)
    pool->parallel_for(panels, 1, pack);
  else
    pack(0, panels);
}

void gemm_f32(const GemmArgs& g, Isa isa, ThreadPool* pool) {
  if (g.m == 0 || g.n == 0) return;
  const GemmKernels& kt = gemm_kernels(isa);
  const ActFn act = activation_fn(g.act, isa);
  const size_t panels = ceil_div(g.n, kt.nr);
  const size_t threads = static_cast<size_t>(pool->size());
  // Waking the pool costs microseconds (far more when the cores are oversubscribed): below
  // ~500k multiply-adds (a 768 x 640 decode step, ~25 us on one core with cached weights) a
  // second thread costs more than it gives; a 768 x 768 decode step from DRAM is split.
  const double work = static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  if (threads == 1 || work < 5e5) {
    gemm_block(g, kt, act, 0, g.m, 0, panels);
    return;
  }
  // Split N panels when there are enough for every thread (each thread then streams its own
  // contiguous part of B); otherwise split M in whole tiles.
  const size_t m_tiles = ceil_div(g.m, kt.mr);
  const bool split_n = panels >= 2 * threads || m_tiles < threads;
  pool->run_on_all([&](int t, int count) {
    const size_t ti = static_cast<size_t>(t), tc = static_cast<size_t>(count);
    if (split_n) {
      gemm_block(g, kt, act, 0, g.m, panels * ti / tc, panels * (ti + 1) / tc);
    } else {
      const size_t r0 = std::min(g.m, m_tiles * ti / tc * kt.mr);
      const size_t r1 = std::min(g.m, m_tiles * (ti + 1) / tc * kt.mr);
      gemm_block(g, kt, act, r0, r1, 0, panels);
    }
  });
}

}  // namespace attnode
