// Packed weights: a linear layer's weight matrix W (N, K) copied once into native memory in the
// layout its kernels want, behind a JS handle (WeightHandle in addon.cc) with dispose().
// One format per weight dtype (f32, f16, bf16, q8_0, i8), each registered by its own file in
// weights/; `linear` calls whichever format the handle holds, so models never branch on dtype.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "args.h"
#include "op.h"

namespace attnode {

enum class Activation { none, gelu_erf, gelu_tanh, silu };

// Parses 'none' | 'gelu' | 'gelu_tanh' | 'silu' (throws a RangeError naming the argument).
Activation read_activation(Args& args, const char* name);
// Applies an activation in place to n values (vectorized through the element-wise table).
void apply_activation(float* x, size_t n, Activation act, Isa isa);

class PackedWeight {
 public:
  PackedWeight(DType dtype, int64_t n, int64_t k) : dtype_(dtype), n_(n), k_(k) {}
  virtual ~PackedWeight() = default;

  DType dtype() const { return dtype_; }
  int64_t n() const { return n_; }  // output features (rows of W)
  int64_t k() const { return k_; }  // input features (columns of W)
  // Bytes of native memory this weight holds.
  virtual size_t bytes() const = 0;
  // Name of the kernel variant used under `isa`, for cpuInfo-style reports.
  virtual const char* variant(Isa isa) const = 0;

  // out(M, N) = act(x(M, K) . W^T + bias).  x rows are ldx floats apart, out rows ldo apart;
  // bias: (N) f32 or null. Runs on env.pool; may not touch any JS value.
  virtual void linear(const float* x, size_t m, size_t ldx, float* out, size_t ldo, const float* bias,
                      Activation act, const OpEnv& env) const = 0;

 private:
  DType dtype_;
  int64_t n_, k_;
};

// Builds a packed weight from args: 'weight' (N, K) of the format's dtype plus whatever else the
// format reads (for example 'scales'). Validates everything; copies the data into native memory.
using WeightFactory = std::unique_ptr<PackedWeight> (*)(Args& args, const TensorView& weight);

struct WeightFormatRegistrar {
  WeightFormatRegistrar(DType dtype, WeightFactory factory);
};

// The factory for a dtype, or null when no format handles it.
WeightFactory find_weight_format(DType dtype);
// Dtypes that have a format, for error messages ("f32, q8_0").
std::string weight_format_list();

// Implemented in addon.cc (which owns the WeightHandle class): the packed weight behind a JS
// handle, or a TypeError naming `name` when the value is not a live handle.
std::shared_ptr<const PackedWeight> unwrap_weight(Args& args, const char* name);

}  // namespace attnode
