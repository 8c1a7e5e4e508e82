// Tensor element types as the native side names them, and the q8_0 block geometry. Free of
// Node-API, so kernels and their standalone checks can include it.
#pragma once

#include <cstddef>

namespace attnode {

enum class DType { f32, f16, bf16, i8, i32, q8_0 };

const char* dtype_name(DType d);

// Bytes per block for q8_0: one f16 scale and 32 int8 values, as GGUF's Q8_0.
constexpr size_t kQ8BlockSize = 32;
constexpr size_t kQ8BlockBytes = 34;

}  // namespace attnode
