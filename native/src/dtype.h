// Tensor element types as the native side names them. Free of Node-API, so kernels and their
// standalone checks can include it. Per-format facts (block geometry, GGUF ids) are in formats.h.
#pragma once

#include <cstddef>

namespace attnode {

// The order indexes the traits table (formats.h, kFormats).
enum class DType { f32, f16, bf16, i8, i32, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs };
constexpr size_t kDTypeCount = 17;

const char* dtype_name(DType d);

}  // namespace attnode
