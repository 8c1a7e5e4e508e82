// The bf16 weight format: the f16 format's class (f16.cc) holding bf16 bits, whose kernels widen
// them with a 16-bit shift. Separate file so each weight dtype registers in its own place.
#include "../weights.h"

namespace attnode {

std::unique_ptr<PackedWeight> make_half_weight(Args& args, const WeightSource& w);

namespace {
const WeightFormatRegistrar kBf16(DType::bf16, make_half_weight);
}  // namespace

}  // namespace attnode
