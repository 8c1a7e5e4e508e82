// Staging of JavaScript memory for async work: a typed array over a plain ArrayBuffer can be
// detached or transferred (postMessage, structuredClone) while a kernel runs off the main
// thread, which would leave the kernel with a dangling pointer. Async ops therefore read and
// write native copies of such buffers, and written ranges are copied back on the JavaScript
// thread once the work is done (or the call fails, naming the detached output). Memory that
// cannot be detached (SharedArrayBuffer, file mappings, native pages) is used in place.
// Not used by the synchronous op(), which finishes before JavaScript runs again.
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace attnode {

class AsyncStaging {
 public:
  // Whether `array_buffer` (from napi_get_typedarray_info) is a plain, detachable ArrayBuffer.
  static bool detachable(Napi::Env env, napi_value array_buffer);

  // The address to use for `data` (inside `array_buffer`, `bytes` long): inside a native copy
  // of the whole buffer, made on its first use in this call. `write`: the range is copied back.
  void* stage(Napi::Env env, napi_value array_buffer, void* data, size_t bytes, bool write);

  // On the JavaScript thread after the work ran: copies the written ranges back. Returns an
  // error message when an output's buffer was detached or resized meanwhile, else "".
  std::string finish(Napi::Env env);

  bool empty() const { return buffers_.empty(); }

 private:
  struct Range {
    size_t offset, bytes;
  };
  struct Buffer {
    Napi::Reference<Napi::Value> array_buffer;
    const char* base;  // the ArrayBuffer's data when staged
    size_t length;
    std::unique_ptr<char[]> copy;
    std::vector<Range> written;
  };
  std::vector<std::unique_ptr<Buffer>> buffers_;
};

}  // namespace attnode
