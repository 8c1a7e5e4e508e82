// `linear` with f32 activations over each weight format (kernels.h): picks GEMV or tensor-core
// GEMM by row count, and writes rows into sequence state. Composition only, plus the row writer.
#include <cstdint>

#include "cuda_check.h"
#include "device_util.cuh"
#include "runtime.h"

namespace attnode::cuda {
namespace {

__global__ void write_rows_kernel(const float* __restrict__ src, size_t src_ld, DeviceRows dst, size_t rows,
                                  size_t elems, bool f16) {
  const size_t total = rows * elems;
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < total; i += size_t{gridDim.x} * blockDim.x) {
    const size_t r = i / elems, e = i % elems;
    char* row;
    if (dst.pages == nullptr) {
      row = const_cast<char*>(dst.base) + r * dst.row_bytes;
    } else {
      const size_t x = dst.first + r;
      row = const_cast<char*>(dst.pages[x >> dst.shift]) + dst.offset + (x & (dst.page_rows - 1)) * dst.row_bytes;
    }
    const float v = src[r * src_ld + e];
    if (f16) reinterpret_cast<uint16_t*>(row)[e] = __half_as_ushort(__float2half_rn(v));
    else reinterpret_cast<float*>(row)[e] = v;
  }
}

}  // namespace

void linear_half(const float* x, const uint16_t* w, const float* bias, float* c, size_t m, size_t n, size_t k, Half type,
                 uint16_t* scratch, cudaStream_t s) {
  if (m <= kGemvMaxRows) {
    gemv_half(x, w, bias, c, m, n, k, type, s);
    return;
  }
  convert_f32_half(x, scratch, m * k, type, s);
  gemm_half(scratch, w, bias, c, m, n, k, type, s);
}

void linear_q8_0(const float* x, const Q8_0Device& w, const float* bias, float* c, size_t m, int8_t* scratch_q,
                 float* scratch_s, cudaStream_t s) {
  quantize_rows_q8(x, scratch_q, scratch_s, m, w.k, s);
  for (size_t r0 = 0; r0 < m; r0 += kGemvMaxRows) {
    const size_t rows = m - r0 < kGemvMaxRows ? m - r0 : kGemvMaxRows;
    gemv_q8_0(w, scratch_q + r0 * w.k, scratch_s + r0 * (w.k / 32), bias, c + r0 * w.n, rows, s);
  }
}

void write_rows(const float* src, size_t src_ld, const DeviceRows& dst, size_t rows, size_t elems, bool f16,
                cudaStream_t s) {
  const size_t total = rows * elems;
  if (total == 0) return;
  const size_t blocks = (total + 255) / 256;
  write_rows_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), 256, 0, s>>>(src, src_ld, dst, rows, elems, f16);
  ATTNODE_CUDA_CHECK_LAUNCH("write_rows");
}

}  // namespace attnode::cuda
