// Staging of detachable JavaScript memory for async work (staging.h).
#include "staging.h"

#include <cstring>

namespace attnode {

bool AsyncStaging::detachable(Napi::Env env, napi_value array_buffer) {
  // napi_is_arraybuffer is false for a SharedArrayBuffer, which cannot be detached.
  bool is = false;
  return napi_is_arraybuffer(env, array_buffer, &is) == napi_ok && is;
}

void* AsyncStaging::stage(Napi::Env env, napi_value array_buffer, void* data, size_t bytes, bool write) {
  void* base = nullptr;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, array_buffer, &base, &length) != napi_ok)
    throw Napi::TypeError::New(env, "a typed array's ArrayBuffer could not be read");
  const char* b = static_cast<const char*>(base);
  Buffer* found = nullptr;
  for (auto& s : buffers_)
    if (s->base == b && s->length == length) found = s.get();
  if (!found) {
    auto s = std::make_unique<Buffer>();
    s->array_buffer = Napi::Persistent(Napi::Value(env, array_buffer));
    s->base = b;
    s->length = length;
    s->copy.reset(new char[length > 0 ? length : 1]);
    if (length > 0) std::memcpy(s->copy.get(), b, length);
    found = s.get();
    buffers_.push_back(std::move(s));
  }
  const size_t offset = static_cast<size_t>(static_cast<const char*>(data) - b);
  if (write) found->written.push_back({offset, bytes});
  return found->copy.get() + offset;
}

std::string AsyncStaging::finish(Napi::Env env) {
  std::string error;
  for (auto& s : buffers_) {
    if (s->written.empty()) continue;
    napi_value ab = s->array_buffer.Value();
    bool detached = false;
    void* data = nullptr;
    size_t length = 0;
    if ((napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && detached) ||
        napi_get_arraybuffer_info(env, ab, &data, &length) != napi_ok || length != s->length) {
      error = "an output's ArrayBuffer was detached, transferred or resized while the op ran; its result was dropped";
      continue;
    }
    for (const Range& r : s->written) std::memcpy(static_cast<char*>(data) + r.offset, s->copy.get() + r.offset, r.bytes);
  }
  return error;
}

}  // namespace attnode
