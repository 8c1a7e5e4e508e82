// Weight-format registry and activations shared by every format's epilogue.
#include "weights.h"

#include <vector>

#include "cpu/elementwise.h"

namespace attnode {

namespace {
struct Format {
  DType dtype;
  WeightFactory factory;
};
std::vector<Format>& formats() {
  static std::vector<Format> f;
  return f;
}
}  // namespace

WeightFormatRegistrar::WeightFormatRegistrar(DType dtype, WeightFactory factory) {
  formats().push_back({dtype, factory});
}

WeightFactory find_weight_format(DType dtype) {
  for (const Format& f : formats())
    if (f.dtype == dtype) return f.factory;
  return nullptr;
}

std::string weight_format_list() {
  std::string s;
  for (const Format& f : formats()) s += (s.empty() ? "" : ", ") + std::string(dtype_name(f.dtype));
  return s;
}

Activation read_activation(Args& args, const char* name) {
  const std::string a = args.choice(name, "none", {"none", "gelu", "gelu_tanh", "silu"});
  if (a == "gelu") return Activation::gelu_erf;
  if (a == "gelu_tanh") return Activation::gelu_tanh;
  if (a == "silu") return Activation::silu;
  return Activation::none;
}

void apply_activation(float* x, size_t n, Activation act, Isa isa) {
  const ElementwiseKernels& k = elementwise_kernels(isa);
  switch (act) {
    case Activation::gelu_erf: k.gelu_erf_f32(x, x, n); break;
    case Activation::gelu_tanh: k.gelu_tanh_f32(x, x, n); break;
    case Activation::silu: k.silu_f32(x, x, n); break;
    default: break;
  }
}

}  // namespace attnode
