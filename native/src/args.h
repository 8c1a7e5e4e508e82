// Argument reading for ops called from JavaScript: every value is checked before use, and a
// failure throws a JS TypeError/RangeError whose message names the op and the argument.
// Tensors arrive as plain objects { dtype, shape, data } with a contiguous typed array, or as
// mapped tensors { dtype, shape, file, byteOffset } that point into a MappedFile handle
// (read-only, zero-copy; refused for arguments named 'out...', which kernels write).
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dtype.h"
#include "mapped_file.h"
#include "staging.h"
#include "paged_rows.h"

namespace attnode {

struct TensorView {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  void* data = nullptr;
  size_t numel = 0;
  size_t nbytes = 0;
  bool present = false;
  bool mapped = false;  // data points into a read-only file mapping
  bool paged = false;   // rows are in state pages (`rows`); `data` is null
  PagedRows rows;

  int rank() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape[static_cast<size_t>(i < 0 ? rank() + i : i)]; }
  template <class T>
  T* as() const { return static_cast<T*>(data); }
  std::string shape_str() const;
};

// A Float64Array argument: not a tensor, since f64 is no dtype of the format table; the
// sampler passes f64 because its scores and parameters are JavaScript numbers.
struct F64View {
  double* data = nullptr;
  size_t length = 0;
  bool present = false;
};

// An argument already resolved by a compiled program (program.cc): a tensor view into memory
// the program checked, or a plain JS value (numbers, strings, handles, mapped tensors).
struct BoundArg {
  const char* name;
  const TensorView* view;  // null: read `value` as a JS argument
  Napi::Value value;
};

class Args {
 public:
  Args(Napi::Env env, std::string op, Napi::Value args);
  // Arguments of one step of a compiled program; `bound` must outlive this Args.
  Args(Napi::Env env, std::string op, const std::vector<BoundArg>* bound);

  Napi::Env env() const { return env_; }
  // Async calls: typed arrays over detachable ArrayBuffers are read through `s` (staging.h).
  void stage_into(AsyncStaging* s) { staging_ = s; }
  const std::string& op() const { return op_; }

  // A required (or optional) tensor. `dtypes` restricts the allowed dtypes.
  TensorView tensor(const char* name, std::initializer_list<DType> dtypes);
  TensorView optional_tensor(const char* name, std::initializer_list<DType> dtypes);
  // As tensor(), but also takes rows of sequence state in pages (a compiled program's cache
  // operands): the caller reads such a view through `rows`. tensor() refuses them.
  TensorView rows_tensor(const char* name, std::initializer_list<DType> dtypes);
  // A Float64Array of exactly `length` elements (kept alive like a tensor's data); the optional
  // form gives present = false for undefined or null.
  F64View float64s(const char* name, size_t length);
  F64View optional_float64s(const char* name, size_t length);
  double number(const char* name, double fallback, double min, double max);
  int64_t integer(const char* name, int64_t fallback, int64_t min, int64_t max);
  bool boolean(const char* name, bool fallback);
  std::string choice(const char* name, const char* fallback, std::initializer_list<const char*> allowed);

  // Shape checks that throw RangeError naming the argument.
  void expect_shape(const char* name, const TensorView& t, const std::vector<int64_t>& shape);
  void expect_rank_at_least(const char* name, const TensorView& t, int rank);
  // `out` may be the same memory as `in` but may not partially overlap it.
  void expect_no_partial_overlap(const char* out_name, const TensorView& out, const char* in_name,
                                 const TensorView& in);

  // The raw JS value of an argument (for handles that Args does not know how to read).
  Napi::Value raw(const char* name) { return get(name); }

  [[noreturn]] void type_error(const std::string& msg) const;
  [[noreturn]] void range_error(const std::string& msg) const;

  // Persistent references to every typed array read, so async work keeps them alive.
  std::vector<Napi::Reference<Napi::Value>> take_refs() { return std::move(refs_); }
  // File mappings that mapped tensors point into, kept alive the same way (a handle's
  // dispose() only drops its own reference).
  std::vector<std::shared_ptr<const MappedFile>> take_mappings() { return std::move(mappings_); }

 private:
  Napi::Value get(const char* name);
  void read_mapped(const std::string& n, Napi::Object t, TensorView& view, size_t expected_bytes, size_t align);

  const BoundArg* find_bound(const char* name) const;
  void expect_dtype(const std::string& n, DType got, std::initializer_list<DType> dtypes);

  Napi::Env env_;
  AsyncStaging* staging_ = nullptr;
  std::string op_;
  Napi::Object obj_;
  const std::vector<BoundArg>* bound_ = nullptr;
  std::vector<Napi::Reference<Napi::Value>> refs_;
  std::vector<std::shared_ptr<const MappedFile>> mappings_;
};

// Implemented in addon.cc (which owns the MappedFile handle class): the mapping behind a JS
// handle, or a TypeError naming `what` when the value is not a live handle.
std::shared_ptr<const MappedFile> unwrap_mapped_file(Args& args, const std::string& what, Napi::Value v);

}  // namespace attnode
