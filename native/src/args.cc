// Args: validation of JS arguments for ops (see args.h).
#include "args.h"

#include <cmath>
#include <cstring>

#include "common.h"
#include "formats.h"

namespace attnode {

namespace {

constexpr int kMaxRank = 8;
// Largest dimension accepted: keeps every product below 2^53 checks simple and sane.
constexpr double kMaxDim = 4294967296.0;  // 2^32

// How JS holds each dtype (the typed array of ts/tensor/dtype.ts); names and geometry come
// from the format table (formats.h).
struct DTypeInfo {
  DType dtype;
  const char* name;
  napi_typedarray_type array;
  const char* array_name;
  size_t array_bytes;  // bytes per typed-array element
};

const DTypeInfo kDTypes[] = {
    {DType::f32, kFormats[0].name, napi_float32_array, "Float32Array", 4},
    {DType::f16, kFormats[1].name, napi_uint16_array, "Uint16Array", 2},
    {DType::bf16, kFormats[2].name, napi_uint16_array, "Uint16Array", 2},
    {DType::i8, kFormats[3].name, napi_int8_array, "Int8Array", 1},
    {DType::i32, kFormats[4].name, napi_int32_array, "Int32Array", 4},
    {DType::q8_0, kFormats[5].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q4_0, kFormats[6].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q4_1, kFormats[7].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q5_0, kFormats[8].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q5_1, kFormats[9].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q2_k, kFormats[10].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q3_k, kFormats[11].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q4_k, kFormats[12].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q5_k, kFormats[13].name, napi_uint8_array, "Uint8Array", 1},
    {DType::q6_k, kFormats[14].name, napi_uint8_array, "Uint8Array", 1},
    {DType::iq4_nl, kFormats[15].name, napi_uint8_array, "Uint8Array", 1},
    {DType::iq4_xs, kFormats[16].name, napi_uint8_array, "Uint8Array", 1},
};

const DTypeInfo& info(DType d) { return kDTypes[static_cast<size_t>(d)]; }

std::string describe(Napi::Value v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (v.IsTypedArray()) return "typed array";
  if (v.IsArray()) return "array";
  if (v.IsFunction()) return "function";
  return "object";
}

}  // namespace

const char* dtype_name(DType d) { return info(d).name; }

std::string TensorView::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Args::Args(Napi::Env env, std::string op, Napi::Value args) : env_(env), op_(std::move(op)) {
  if (!args.IsObject() || args.IsArray()) type_error("arguments must be an object, got " + describe(args));
  obj_ = args.As<Napi::Object>();
}

Args::Args(Napi::Env env, std::string op, const std::vector<BoundArg>* bound)
    : env_(env), op_(std::move(op)), bound_(bound) {}

const BoundArg* Args::find_bound(const char* name) const {
  for (const BoundArg& b : *bound_)
    if (std::strcmp(b.name, name) == 0) return &b;
  return nullptr;
}

void Args::type_error(const std::string& msg) const { throw Napi::TypeError::New(env_, op_ + ": " + msg); }

void Args::range_error(const std::string& msg) const { throw Napi::RangeError::New(env_, op_ + ": " + msg); }

Napi::Value Args::get(const char* name) {
  if (!bound_) return obj_.Get(name);
  const BoundArg* b = find_bound(name);
  return b && !b->view ? b->value : env_.Undefined();
}

void Args::expect_dtype(const std::string& n, DType got, std::initializer_list<DType> dtypes) {
  std::string allowed;
  for (DType d : dtypes) {
    if (d == got) return;
    if (!allowed.empty()) allowed += ", ";
    allowed += dtype_name(d);
  }
  type_error(n + ".dtype must be one of " + allowed + ", got '" + dtype_name(got) + "'");
}

TensorView Args::optional_tensor(const char* name, std::initializer_list<DType> dtypes) {
  if (bound_) {
    const BoundArg* b = find_bound(name);
    if (b && b->view) return tensor(name, dtypes);
  }
  Napi::Value v = get(name);
  if (v.IsUndefined() || v.IsNull()) return TensorView{};
  return tensor(name, dtypes);
}

TensorView Args::rows_tensor(const char* name, std::initializer_list<DType> dtypes) {
  if (bound_) {
    const BoundArg* b = find_bound(name);
    if (b && b->view && b->view->paged) {
      expect_dtype(std::string("'") + name + "'", b->view->dtype, dtypes);
      return *b->view;
    }
  }
  return tensor(name, dtypes);
}

TensorView Args::tensor(const char* name, std::initializer_list<DType> dtypes) {
  const std::string n = std::string("'") + name + "'";
  if (bound_) {
    const BoundArg* b = find_bound(name);
    if (b && b->view) {
      if (b->view->paged) type_error(n + " is rows of sequence state in pages; this op reads contiguous tensors only");
      expect_dtype(n, b->view->dtype, dtypes);
      return *b->view;
    }
  }
  Napi::Value v = get(name);
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray())
    type_error(n + " must be a tensor { dtype, shape, data }, got " + describe(v));
  Napi::Object t = v.As<Napi::Object>();

  // dtype
  Napi::Value dv = t.Get("dtype");
  if (!dv.IsString()) type_error(n + ".dtype must be a string, got " + describe(dv));
  const std::string ds = dv.As<Napi::String>().Utf8Value();
  const DTypeInfo* di = nullptr;
  for (const auto& i : kDTypes)
    if (ds == i.name) di = &i;
  if (!di) {
    std::string allowed;
    for (DType d : dtypes) allowed += (allowed.empty() ? "" : ", ") + std::string(dtype_name(d));
    type_error(n + ".dtype must be one of " + allowed + ", got '" + ds + "'");
  }
  expect_dtype(n, di->dtype, dtypes);

  // shape
  Napi::Value sv = t.Get("shape");
  if (!sv.IsArray()) type_error(n + ".shape must be an array of integers, got " + describe(sv));
  Napi::Array sa = sv.As<Napi::Array>();
  if (sa.Length() > static_cast<uint32_t>(kMaxRank))
    range_error(n + ".shape has rank " + std::to_string(sa.Length()) + ", at most " + std::to_string(kMaxRank) +
                " is supported");
  TensorView view;
  view.dtype = di->dtype;
  size_t numel = 1;
  for (uint32_t i = 0; i < sa.Length(); ++i) {
    Napi::Value e = sa.Get(i);
    if (!e.IsNumber()) type_error(n + ".shape[" + std::to_string(i) + "] must be a number, got " + describe(e));
    const double d = e.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != std::floor(d) || d > kMaxDim)
      range_error(n + ".shape[" + std::to_string(i) + "] must be an integer in [0, 2^32], got " +
                  Napi::Number::New(env_, d).ToString().Utf8Value());
    const auto dim = static_cast<int64_t>(d);
    view.shape.push_back(dim);
    if (mul_overflow(numel, static_cast<size_t>(dim), &numel))
      range_error(n + ".shape " + view.shape_str() + " has too many elements");
  }
  view.numel = numel;

  // Typed-array elements the shape needs: values, or for block formats bytes of whole blocks.
  const FormatTraits& ft = format_traits(di->dtype);
  size_t expected = numel;
  if (ft.block_size > 1) {
    const int64_t last = view.shape.empty() ? 1 : view.shape.back();
    if (last % static_cast<int64_t>(ft.block_size) != 0)
      range_error(n + " has dtype " + ft.name + ", whose last dimension must be a multiple of " +
                  std::to_string(ft.block_size) + "; shape is " + view.shape_str());
    expected = numel / ft.block_size * ft.block_bytes / di->array_bytes;
  }

  // data, or a view into a file mapping
  Napi::Value av = t.Get("data");
  if (av.IsUndefined() && t.Has("file")) {
    size_t bytes = 0;
    if (mul_overflow(expected, di->array_bytes, &bytes)) range_error(n + ".shape " + view.shape_str() + " has too many bytes");
    read_mapped(n, t, view, bytes, ft.align);
    return view;
  }
  if (!av.IsTypedArray())
    type_error(n + ".data must be a " + di->array_name + " for dtype " + di->name + ", got " + describe(av));
  Napi::TypedArray ta = av.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != di->array)
    type_error(n + ".data must be a " + di->array_name + " for dtype " + di->name);
  if (ta.ElementLength() != expected)
    range_error(n + ".data has " + std::to_string(ta.ElementLength()) + " elements but shape " + view.shape_str() +
                " (" + di->name + ") needs " + std::to_string(expected));
  view.nbytes = ta.ByteLength();
  // napi_get_typedarray_info gives the data pointer with the view's byte offset applied, for
  // ArrayBuffer and SharedArrayBuffer storage alike.
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env_, av, &type, &length, &data, &buffer, &offset) != napi_ok)
    type_error(n + ".data could not be read as a typed array");
  view.data = data;
  if (view.data == nullptr && view.nbytes > 0) range_error(n + ".data is detached");
  if (staging_ && view.nbytes > 0 && AsyncStaging::detachable(env_, buffer))
    view.data = staging_->stage(env_, buffer, data, view.nbytes, n.rfind("'out", 0) == 0);
  view.present = true;
  refs_.push_back(Napi::Persistent(av));
  return view;
}

void Args::read_mapped(const std::string& n, Napi::Object t, TensorView& view, size_t bytes, size_t align) {
  // Kernels write into outputs; a mapping is PROT_READ, so writing would fault the process.
  if (n.rfind("'out", 0) == 0) type_error(n + " must be a tensor with data: a file mapping is read-only");
  std::shared_ptr<const MappedFile> file = unwrap_mapped_file(*this, n + ".file", t.Get("file"));
  Napi::Value ov = t.Get("byteOffset");
  if (!ov.IsNumber()) type_error(n + ".byteOffset must be an integer, got " + describe(ov));
  const double od = ov.As<Napi::Number>().DoubleValue();
  if (!(od >= 0) || od != std::floor(od) || od > 9007199254740992.0)
    range_error(n + ".byteOffset must be a non-negative integer, got " + ov.ToString().Utf8Value());
  const auto off = static_cast<uint64_t>(od);
  if (!file->contains(off, bytes))
    range_error(n + " spans bytes [" + std::to_string(off) + ", " + std::to_string(off) + " + " +
                std::to_string(bytes) + ") but '" + file->path() + "' has " + std::to_string(file->size()) + " bytes");
  const uint8_t* p = file->data() ? file->data() + off : nullptr;
  if (align > 1 && reinterpret_cast<uintptr_t>(p) % align != 0)
    range_error(n + ".byteOffset " + std::to_string(off) + " is not a multiple of " + std::to_string(align) +
                " as dtype " + dtype_name(view.dtype) + " needs; copy the bytes instead");
  // Kernels only read inputs; the const_cast never leads to a write (see the 'out' check above).
  view.data = const_cast<uint8_t*>(p);
  view.nbytes = bytes;
  view.present = true;
  view.mapped = true;
  mappings_.push_back(std::move(file));
}

F64View Args::optional_float64s(const char* name, size_t length) {
  Napi::Value v = get(name);
  if (v.IsUndefined() || v.IsNull()) return F64View{};
  return float64s(name, length);
}

F64View Args::float64s(const char* name, size_t length) {
  const std::string n = std::string("'") + name + "'";
  Napi::Value v = get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    type_error(n + " must be a Float64Array, got " + describe(v));
  napi_typedarray_type type;
  size_t elements = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env_, v, &type, &elements, &data, &buffer, &offset) != napi_ok)
    type_error(n + " could not be read as a typed array");
  if (elements != length)
    range_error(n + " has " + std::to_string(elements) + " elements, expected " + std::to_string(length));
  if (data == nullptr && elements > 0) range_error(n + " is detached");
  if (staging_ && elements > 0 && AsyncStaging::detachable(env_, buffer))
    data = staging_->stage(env_, buffer, data, elements * sizeof(double), n.rfind("'out", 0) == 0);
  refs_.push_back(Napi::Persistent(v));
  return F64View{static_cast<double*>(data), elements, true};
}

double Args::number(const char* name, double fallback, double min, double max) {
  Napi::Value v = get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) type_error(std::string("'") + name + "' must be a number, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max))
    range_error(std::string("'") + name + "' must be a finite number in [" + Napi::Number::New(env_, min).ToString().Utf8Value() +
                ", " + Napi::Number::New(env_, max).ToString().Utf8Value() + "], got " +
                Napi::Number::New(env_, d).ToString().Utf8Value());
  return d;
}

int64_t Args::integer(const char* name, int64_t fallback, int64_t min, int64_t max) {
  Napi::Value v = get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) type_error(std::string("'") + name + "' must be an integer, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != std::floor(d))
    range_error(std::string("'") + name + "' must be an integer in [" + std::to_string(min) + ", " +
                std::to_string(max) + "], got " + Napi::Number::New(env_, d).ToString().Utf8Value());
  return static_cast<int64_t>(d);
}

bool Args::boolean(const char* name, bool fallback) {
  Napi::Value v = get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) type_error(std::string("'") + name + "' must be a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

std::string Args::choice(const char* name, const char* fallback, std::initializer_list<const char*> allowed) {
  Napi::Value v = get(name);
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "'" : ", '") + std::string(a) + "'";
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) type_error(std::string("'") + name + "' must be one of " + list + ", got " + describe(v));
  const std::string s = v.As<Napi::String>().Utf8Value();
  for (const char* a : allowed)
    if (s == a) return s;
  range_error(std::string("'") + name + "' must be one of " + list + ", got '" + s + "'");
}

void Args::expect_shape(const char* name, const TensorView& t, const std::vector<int64_t>& shape) {
  if (t.shape != shape) {
    TensorView want;
    want.shape = shape;
    range_error(std::string("'") + name + "' must have shape " + want.shape_str() + ", got " + t.shape_str());
  }
}

void Args::expect_rank_at_least(const char* name, const TensorView& t, int rank) {
  if (t.rank() < rank)
    range_error(std::string("'") + name + "' must have rank >= " + std::to_string(rank) + ", got shape " +
                t.shape_str());
}

void Args::expect_no_partial_overlap(const char* out_name, const TensorView& out, const char* in_name,
                                     const TensorView& in) {
  if (!out.present || !in.present || out.nbytes == 0 || in.nbytes == 0) return;
  const auto* o = static_cast<const uint8_t*>(out.data);
  const auto* i = static_cast<const uint8_t*>(in.data);
  const bool overlap = o < i + in.nbytes && i < o + out.nbytes;
  if (overlap && !(o == i && out.nbytes == in.nbytes))
    range_error(std::string("'") + out_name + "' partially overlaps '" + in_name +
                "'; outputs may alias an input exactly or not at all");
}

}  // namespace attnode
