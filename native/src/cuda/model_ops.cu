// The kernels a model's plan needs besides GEMM, attention and the norms (kernels.h, "what a
// model's plan needs"): suffix-broadcast add and mul, ReLU and tanh, and the attention bias table
// of T5's buckets or ALiBi's slopes. Memory-bound one-thread-per-element loops (grid-stride).
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "cuda_check.h"
#include "device_util.cuh"

namespace attnode::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr size_t kMaxBlocks = 65535;

unsigned grid_for(size_t n) {
  const size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < kMaxBlocks ? b : kMaxBlocks);
}

__global__ void add_bcast_kernel(const float* a, const float* b, float* out, size_t n, size_t nb) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    out[i] = a[i] + b[i % nb];
}

__global__ void mul_bcast_kernel(const float* a, const float* b, float* out, size_t n, size_t nb) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    out[i] = a[i] * b[i % nb];
}

__global__ void relu_kernel(const float* x, float* out, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void tanh_kernel(const float* x, float* out, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    out[i] = tanhf(x[i]);
}

// HF's _relative_position_bucket with PyTorch's f32 arithmetic, as cpu/position_bias.cc t5_bucket:
// log of the f32 ratio in f32, log(maxDistance / exact) in double rounded to f32, the division
// and product in f32, truncated.
__device__ int t5_bucket(int64_t rel, size_t buckets, int64_t max_distance, bool bidirectional) {
  int64_t n = static_cast<int64_t>(buckets), bucket = 0, r;
  if (bidirectional) {
    n /= 2;
    if (rel > 0) bucket += n;
    r = rel < 0 ? -rel : rel;
  } else {
    r = rel < 0 ? -rel : 0;
  }
  const int64_t exact = n / 2;
  if (r < exact) return static_cast<int>(bucket + r);
  const float a = logf(static_cast<float>(r) / static_cast<float>(exact));
  const float b = static_cast<float>(log(static_cast<double>(max_distance) / static_cast<double>(exact)));
  const float c = (a / b) * static_cast<float>(n - exact);
  // c is +inf when maxDistance equals the exact buckets (log 1 = 0): the last bucket, as TS's
  // Math.min(Infinity, n - 1); casting inf to an integer would be undefined.
  int64_t large = c < static_cast<float>(n) ? exact + static_cast<int64_t>(truncf(c)) : n - 1;
  if (large > n - 1) large = n - 1;
  return static_cast<int>(bucket + large);
}

// out: (hq, len) with len = tq + tk - 1; one thread per entry.
__global__ void position_bias_kernel(PositionBiasArgs b, float* out, size_t hq, size_t tq, size_t len, int64_t q_offset) {
  const size_t total = hq * len;
  for (size_t e = blockIdx.x * size_t{blockDim.x} + threadIdx.x; e < total; e += size_t{gridDim.x} * blockDim.x) {
    const size_t h = e / len, idx = e % len;
    const int64_t rel = static_cast<int64_t>(idx) - static_cast<int64_t>(tq - 1) - q_offset;
    if (b.kind == PositionBiasKind::alibi) out[e] = b.table[h] * static_cast<float>(rel);
    else out[e] = b.table[static_cast<size_t>(t5_bucket(rel, b.buckets, b.max_distance, b.bidirectional)) * hq + h];
  }
}

}  // namespace

void add_bcast_f32(const float* a, const float* b, float* out, size_t n, size_t nb, cudaStream_t s) {
  if (n == 0) return;
  if (nb == 0 || n % nb != 0) throw std::invalid_argument("add_bcast_f32: the broadcast length must divide the length");
  add_bcast_kernel<<<grid_for(n), kThreads, 0, s>>>(a, b, out, n, nb);
  ATTNODE_CUDA_CHECK_LAUNCH("add_bcast_f32");
}

void mul_bcast_f32(const float* a, const float* b, float* out, size_t n, size_t nb, cudaStream_t s) {
  if (n == 0) return;
  if (nb == 0 || n % nb != 0) throw std::invalid_argument("mul_bcast_f32: the broadcast length must divide the length");
  mul_bcast_kernel<<<grid_for(n), kThreads, 0, s>>>(a, b, out, n, nb);
  ATTNODE_CUDA_CHECK_LAUNCH("mul_bcast_f32");
}

void relu_f32(const float* x, float* out, size_t n, cudaStream_t s) {
  if (n == 0) return;
  relu_kernel<<<grid_for(n), kThreads, 0, s>>>(x, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("relu_f32");
}

void tanh_f32(const float* x, float* out, size_t n, cudaStream_t s) {
  if (n == 0) return;
  tanh_kernel<<<grid_for(n), kThreads, 0, s>>>(x, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("tanh_f32");
}

void position_bias_table_f32(const PositionBiasArgs& b, float* out, size_t hq, size_t tq, size_t tk, int64_t q_offset,
                             cudaStream_t s) {
  if (hq == 0 || tq == 0 || tk == 0) return;
  if (b.table == nullptr) throw std::invalid_argument("position_bias_table_f32: no table");
  if (b.kind == PositionBiasKind::t5 && (b.buckets < 2 || b.max_distance < 1 || (b.bidirectional && b.buckets < 4)))
    throw std::invalid_argument("position_bias_table_f32: T5 needs at least 2 buckets (4 bidirectional) and maxDistance >= 1");
  const size_t len = tq + tk - 1;
  position_bias_kernel<<<grid_for(hq * len), kThreads, 0, s>>>(b, out, hq, tq, len, q_offset);
  ATTNODE_CUDA_CHECK_LAUNCH("position_bias_table_f32");
}

}  // namespace attnode::cuda
