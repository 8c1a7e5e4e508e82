// The ops a compiled program runs on the CUDA device (program.cc), each as a prepare function:
// on the JS thread it checks one step's resolved arguments for this pass (shapes, dtypes,
// numbers, as the CPU op does) and returns a launch that enqueues its kernels on the stream
// without touching any JS value. Not the program (operands, passes, states) nor the kernels.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "context.h"
#include "cuda/kernels.h"
#include "dtype.h"
#include "weight.h"

namespace attnode::cuda_js {

// One tensor operand of one step in one pass: device memory, contiguous or rows in state pages.
struct DevView {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  size_t numel = 0;
  char* data = nullptr;        // device, contiguous; null when paged
  bool paged = false;          // rows in sequence-state pages: `rows` (first = the view's row 0)
  cuda::DeviceRows rows;
  const void* host = nullptr;  // the host copy the pass reads from (input slots, parameters), or null
  int rank() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape[static_cast<size_t>(i < 0 ? rank() + i : i)]; }
  std::string shape_str() const;
};

// A resolved argument: a tensor view, a plain value, or a device weight.
struct ArgVal {
  enum class Kind { none, view, number, string, boolean, weight } kind = Kind::none;
  DevView view;
  double number = 0;
  std::string string;
  bool boolean = false;
  std::shared_ptr<const DeviceWeight> weight;
};

// What a launch may take while it enqueues: scratch device memory, handed back after the step
// (stream order makes the reuse safe: every launch is on the same stream).
struct Exec {
  cudaStream_t s;
  std::vector<DeviceBytesRef> scratch;
  template <class T>
  T* take(size_t n) {
    if (n == 0) return nullptr;
    scratch.push_back(std::make_shared<DeviceBytes>(n * sizeof(T)));
    return scratch.back()->as<T>();
  }
};
using Launch = std::function<void(Exec&)>;

// A bad argument: `type` for a TypeError, else a RangeError (program.cc throws it as such).
struct OpError : std::runtime_error {
  OpError(const std::string& m, bool t) : std::runtime_error(m), type(t) {}
  bool type;
};

// The arguments of one step as an op reads them; errors name the op and the argument.
class StepArgs {
 public:
  StepArgs(std::string op, std::vector<std::pair<std::string, const ArgVal*>> args) : op_(std::move(op)), args_(std::move(args)) {}
  const std::string& op() const { return op_; }
  bool has(const char* name) const;
  const DevView& tensor(const char* name, std::initializer_list<DType> dtypes) const;
  const DevView* optional_tensor(const char* name, std::initializer_list<DType> dtypes) const;
  double number(const char* name, double fallback, double min, double max) const;
  int64_t integer(const char* name, int64_t fallback, int64_t min, int64_t max) const;
  bool boolean(const char* name, bool fallback) const;
  std::string choice(const char* name, const char* fallback, std::initializer_list<const char*> allowed) const;
  const DeviceWeight& weight(const char* name) const;
  std::shared_ptr<const DeviceWeight> weight_ref(const char* name) const;
  // Refuses an argument the CUDA op does not take (rather than ignoring it).
  void refuse(const char* name, const std::string& why) const;
  void expect_shape(const char* name, const DevView& t, const std::vector<int64_t>& shape) const;
  [[noreturn]] void range_error(const std::string& m) const { throw OpError(op_ + ": " + m, false); }
  [[noreturn]] void type_error(const std::string& m) const { throw OpError(op_ + ": " + m, true); }

 private:
  const ArgVal* find(const char* name) const;
  std::string op_;
  std::vector<std::pair<std::string, const ArgVal*>> args_;
};

using Prepare = Launch (*)(const StepArgs& args);
// The prepare function of a CUDA op, or null for an op that does not run on the device.
Prepare find_cuda_op(const std::string& name);
std::vector<std::string> cuda_op_names();

}  // namespace attnode::cuda_js
