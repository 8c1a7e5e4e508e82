// Node-API views of the format table (formats.h) for tests: formats() and formatDequantize().
// Not an inference path.
#pragma once

#include <napi.h>

namespace attnode {

Napi::Value format_table(const Napi::CallbackInfo& info);
Napi::Value format_dequantize(const Napi::CallbackInfo& info);

}  // namespace attnode
