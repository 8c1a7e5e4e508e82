// Packed weights: a linear layer's weight matrix W (N, K) copied once into native memory in the
// layout its kernels want (read by strides, so transposed checkpoints need no copy first), behind a JS handle (WeightHandle in addon.cc) with dispose().
// One format per weight dtype (f32, f16, bf16, q8_0, i8), each registered by its own file in
// weights/; `linear` calls whichever format the handle holds, so models never branch on dtype.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "args.h"
#include "op.h"

namespace attnode {

enum class Activation { none, gelu_erf, gelu_tanh, silu, relu, tanh };

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

// W (N, K) as a packer reads it from the stored tensor, by strides: element (n, k) lies at
// data[n * stride_n + k * stride_k] (in elements of the dtype). A plain (N, K) weight has
// stride_n = K, stride_k = 1; a Hugging Face Conv1D weight stored (K, Nt) has stride_n = 1,
// stride_k = Nt, with data already offset to its first column. Block formats are always plain.
struct WeightSource {
  DType dtype;
  const void* data;
  int64_t n, k;
  size_t stride_n, stride_k;
  // Told, as a packer goes, that rows [0, rows) of a plain W will not be read again: packWeight
  // then releases their mapped pages at once, so a large weight (GPT-2's 147 MiB f32
  // unembedding) is never resident twice, mapped and packed. Null: nobody listens.
  std::function<void(size_t rows)> rows_read;

  void read_rows(size_t rows) const {
    if (rows_read) rows_read(rows);
  }

  bool plain() const { return stride_k == 1 && stride_n == static_cast<size_t>(k); }
  template <class T>
  const T* as() const { return static_cast<const T*>(data); }
  // Element (n, k).   src: (N, K) by strides
  template <class T>
  T at(size_t n, size_t k) const { return as<T>()[n * stride_n + k * stride_k]; }
};

// Builds a packed weight from args: the stored 'weight' read through `w`, plus whatever else the
// format reads (for example 'scales'). Validates everything; copies the data into native memory.
using WeightFactory = std::unique_ptr<PackedWeight> (*)(Args& args, const WeightSource& w);

// The packer and kernels half of the format table (formats.h has the rest): each format's file
// registers its factory for its DType, and lookups index by DType.
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
