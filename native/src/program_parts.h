// The parts of a compiled program (program.cc) that are plain data and checks: operands and
// steps as read from the description, and the views and lengths of one pass. Not the Program
// class, and nothing here runs a kernel.
#pragma once

#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "common.h"
#include "op.h"
#include "staging.h"
#include "state.h"

namespace attnode {
namespace program_detail {

constexpr double kMaxDim = 4294967296.0;  // 2^32, as args.cc

struct Dim {
  int64_t value = 0;
  char sym = 0;  // 0 (a constant), 'T', 'S', 'B' or 'E'
};

struct Lengths {
  int64_t t, p, b;
  int64_t e = 0;  // the segment's static rows after this pass ('E')
};

struct Buffer {
  void* data = nullptr;
  size_t elements = 0;
};

enum class Kind { slot, cache, fixed, value };

struct Operand {
  std::string name;
  Kind kind = Kind::value;
  int index = 0;  // slot, layer, or fixed tensor
  bool v_cache = false;
  bool all_rows = false;
  bool static_part = false;  // the state's static part (cross-attention K/V), not its self part
  std::vector<Dim> shape;
  uint32_t value = 0;  // Kind::value: index in the program's value list
};

struct Step {
  const OpDef* def = nullptr;
  bool per_segment = false;
  std::vector<Operand> args;
};

struct Fixed {
  TensorView view;
  Napi::Reference<Napi::Value> data;  // the typed array, re-read on every pass
  napi_typedarray_type type;
};

inline std::string where(size_t step, const Step& s, const std::string& arg) {
  return "program step " + std::to_string(step) + " (" + s.def->name + ") '" + arg + "'";
}

inline const char* array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "a Float32Array";
    case napi_int32_array: return "an Int32Array";
    case napi_uint16_array: return "a Uint16Array";
    case napi_int8_array: return "an Int8Array";
    case napi_uint8_array: return "a Uint8Array";
    default: return "a typed array";
  }
}

inline size_t element_bytes(napi_typedarray_type t) {
  return t == napi_float32_array || t == napi_int32_array ? 4 : t == napi_uint16_array ? 2 : 1;
}

// Pointer and element count of a typed array of type `want`; what() names it in the error.
template <class What>
Buffer typed_array(Napi::Env env, Napi::Value v, napi_typedarray_type want, const What& what) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value ab;
  size_t offset = 0;
  if (!v.IsTypedArray() || napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != want)
    throw Napi::TypeError::New(env, what() + " must be " + array_name(want));
  bool detached = false;
  if ((data == nullptr && length > 0) || (napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && detached))
    throw Napi::RangeError::New(env, what() + " is detached");
  return {data, length};
}

// Passes read slots and parameter tensors on the dispatch thread while JavaScript runs: a
// plain ArrayBuffer could be detached or transferred meanwhile, a SharedArrayBuffer cannot.
inline void require_shared(Napi::Env env, Napi::Value typed_array, const std::string& what) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, typed_array, &type, &length, &data, &buffer, &offset) != napi_ok ||
      AsyncStaging::detachable(env, buffer))
    throw Napi::TypeError::New(env, what + " must be backed by a SharedArrayBuffer: passes read it off the main thread, "
                                           "and an ArrayBuffer can be detached or transferred meanwhile");
}

inline int read_index(Napi::Env env, const std::string& at, Napi::Value v, size_t count) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d < static_cast<double>(count)) || d != std::floor(d))
    throw Napi::RangeError::New(env, at + " must be an integer in [0, " + std::to_string(count) + ")");
  return static_cast<int>(d);
}

inline std::vector<Dim> read_shape(Napi::Env env, const std::string& at, Napi::Value v, bool per_segment) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, at + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > 8) throw Napi::RangeError::New(env, at + " has rank above 8");
  std::vector<Dim> shape;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    Dim d;
    if (e.IsString()) {
      const std::string s = e.As<Napi::String>().Utf8Value();
      if (s != "T" && s != "S" && s != "B" && s != "E")
        throw Napi::RangeError::New(env, at + "[" + std::to_string(i) + "] must be an integer, 'T', 'S', 'B' or 'E'");
      if ((s == "S" || s == "E") && !per_segment) throw Napi::RangeError::New(env, at + " uses '" + s + "' outside a per-segment step");
      d.sym = s[0];
    } else {
      const double x = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
      if (!(x >= 0 && x <= kMaxDim) || x != std::floor(x))
        throw Napi::RangeError::New(env, at + "[" + std::to_string(i) + "] must be an integer in [0, 2^32], 'T', 'S', 'B' or 'E'");
      d.value = static_cast<int64_t>(x);
    }
    shape.push_back(d);
  }
  return shape;
}

// The view of `op` for lengths `n`, from row `first_row` of `buf`, bounds-checked; at() names it.
template <class At>
void view_of(Napi::Env env, const At& at, const Operand& op, const Lengths& n, size_t first_row,
                    DType dtype, const Buffer& buf, TensorView& view) {
  view.dtype = dtype;
  view.shape.clear();
  size_t numel = 1, row = 1;
  for (size_t i = 0; i < op.shape.size(); ++i) {
    const Dim& d = op.shape[i];
    const int64_t x = d.sym == 'T' ? n.t : d.sym == 'S' ? n.p + n.t : d.sym == 'B' ? n.b : d.sym == 'E' ? n.e : d.value;
    view.shape.push_back(x);
    if (mul_overflow(numel, static_cast<size_t>(x), &numel) || (i > 0 && mul_overflow(row, static_cast<size_t>(x), &row)))
      throw Napi::RangeError::New(env, at() + " has too many elements");
  }
  size_t offset = 0, end = 0;
  if (mul_overflow(first_row, row, &offset) || add_overflow(offset, numel, &end) || end > buf.elements)
    throw Napi::RangeError::New(env, at() + " needs elements [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                                         std::to_string(numel) + ") of a buffer of " + std::to_string(buf.elements));
  const size_t bytes = dtype == DType::f16 ? 2 : 4;
  view.data = static_cast<char*>(buf.data) + offset * bytes;
  view.numel = numel;
  view.nbytes = numel * bytes;
  view.present = true;
  view.mapped = false;
}

// One segment's sequence state in a pass: its table, a page-pointer array the paged views
// read, and the page references the job keeps.
struct SegmentState {
  std::shared_ptr<SeqTable> table;
  std::vector<char*> page_data;  // by page index, self part
  std::vector<char*> static_data;  // by page index, static part
  std::vector<PageRef> pages;      // both parts
};

// segments: [t0, p0, t1, p1, ...], checked before anything else is read.
inline std::vector<Lengths> read_segments(Napi::Env env, Napi::Value v, int64_t* total) {
  const Buffer seg = typed_array(env, v, napi_int32_array, [] { return std::string("Program.run: 'segments'"); });
  if (seg.elements == 0 || seg.elements % 2 != 0)
    throw Napi::RangeError::New(env, "Program.run: 'segments' must hold [tokens, cached] pairs, at least one");
  const size_t B = seg.elements / 2;
  const auto* sv = static_cast<const int32_t*>(seg.data);
  std::vector<Lengths> segs(B);
  *total = 0;
  for (size_t i = 0; i < B; ++i) {
    segs[i] = {sv[2 * i], sv[2 * i + 1], static_cast<int64_t>(B)};
    if (segs[i].t < 1 || segs[i].p < 0)
      throw Napi::RangeError::New(env, "Program.run: segment " + std::to_string(i) + " needs at least one token and no negative cached rows");
    *total += segs[i].t;
  }
  return segs;
}


}  // namespace program_detail
}  // namespace attnode
