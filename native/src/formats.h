// The weight-format traits table (as ggml's type_traits): per DType its name, GGUF type id,
// safetensors name, block geometry and scalar reference dequantize / quantize. Not the packers and
// kernels: those register per DType in weights/<format>.cc (weights.h, the second half of the table).
//
// Adding a GGUF type means: one entry here and in ts/tensor/formats.ts (same name, id, geometry),
// its scalar reference in cpu/, and its kernels: a packer + linear in weights/<name>.cc, registered
// for its DType. Args (block-size and byte-size checks, mapped alignment) and packWeight read this
// table. Super-blocks fit: Q4_K would be block_size 256, block_bytes 144 (scales and mins inside).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/block_formats.h"
#include "cpu/quant_format.h"
#include "dtype.h"
#include "half.h"

namespace attnode {

struct FormatTraits {
  DType dtype;
  const char* name;         // attnode's name ('q8_0')
  int32_t gguf_type;        // ggml_type id (ggml.h), or -1 where attnode loads none from GGUF
  const char* safetensors;  // safetensors dtype name, or null (block formats have none)
  size_t block_size;        // values per block
  size_t block_bytes;       // bytes per block
  size_t align;             // byte alignment kernels need to read it in place (widest scalar read)
  // Reference dequantize: n values (n a multiple of block_size) from their blocks -> y: (n) f32.
  // Null for dtypes that are not weight storage formats on their own (i8 needs row scales).
  void (*to_float)(const void* src, size_t n, float* y);
  // Reference quantize: x: (n) f32 -> n / block_size blocks. False when a value cannot be stored.
  bool (*from_float)(const float* x, size_t n, void* dst);
};

namespace format_ref {
inline void f32_to_float(const void* s, size_t n, float* y) { std::memcpy(y, s, n * sizeof(float)); }
inline bool f32_from_float(const float* x, size_t n, void* d) { std::memcpy(d, x, n * sizeof(float)); return true; }
inline void f16_to_float(const void* s, size_t n, float* y) {
  const auto* h = static_cast<const uint16_t*>(s);
  for (size_t i = 0; i < n; ++i) y[i] = f16_to_f32(h[i]);
}
inline bool f16_from_float(const float* x, size_t n, void* d) {
  auto* h = static_cast<uint16_t*>(d);
  for (size_t i = 0; i < n; ++i) h[i] = f32_to_f16(x[i]);
  return true;
}
inline void bf16_to_float(const void* s, size_t n, float* y) {
  const auto* h = static_cast<const uint16_t*>(s);
  for (size_t i = 0; i < n; ++i) y[i] = bf16_to_f32(h[i]);
}
inline bool bf16_from_float(const float* x, size_t n, void* d) {
  auto* h = static_cast<uint16_t*>(d);
  for (size_t i = 0; i < n; ++i) h[i] = f32_to_bf16(x[i]);
  return true;
}
inline void q8_0_to_float(const void* s, size_t n, float* y) { dequantize_row_q8_0(static_cast<const uint8_t*>(s), n, y); }
inline bool q8_0_from_float(const float* x, size_t n, void* d) { return quantize_row_q8_0(x, n, static_cast<uint8_t*>(d)); }
template <void (*Row)(const uint8_t*, size_t, float*)>
void block_to_float(const void* s, size_t n, float* y) { Row(static_cast<const uint8_t*>(s), n, y); }
}  // namespace format_ref

// Indexed by DType (dtype.h lists them in this order).
inline constexpr FormatTraits kFormats[kDTypeCount] = {
    {DType::f32, "f32", 0, "F32", 1, 4, 4, format_ref::f32_to_float, format_ref::f32_from_float},
    {DType::f16, "f16", 1, "F16", 1, 2, 2, format_ref::f16_to_float, format_ref::f16_from_float},
    {DType::bf16, "bf16", 30, "BF16", 1, 2, 2, format_ref::bf16_to_float, format_ref::bf16_from_float},
    {DType::i8, "i8", -1, "I8", 1, 1, 1, nullptr, nullptr},
    {DType::i32, "i32", -1, "I32", 1, 4, 4, nullptr, nullptr},
    // GGUF Q8_0: f16 scale, then 32 int8; scales are read as f16 at 2-aligned offsets.
    {DType::q8_0, "q8_0", 8, nullptr, kQ8BlockSize, kQ8BlockBytes, 2, format_ref::q8_0_to_float, format_ref::q8_0_from_float},
    // GGUF legacy and k-quant blocks (cpu/block_formats.h). Their reference quantizers live in
    // ts/tensor/ (conversion at load happens there); natively they are loaded, never made.
    {DType::q4_0, "q4_0", 2, nullptr, kLegacyBlock, kQ4_0Bytes, 2, format_ref::block_to_float<dequantize_row_q4_0>, nullptr},
    {DType::q4_1, "q4_1", 3, nullptr, kLegacyBlock, kQ4_1Bytes, 2, format_ref::block_to_float<dequantize_row_q4_1>, nullptr},
    {DType::q5_0, "q5_0", 6, nullptr, kLegacyBlock, kQ5_0Bytes, 2, format_ref::block_to_float<dequantize_row_q5_0>, nullptr},
    {DType::q5_1, "q5_1", 7, nullptr, kLegacyBlock, kQ5_1Bytes, 2, format_ref::block_to_float<dequantize_row_q5_1>, nullptr},
    {DType::q2_k, "q2_k", 10, nullptr, kSuperBlock, kQ2_KBytes, 2, format_ref::block_to_float<dequantize_row_q2_k>, nullptr},
    {DType::q3_k, "q3_k", 11, nullptr, kSuperBlock, kQ3_KBytes, 2, format_ref::block_to_float<dequantize_row_q3_k>, nullptr},
    {DType::q4_k, "q4_k", 12, nullptr, kSuperBlock, kQ4_KBytes, 2, format_ref::block_to_float<dequantize_row_q4_k>, nullptr},
    {DType::q5_k, "q5_k", 13, nullptr, kSuperBlock, kQ5_KBytes, 2, format_ref::block_to_float<dequantize_row_q5_k>, nullptr},
    {DType::q6_k, "q6_k", 14, nullptr, kSuperBlock, kQ6_KBytes, 2, format_ref::block_to_float<dequantize_row_q6_k>, nullptr},
    // GGUF's non-linear 4-bit formats: indices into kIq4Codebook under an f16 (IQ4_NL) or 6-bit
    // sub-block (IQ4_XS) scale.
    {DType::iq4_nl, "iq4_nl", 20, nullptr, kLegacyBlock, kIQ4_NLBytes, 2, format_ref::block_to_float<dequantize_row_iq4_nl>, nullptr},
    {DType::iq4_xs, "iq4_xs", 23, nullptr, kSuperBlock, kIQ4_XSBytes, 2, format_ref::block_to_float<dequantize_row_iq4_xs>, nullptr},
};

static_assert(kFormats[static_cast<size_t>(DType::f16)].dtype == DType::f16 &&
                  kFormats[static_cast<size_t>(DType::i32)].dtype == DType::i32 &&
                  kFormats[static_cast<size_t>(DType::q8_0)].dtype == DType::q8_0 &&
                  kFormats[static_cast<size_t>(DType::q4_0)].dtype == DType::q4_0 &&
                  kFormats[static_cast<size_t>(DType::q6_k)].dtype == DType::q6_k &&
                  kFormats[static_cast<size_t>(DType::iq4_xs)].dtype == DType::iq4_xs,
              "kFormats must be indexed by DType");

inline const FormatTraits& format_traits(DType d) { return kFormats[static_cast<size_t>(d)]; }

}  // namespace attnode
