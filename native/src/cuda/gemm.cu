// Dense GEMM for `linear` (kernels.h): c = a . w^T + bias with w in the weight layout (N, K).
//   gemm_half: tensor cores, mma.sync.m16n8k16 (f16 or bf16 inputs, f32 accumulation), a 3-stage
//              cp.async pipeline of 128x128x32 tiles, 4 warps each owning 64x64 of C (a 64x64
//              warp tile reads 128 bytes of shared memory per mma, 64x32 reads 192: shared
//              memory bandwidth, not the tensor cores, bounds a smaller one).
//   gemm_f32:  the CUDA cores, 64x64 tiles, 4x4 outputs per thread; f32 weights only.
// GEMV for few rows lives in gemv.cu. Not here: quantized weights (quant.cu).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda_check.h"
#include "device_util.cuh"
#include "runtime.h"

namespace attnode::cuda {
namespace {

// ---- tensor-core GEMM ----
constexpr int kBM = 128, kBN = 128, kBK = 32, kStages = 3;
// Shared rows are padded from 32 to 40 halves (80 bytes): the 8 rows a fragment load touches then
// fall in 8 different groups of 4 banks, so fragment loads are conflict-free, and 80 stays a
// multiple of the 16 bytes cp.async writes.
constexpr int kLds = kBK + 8;
constexpr int kWarpsN = 2;                  // 2 x 2 warps
constexpr int kWarpTileN = kBN / kWarpsN;   // 64 columns, 8 mma tiles of 8
constexpr int kWarpTileM = 64;              // 64 rows, 4 mma tiles of 16
constexpr int kThreadsTc = 32 * (kBM / kWarpTileM) * kWarpsN;  // 128
constexpr size_t kStageHalves = static_cast<size_t>(kBM + kBN) * kLds;
constexpr size_t kSmemTc = kStages * kStageHalves * sizeof(uint16_t);  // 61440 bytes

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// d += a . b for one 16x8x16 tile. a: 4 registers (A row-major 16x16), b: 2 (B col-major 16x8).
template <bool kBf16>
__device__ __forceinline__ void mma16816(float* d, const uint32_t* a, const uint32_t* b) {
  if constexpr (kBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}

// Loads rows [r0, r0 + 128) x columns [k0, k0 + 32) of a (rows, K) half matrix into a (128, kLds)
// shared tile, zeros outside. kVec: K % 8 == 0 and the base 16-byte aligned, so every 8-half
// chunk is either wholly inside or wholly outside and goes by cp.async (zero-filled outside);
// otherwise element by element.
template <bool kVec>
__device__ __forceinline__ void load_tile(uint16_t* tile, const uint16_t* g, size_t rows, size_t k, size_t r0,
                                          size_t k0) {
  static_assert(kBM == kBN, "one loader for both tiles");
  constexpr int kChunks = kBM * kBK / 8;  // 512 chunks of 8 halves
  for (int c = threadIdx.x; c < kChunks; c += kThreadsTc) {
    const int r = c / (kBK / 8), kc = (c % (kBK / 8)) * 8;
    const size_t gr = r0 + r, gk = k0 + kc;
    uint16_t* dst = tile + r * kLds + kc;
    if constexpr (kVec) {
      const bool in = gr < rows && gk < k;
      cp_async16(dst, in ? g + gr * k + gk : g, in ? 16 : 0);
    } else {
      for (int e = 0; e < 8; ++e) dst[e] = (gr < rows && gk + e < k) ? g[gr * k + gk + e] : uint16_t{0};
    }
  }
}

template <bool kBf16, bool kVec>
__global__ void __launch_bounds__(kThreadsTc) gemm_half_kernel(const uint16_t* __restrict__ a,
                                                               const uint16_t* __restrict__ w,
                                                               const float* __restrict__ bias, float* __restrict__ c,
                                                               size_t m, size_t n, size_t k) {
  extern __shared__ __align__(16) uint16_t smem[];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int warp_m = warp / kWarpsN, warp_n = warp % kWarpsN;
  const int gid = lane >> 2, tig = lane & 3;       // the fragment layout's groupID, thread in group
  const size_t m0 = static_cast<size_t>(blockIdx.y) * kBM, n0 = static_cast<size_t>(blockIdx.x) * kBN;
  const int ktiles = static_cast<int>((k + kBK - 1) / kBK);

  constexpr int kTm = kWarpTileM / 16, kTn = kWarpTileN / 8;  // mma tiles per warp
  float acc[kTm][kTn][4];
#pragma unroll
  for (int i = 0; i < kTm; ++i)
#pragma unroll
    for (int j = 0; j < kTn; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  auto stage_a = [&](int s) { return smem + s * kStageHalves; };
  auto stage_b = [&](int s) { return smem + s * kStageHalves + kBM * kLds; };

  // Prologue: tiles 0 .. kStages-2 in flight. One commit per tile slot, even an empty one, so
  // that wait_group counts stay aligned with tile indices.
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) {
      load_tile<kVec>(stage_a(s), a, m, k, m0, static_cast<size_t>(s) * kBK);
      load_tile<kVec>(stage_b(s), w, n, k, n0, static_cast<size_t>(s) * kBK);
    }
    cp_async_commit();
  }

  for (int kt = 0; kt < ktiles; ++kt) {
    // Tile kt has landed (at most kStages-2 newer groups pending), and every warp is done with
    // the stage the prefetch below overwrites (it held tile kt-1).
    cp_async_wait<kStages - 2>();
    __syncthreads();
    const int next = kt + kStages - 1;
    if (next < ktiles) {
      load_tile<kVec>(stage_a(next % kStages), a, m, k, m0, static_cast<size_t>(next) * kBK);
      load_tile<kVec>(stage_b(next % kStages), w, n, k, n0, static_cast<size_t>(next) * kBK);
    }
    cp_async_commit();

    const uint16_t* as = stage_a(kt % kStages);
    const uint16_t* bs = stage_b(kt % kStages);
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      uint32_t af[kTm][4], bf[kTn][2];
#pragma unroll
      for (int i = 0; i < kTm; ++i) {
        const uint16_t* p = as + (warp_m * kWarpTileM + i * 16 + gid) * kLds + kk + tig * 2;
        af[i][0] = *reinterpret_cast<const uint32_t*>(p);
        af[i][1] = *reinterpret_cast<const uint32_t*>(p + 8 * kLds);
        af[i][2] = *reinterpret_cast<const uint32_t*>(p + 8);
        af[i][3] = *reinterpret_cast<const uint32_t*>(p + 8 * kLds + 8);
      }
#pragma unroll
      for (int j = 0; j < kTn; ++j) {
        const uint16_t* p = bs + (warp_n * kWarpTileN + j * 8 + gid) * kLds + kk + tig * 2;
        bf[j][0] = *reinterpret_cast<const uint32_t*>(p);
        bf[j][1] = *reinterpret_cast<const uint32_t*>(p + 8);
      }
#pragma unroll
      for (int i = 0; i < kTm; ++i)
#pragma unroll
        for (int j = 0; j < kTn; ++j) mma16816<kBf16>(acc[i][j], af[i], bf[j]);
    }
  }
  cp_async_wait<0>();

  // The accumulator layout: e 0,1 at (row gid, columns 2*tig, 2*tig+1), e 2,3 at row gid + 8.
#pragma unroll
  for (int i = 0; i < kTm; ++i)
#pragma unroll
    for (int j = 0; j < kTn; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const size_t row = m0 + warp_m * kWarpTileM + i * 16 + gid + (e >= 2 ? 8 : 0);
        const size_t col = n0 + warp_n * kWarpTileN + j * 8 + tig * 2 + (e & 1);
        if (row < m && col < n) c[row * n + col] = acc[i][j][e] + (bias ? bias[col] : 0.0f);
      }
}

template <bool kBf16, bool kVec>
void launch_gemm_half(const uint16_t* a, const uint16_t* w, const float* bias, float* c, size_t m, size_t n, size_t k,
                      cudaStream_t s) {
  // More than 48 KiB of dynamic shared memory must be asked for, once per kernel.
  static const bool configured = [] {
    ATTNODE_CUDA_CHECK(cudaFuncSetAttribute(gemm_half_kernel<kBf16, kVec>,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSmemTc)));
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>((n + kBN - 1) / kBN), static_cast<unsigned>((m + kBM - 1) / kBM));
  gemm_half_kernel<kBf16, kVec><<<grid, kThreadsTc, kSmemTc, s>>>(a, w, bias, c, m, n, k);
  ATTNODE_CUDA_CHECK_LAUNCH("gemm_half");
}

// ---- f32 SIMT GEMM ----
constexpr int kFT = 64, kFK = 16;

__global__ void __launch_bounds__(256) gemm_f32_kernel(const float* __restrict__ a, const float* __restrict__ w,
                                                       const float* __restrict__ bias, float* __restrict__ c, size_t m,
                                                       size_t n, size_t k) {
  __shared__ float as[kFK][kFT + 4];  // as[p][i] = a[m0 + i, k0 + p]
  __shared__ float ws[kFK][kFT + 4];  // ws[p][j] = w[n0 + j, k0 + p]
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const size_t m0 = static_cast<size_t>(blockIdx.y) * kFT, n0 = static_cast<size_t>(blockIdx.x) * kFT;
  float acc[4][4] = {};
  for (size_t k0 = 0; k0 < k; k0 += kFK) {
    for (int e = threadIdx.x; e < kFT * kFK; e += 256) {
      const int r = e / kFK, p = e % kFK;
      const size_t gk = k0 + p;
      as[p][r] = (m0 + r < m && gk < k) ? a[(m0 + r) * k + gk] : 0.0f;
      ws[p][r] = (n0 + r < n && gk < k) ? w[(n0 + r) * k + gk] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int p = 0; p < kFK; ++p) {
      float av[4], wv[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        av[u] = as[p][ty * 4 + u];
        wv[u] = ws[p][tx * 4 + u];
      }
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int v = 0; v < 4; ++v) acc[u][v] += av[u] * wv[v];
    }
    __syncthreads();
  }
#pragma unroll
  for (int u = 0; u < 4; ++u)
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const size_t row = m0 + ty * 4 + u, col = n0 + tx * 4 + v;
      if (row < m && col < n) c[row * n + col] = acc[u][v] + (bias ? bias[col] : 0.0f);
    }
}

void check_grid(size_t m, size_t n, size_t tile, const char* fn) {
  if ((m + tile - 1) / tile > 65535 || (n + tile - 1) / tile > 0x7fffffffu)
    throw std::invalid_argument(std::string(fn) + ": M = " + std::to_string(m) + " is too large for one launch");
}

}  // namespace

void gemm_half(const uint16_t* a, const uint16_t* w, const float* bias, float* c, size_t m, size_t n, size_t k,
               Half type, cudaStream_t s) {
  if (m == 0 || n == 0) return;
  check_grid(m, n, kBM, "gemm_half");
  const bool vec = k % 8 == 0 && reinterpret_cast<uintptr_t>(a) % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0;
  if (type == Half::bf16) {
    if (vec) launch_gemm_half<true, true>(a, w, bias, c, m, n, k, s);
    else launch_gemm_half<true, false>(a, w, bias, c, m, n, k, s);
  } else {
    if (vec) launch_gemm_half<false, true>(a, w, bias, c, m, n, k, s);
    else launch_gemm_half<false, false>(a, w, bias, c, m, n, k, s);
  }
}

void gemm_f32(const float* a, const float* w, const float* bias, float* c, size_t m, size_t n, size_t k,
              cudaStream_t s) {
  if (m == 0 || n == 0) return;
  check_grid(m, n, kFT, "gemm_f32");
  const dim3 grid(static_cast<unsigned>((n + kFT - 1) / kFT), static_cast<unsigned>((m + kFT - 1) / kFT));
  gemm_f32_kernel<<<grid, 256, 0, s>>>(a, w, bias, c, m, n, k);
  ATTNODE_CUDA_CHECK_LAUNCH("gemm_f32");
}

}  // namespace attnode::cuda
