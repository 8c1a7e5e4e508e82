// Fused attention (kernels.h attention_f32), the CPU's AttentionProblem without a mask; a
// generated position bias (T5, ALiBi) comes as a per-head table indexed by key minus query.
// One warp per (query row, head, key split): the warp scores 32 keys at a time, one key per lane
// (q in shared memory, the lane's key row from memory), folds them into a running max m and sum l
// (online softmax), then adds the 32 weighted value rows with lane c owning columns c, c+32, ...
// Long key ranges are cut into splits whose partial (m, l, acc) a second kernel merges
// (flash-decoding), so a single decode token still puts work on every SM. Memory per row: O(D).
// Not yet here: a tensor-core tiled prefill (this kernel is correct for prefill, not its fastest).
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda_check.h"
#include "device_util.cuh"
#include "runtime.h"

namespace attnode::cuda {
namespace {

constexpr unsigned kWarps = 4;
constexpr size_t kPerLane = kAttnMaxD / 32;  // columns each lane accumulates
constexpr size_t kKeysPerSplit = 128;         // keys per split, at least
constexpr size_t kTargetWarps = 2048;         // enough warps in flight to fill an H100/H200

template <bool kF16>
__device__ __forceinline__ float kv_at(const char* row, size_t c) {
  if constexpr (kF16) return __half2float(__ushort_as_half(reinterpret_cast<const uint16_t*>(row)[c]));
  else return reinterpret_cast<const float*>(row)[c];
}

__device__ __forceinline__ const char* kv_row(const DeviceRows& r, size_t j, size_t head_bytes) {
  if (r.pages == nullptr) return r.base + j * r.row_bytes + head_bytes;
  const size_t x = r.first + j;
  return r.pages[x >> r.shift] + r.offset + (x & (r.page_rows - 1)) * r.row_bytes + head_bytes;
}

// The keys query i sees: [start, limit), as AttentionProblem::key_start / key_limit.
__device__ __forceinline__ void visible(const AttentionArgs& p, size_t i, size_t* start, size_t* limit) {
  size_t s = 0, l = p.tk;
  if (p.window > 0) {
    const int64_t first = p.q_offset + static_cast<int64_t>(i) - p.window + 1;
    s = first <= 0 ? 0 : (static_cast<uint64_t>(first) < p.tk ? static_cast<size_t>(first) : p.tk);
  }
  if (p.causal) {
    const int64_t last = p.q_offset + static_cast<int64_t>(i);
    l = last < 0 ? 0 : (static_cast<uint64_t>(last) + 1 < p.tk ? static_cast<size_t>(last) + 1 : p.tk);
  }
  *start = s;
  *limit = l;
}

// grid: (ceil(R / kWarps), splits); row = i * Hq + h. With one split the row is written to out;
// otherwise part[(split * R + row) * (D + 2)] gets m, l, acc[D].
template <bool kF16>
__global__ void __launch_bounds__(kWarps * 32) attention_kernel(AttentionArgs p, size_t split_keys, float* part) {
  __shared__ float qs[kWarps][kAttnMaxD];
  const int lane = threadIdx.x & 31, wi = threadIdx.x >> 5;
  const size_t rows = p.tq * p.hq;
  const size_t row = static_cast<size_t>(blockIdx.x) * kWarps + wi;
  if (row >= rows) return;  // whole warps leave together: no block-wide barrier below
  const size_t i = row / p.hq, h = row % p.hq, g = h / (p.hq / p.hkv), D = p.d;
  const size_t elem = kF16 ? 2 : 4, head_bytes = g * D * elem;
  for (size_t c = lane; c < D; c += 32) qs[wi][c] = p.q[row * D + c] * p.scale;
  __syncwarp();

  size_t start, limit;
  visible(p, i, &start, &limit);
  const size_t s0 = static_cast<size_t>(blockIdx.y) * split_keys, s1 = s0 + split_keys;
  const size_t j0 = start > s0 ? start : s0, j1 = limit < s1 ? limit : s1;

  float m = -INFINITY, l = 0.0f, acc[kPerLane];
#pragma unroll
  for (size_t u = 0; u < kPerLane; ++u) acc[u] = 0.0f;

  for (size_t base = j0; base < j1; base += 32) {
    const size_t j = base + lane;
    float s = -INFINITY;
    if (j < j1) {
      const char* kr = kv_row(p.k, j, head_bytes);
      float dot = 0.0f;
      for (size_t c = 0; c < D; ++c) dot += qs[wi][c] * kv_at<kF16>(kr, c);
      s = p.softcap > 0.0f ? tanhf(dot / p.softcap) * p.softcap : dot;
      if (p.bias != nullptr) s += p.bias[h * (p.tq + p.tk - 1) + (j + p.tq - 1 - i)];
    }
    const float mc = warp_max(s);
    const float mn = fmaxf(m, mc);
    if (mn == -INFINITY) continue;  // nothing visible yet (cannot happen without a mask, kept for -inf inputs)
    const float corr = m == -INFINITY ? 0.0f : expf(m - mn);
    const float pw = s == -INFINITY ? 0.0f : expf(s - mn);
    l = l * corr + warp_sum(pw);
#pragma unroll
    for (size_t u = 0; u < kPerLane; ++u) acc[u] *= corr;
    m = mn;
    const size_t count = j1 - base < 32 ? j1 - base : 32;
    for (size_t t = 0; t < count; ++t) {
      const float wt = __shfl_sync(kFullMask, pw, static_cast<int>(t));
      const char* vr = kv_row(p.v, base + t, head_bytes);
#pragma unroll
      for (size_t u = 0; u < kPerLane; ++u) {
        const size_t c = lane + 32 * u;
        if (c < D) acc[u] += wt * kv_at<kF16>(vr, c);
      }
    }
  }

  if (gridDim.y == 1) {
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (size_t u = 0; u < kPerLane; ++u) {
      const size_t c = lane + 32 * u;
      if (c < D) p.out[row * D + c] = acc[u] * inv;
    }
  } else {
    float* pr = part + (static_cast<size_t>(blockIdx.y) * rows + row) * (D + 2);
    if (lane == 0) {
      pr[0] = m;
      pr[1] = l;
    }
#pragma unroll
    for (size_t u = 0; u < kPerLane; ++u) {
      const size_t c = lane + 32 * u;
      if (c < D) pr[2 + c] = acc[u];
    }
  }
}

// One warp per row: out = sum_s acc_s * e^(m_s - M) / sum_s l_s * e^(m_s - M), M = max m_s.
__global__ void attention_merge_kernel(const float* __restrict__ part, float* __restrict__ out, size_t rows, size_t d,
                                       size_t splits) {
  const int lane = threadIdx.x & 31;
  const size_t row = static_cast<size_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (row >= rows) return;
  float mx = -INFINITY;
  for (size_t s = 0; s < splits; ++s) mx = fmaxf(mx, part[(s * rows + row) * (d + 2)]);
  float l = 0.0f;
  if (mx != -INFINITY)
    for (size_t s = 0; s < splits; ++s) {
      const float* pr = part + (s * rows + row) * (d + 2);
      if (pr[0] != -INFINITY) l += pr[1] * expf(pr[0] - mx);
    }
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  for (size_t c = lane; c < d; c += 32) {
    float a = 0.0f;
    if (mx != -INFINITY)
      for (size_t s = 0; s < splits; ++s) {
        const float* pr = part + (s * rows + row) * (d + 2);
        if (pr[0] != -INFINITY) a += pr[2 + c] * expf(pr[0] - mx);
      }
    out[row * d + c] = a * inv;
  }
}

size_t split_count(const AttentionArgs& a) {
  const size_t rows = a.tq * a.hq;
  if (rows == 0 || a.tk <= kKeysPerSplit) return 1;
  const size_t by_keys = (a.tk + kKeysPerSplit - 1) / kKeysPerSplit;
  const size_t by_fill = (kTargetWarps + rows - 1) / rows;
  return std::max<size_t>(1, std::min({by_keys, by_fill, size_t{65535}}));
}

}  // namespace

size_t attention_workspace_floats(const AttentionArgs& a) {
  const size_t splits = split_count(a);
  return splits == 1 ? 0 : splits * a.tq * a.hq * (a.d + 2);
}

void attention_f32(const AttentionArgs& a, float* workspace, cudaStream_t s) {
  if (a.d == 0 || a.d > kAttnMaxD)
    throw std::invalid_argument("attention_f32: head size " + std::to_string(a.d) + " is outside [1, " +
                                std::to_string(kAttnMaxD) + "]");
  if (a.hkv == 0 || a.hq % a.hkv != 0)
    throw std::invalid_argument("attention_f32: " + std::to_string(a.hq) + " query heads are not a multiple of " +
                                std::to_string(a.hkv) + " kv heads");
  const size_t rows = a.tq * a.hq;
  if (rows == 0) return;
  const size_t splits = split_count(a);
  if (splits > 1 && workspace == nullptr) throw std::invalid_argument("attention_f32: needs a workspace of attention_workspace_floats()");
  const size_t split_keys = splits == 1 ? (a.tk == 0 ? 1 : a.tk) : (a.tk + splits - 1) / splits;
  const dim3 grid(static_cast<unsigned>((rows + kWarps - 1) / kWarps), static_cast<unsigned>(splits));
  if (a.kv_f16) attention_kernel<true><<<grid, kWarps * 32, 0, s>>>(a, split_keys, workspace);
  else attention_kernel<false><<<grid, kWarps * 32, 0, s>>>(a, split_keys, workspace);
  ATTNODE_CUDA_CHECK_LAUNCH("attention_f32");
  if (splits > 1) {
    attention_merge_kernel<<<static_cast<unsigned>((rows + kWarps - 1) / kWarps), kWarps * 32, 0, s>>>(workspace, a.out,
                                                                                                      rows, a.d, splits);
    ATTNODE_CUDA_CHECK_LAUNCH("attention_merge");
  }
}

}  // namespace attnode::cuda
