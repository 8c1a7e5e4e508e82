// Element-wise and row-wise kernels (kernels.h): conversion, add, GELU, SiLU, softmax, RMSNorm,
// LayerNorm, rope and embedding. Plain f32 arithmetic in the order of the scalar CPU kernels
// (cpu/isa/scalar/elementwise.cc); sums are f32 tree reductions where the CPU reference uses double.
#include <cmath>

#include "cuda_check.h"
#include "device_util.cuh"
#include "runtime.h"

namespace attnode::cuda {
namespace {

constexpr unsigned kThreads = 256;
// Grid-stride loops: at most this many blocks, whatever n is.
constexpr size_t kMaxBlocks = 65535;

unsigned grid_for(size_t n) {
  const size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < kMaxBlocks ? (b == 0 ? 1 : b) : kMaxBlocks);
}

#define GRID_STRIDE(i, n) \
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < (n); i += size_t{gridDim.x} * blockDim.x)

__global__ void convert_f32_half_kernel(const float* x, uint16_t* out, size_t n, bool bf16) {
  GRID_STRIDE(i, n) {
    out[i] = bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(x[i])) : __half_as_ushort(__float2half_rn(x[i]));
  }
}

__global__ void add_kernel(const float* a, const float* b, float* out, size_t n) {
  GRID_STRIDE(i, n) { out[i] = a[i] + b[i]; }
}

__global__ void mul_kernel(const float* a, const float* b, float* out, size_t n) {
  GRID_STRIDE(i, n) { out[i] = a[i] * b[i]; }
}

__global__ void scale_kernel(const float* x, float scale, float* out, size_t n) {
  GRID_STRIDE(i, n) { out[i] = x[i] * scale; }
}

__global__ void gelu_erf_kernel(const float* x, float* out, size_t n) {
  GRID_STRIDE(i, n) { out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.7071067811865476f)); }
}

__global__ void gelu_tanh_kernel(const float* x, float* out, size_t n) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  GRID_STRIDE(i, n) {
    const float v = x[i];
    out[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
  }
}

__global__ void silu_kernel(const float* x, float* out, size_t n) {
  GRID_STRIDE(i, n) { out[i] = x[i] / (1.0f + expf(-x[i])); }
}

// One block per row.
__global__ void softmax_rows_kernel(const float* x, float* out, size_t n) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * n;
  float* o = out + blockIdx.x * n;
  float m = -INFINITY;
  float nan = 0.0f;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = xr[i];
    if (isnan(v)) nan = 1.0f;
    m = fmaxf(m, v);
  }
  m = block_max(m, red);
  nan = block_max(nan, red);
  if (nan != 0.0f || m == -INFINITY) {  // a NaN gives NaNs; a fully masked row gives zeros
    const float fill = nan != 0.0f ? NAN : 0.0f;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) o[i] = fill;
    return;
  }
  float sum = 0.0f;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float e = expf(xr[i] - m);
    o[i] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  const float inv = 1.0f / sum;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) o[i] *= inv;
}

__global__ void rmsnorm_rows_kernel(const float* x, const float* w, float eps, float* out, size_t n) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * n;
  float* o = out + blockIdx.x * n;
  float ss = 0.0f;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss, red);
  const float inv = rsqrtf(ss / static_cast<float>(n) + eps);
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) o[i] = xr[i] * inv * w[i];
}

__global__ void layernorm_rows_kernel(const float* x, const float* w, const float* b, float eps, float* out,
                                      size_t n) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * n;
  float* o = out + blockIdx.x * n;
  float s = 0.0f;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) s += xr[i];
  const float mean = block_sum(s, red) / static_cast<float>(n);
  float v = 0.0f;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float d = xr[i] - mean;
    v += d * d;
  }
  const float var = block_sum(v, red) / static_cast<float>(n);
  const float inv = rsqrtf(var + eps);
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) o[i] = (xr[i] - mean) * inv * w[i] + (b ? b[i] : 0.0f);
}

// One thread per (token, head, pair) and per copied column past the rotary part.
__global__ void rope_kernel(const float* x, const int32_t* positions, const float* inv_freq, float scale, float* out,
                            size_t t, size_t h, size_t d, size_t half, size_t rest, bool interleaved) {
  const size_t per_head = half + rest;
  GRID_STRIDE(idx, t * h * per_head) {
    const size_t row = idx / per_head, i = idx % per_head;  // row = token * H + head
    const float* xi = x + row * d;
    float* o = out + row * d;
    if (i < half) {
      const float a = static_cast<float>(positions[row / h]) * inv_freq[i];
      const float cs = cosf(a) * scale, sn = sinf(a) * scale;
      const size_t i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
      const float x0 = xi[i0], x1 = xi[i1];
      o[i0] = x0 * cs - x1 * sn;
      o[i1] = x1 * cs + x0 * sn;
    } else {
      const size_t j = 2 * half + (i - half);
      o[j] = xi[j];
    }
  }
}

__global__ void embedding_kernel(const void* table, int type, const int32_t* ids, float* out, size_t n, size_t d) {
  GRID_STRIDE(idx, n * d) {
    const size_t r = idx / d, c = idx % d;
    const size_t src = static_cast<size_t>(ids[r]) * d + c;
    float v;
    if (type == 0) v = static_cast<const float*>(table)[src];
    else v = half_bits_to_f32(static_cast<const uint16_t*>(table)[src], type == 2);
    out[idx] = v;
  }
}

}  // namespace

void convert_f32_half(const float* x, uint16_t* out, size_t n, Half type, cudaStream_t s) {
  convert_f32_half_kernel<<<grid_for(n), kThreads, 0, s>>>(x, out, n, type == Half::bf16);
  ATTNODE_CUDA_CHECK_LAUNCH("convert_f32_half");
}

void add_f32(const float* a, const float* b, float* out, size_t n, cudaStream_t s) {
  add_kernel<<<grid_for(n), kThreads, 0, s>>>(a, b, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("add_f32");
}

void mul_f32(const float* a, const float* b, float* out, size_t n, cudaStream_t s) {
  mul_kernel<<<grid_for(n), kThreads, 0, s>>>(a, b, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("mul_f32");
}

void scale_f32(const float* x, float scale, float* out, size_t n, cudaStream_t s) {
  scale_kernel<<<grid_for(n), kThreads, 0, s>>>(x, scale, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("scale_f32");
}

void gelu_erf_f32(const float* x, float* out, size_t n, cudaStream_t s) {
  gelu_erf_kernel<<<grid_for(n), kThreads, 0, s>>>(x, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("gelu_erf_f32");
}

void gelu_tanh_f32(const float* x, float* out, size_t n, cudaStream_t s) {
  gelu_tanh_kernel<<<grid_for(n), kThreads, 0, s>>>(x, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("gelu_tanh_f32");
}

void silu_f32(const float* x, float* out, size_t n, cudaStream_t s) {
  silu_kernel<<<grid_for(n), kThreads, 0, s>>>(x, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("silu_f32");
}

// Rows go on grid.x (up to 2^31 - 1); the CPU contract has no larger row counts.
void softmax_rows_f32(const float* x, float* out, size_t rows, size_t n, cudaStream_t s) {
  if (rows == 0) return;
  softmax_rows_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("softmax_rows_f32");
}

void rmsnorm_rows_f32(const float* x, const float* w, float eps, float* out, size_t rows, size_t n, cudaStream_t s) {
  if (rows == 0) return;
  rmsnorm_rows_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, eps, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("rmsnorm_rows_f32");
}

void layernorm_rows_f32(const float* x, const float* w, const float* b, float eps, float* out, size_t rows, size_t n,
                        cudaStream_t s) {
  if (rows == 0) return;
  layernorm_rows_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, w, b, eps, out, n);
  ATTNODE_CUDA_CHECK_LAUNCH("layernorm_rows_f32");
}

void rope_f32(const float* x, const int32_t* positions, const float* inv_freq, float scale, float* out, size_t t,
              size_t h, size_t d, size_t rotary_dim, bool interleaved, cudaStream_t s) {
  const size_t half = rotary_dim / 2, rest = d - 2 * half;
  const size_t n = t * h * (half + rest);
  if (n == 0) return;
  rope_kernel<<<grid_for(n), kThreads, 0, s>>>(x, positions, inv_freq, scale, out, t, h, d, half, rest, interleaved);
  ATTNODE_CUDA_CHECK_LAUNCH("rope_f32");
}

void embedding(const void* table, TableType type, const int32_t* ids, float* out, size_t n, size_t d, cudaStream_t s) {
  if (n * d == 0) return;
  const int code = type == TableType::f32 ? 0 : type == TableType::f16 ? 1 : 2;
  embedding_kernel<<<grid_for(n * d), kThreads, 0, s>>>(table, code, ids, out, n, d);
  ATTNODE_CUDA_CHECK_LAUNCH("embedding");
}

}  // namespace attnode::cuda
