// Weight-format registry and activations shared by every format's epilogue.
#include "weights.h"

#include <array>

#include "cpu/elementwise.h"

namespace attnode {

namespace {
// Indexed by DType; filled by the registrars of weights/*.cc during static initialization.
std::array<WeightFactory, kDTypeCount>& factories() {
  static std::array<WeightFactory, kDTypeCount> f{};
  return f;
}
}  // namespace

WeightFormatRegistrar::WeightFormatRegistrar(DType dtype, WeightFactory factory) {
  factories()[static_cast<size_t>(dtype)] = factory;
}

WeightFactory find_weight_format(DType dtype) { return factories()[static_cast<size_t>(dtype)]; }

std::string weight_format_list() {
  std::string s;
  for (size_t i = 0; i < kDTypeCount; ++i)
    if (factories()[i]) s += (s.empty() ? "" : ", ") + std::string(dtype_name(static_cast<DType>(i)));
  return s;
}

Activation read_activation(Args& args, const char* name) {
  const std::string a = args.choice(name, "none", {"none", "gelu", "gelu_tanh", "silu", "relu", "tanh"});
  if (a == "gelu") return Activation::gelu_erf;
  if (a == "gelu_tanh") return Activation::gelu_tanh;
  if (a == "silu") return Activation::silu;
  if (a == "relu") return Activation::relu;
  if (a == "tanh") return Activation::tanh;
  return Activation::none;
}

void apply_activation(float* x, size_t n, Activation act, Isa isa) {
  const ElementwiseKernels& k = elementwise_kernels(isa);
  switch (act) {
    case Activation::gelu_erf: k.gelu_erf_f32(x, x, n); break;
    case Activation::gelu_tanh: k.gelu_tanh_f32(x, x, n); break;
    case Activation::silu: k.silu_f32(x, x, n); break;
    case Activation::relu: relu_f32_plain(x, x, n); break;
    case Activation::tanh: tanh_f32_plain(x, x, n); break;
    default: break;
  }
}

}  // namespace attnode
