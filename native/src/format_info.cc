// The format table as JavaScript sees it: formats() lists every entry of kFormats (formats.h) and
// formatDequantize() runs an entry's scalar reference dequantize, so tests can hold the C++
// table against ts/tensor/formats.ts bit for bit. Not used on any inference path.
#include "format_info.h"

#include <string>
#include <vector>

#include "formats.h"

namespace attnode {

// formats() -> [{ name, ggufType, safetensors, blockSize, blockBytes, align, reference }]
Napi::Value format_table(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, kDTypeCount);
  for (size_t i = 0; i < kDTypeCount; ++i) {
    const FormatTraits& f = kFormats[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", f.name);
    o.Set("ggufType", static_cast<double>(f.gguf_type));
    o.Set("safetensors", f.safetensors ? Napi::Value(Napi::String::New(env, f.safetensors)) : env.Null());
    o.Set("blockSize", static_cast<double>(f.block_size));
    o.Set("blockBytes", static_cast<double>(f.block_bytes));
    o.Set("align", static_cast<double>(f.align));
    o.Set("reference", f.to_float != nullptr);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// formatDequantize(name: string, bytes: Uint8Array) -> Float32Array: whole blocks only.
Napi::Value format_dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString())
    throw Napi::TypeError::New(env, "formatDequantize: 'name' must be a format name string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const FormatTraits* f = nullptr;
  for (const FormatTraits& t : kFormats)
    if (name == t.name) f = &t;
  if (!f || !f->to_float) throw Napi::TypeError::New(env, "formatDequantize: 'name' '" + name + "' has no reference dequantize");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "formatDequantize: 'bytes' must be a Uint8Array");
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  if (bytes.ByteLength() % f->block_bytes != 0)
    throw Napi::RangeError::New(env, "formatDequantize: 'bytes' must hold whole blocks of " + std::to_string(f->block_bytes) + " bytes");
  const size_t n = bytes.ByteLength() / f->block_bytes * f->block_size;
  // Copied to aligned memory first: a Uint8Array may start at any byte.
  std::vector<uint8_t> src(bytes.Data(), bytes.Data() + bytes.ByteLength());
  Napi::Float32Array out = Napi::Float32Array::New(env, n);
  f->to_float(src.data(), n, out.Data());
  return out;
}

}  // namespace attnode
