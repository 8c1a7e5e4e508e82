// The q4_0, q5_0 and iq4_nl weight formats: GGUF Q4_0 / Q5_0 / IQ4_NL blocks share Q8_0's shape
// (one f16 scale d per 32 values, value d * q) with q in [-8, 7] / [-16, 15] / the int8 levels of
// kIq4Codebook, so they widen losslessly into q8_0 blocks at pack time (IQ4_NL's codebook lookup
// happens there) and run the q8_0 integer kernels on every Isa. The cost: 34 bytes per 32 weights
// in memory instead of 18 / 22 / 18, so decode streams 1.9x / 1.5x / 1.9x the bytes of the file.
#include <algorithm>
#include <vector>

#include "../cpu/block_formats.h"
#include "../formats.h"
#include "linear_common.h"

namespace attnode {

std::unique_ptr<PackedWeight> make_q8_0_panels(Args& args, const WeightSource& w, DType stored);

namespace {

// One block of Q4_0 / Q5_0 into a Q8_0 block: the f16 scale copied, quants widened and centred.
//   src: one block -> dst: 34 bytes
void q4_0_to_q8_0(const uint8_t* src, uint8_t* dst) {
  dst[0] = src[0];
  dst[1] = src[1];
  auto* q = reinterpret_cast<int8_t*>(dst + 2);
  for (size_t j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>((src[2 + j] & 0xF) - 8);
    q[j + 16] = static_cast<int8_t>((src[2 + j] >> 4) - 8);
  }
}

void q5_0_to_q8_0(const uint8_t* src, uint8_t* dst) {
  dst[0] = src[0];
  dst[1] = src[1];
  const uint32_t qh = src[2] | (src[3] << 8) | (src[4] << 16) | (static_cast<uint32_t>(src[5]) << 24);
  auto* q = reinterpret_cast<int8_t*>(dst + 2);
  for (size_t j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>(((src[6 + j] & 0xF) | (((qh >> j) & 1) << 4)) - 16);
    q[j + 16] = static_cast<int8_t>(((src[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
  }
}

void iq4_nl_to_q8_0(const uint8_t* src, uint8_t* dst) {
  dst[0] = src[0];
  dst[1] = src[1];
  auto* q = reinterpret_cast<int8_t*>(dst + 2);
  for (size_t j = 0; j < 16; ++j) {
    q[j] = kIq4Codebook[src[2 + j] & 0xF];
    q[j + 16] = kIq4Codebook[src[2 + j] >> 4];
  }
}

template <void (*Widen)(const uint8_t*, uint8_t*)>
std::unique_ptr<PackedWeight> make_widened(Args& args, const WeightSource& w) {
  const FormatTraits& f = format_traits(w.dtype);
  const size_t blocks = static_cast<size_t>(w.n) * (static_cast<size_t>(w.k) / kQ8BlockSize);
  std::vector<uint8_t> q8(std::max<size_t>(blocks, 1) * kQ8BlockBytes);
  const auto* src = w.as<uint8_t>();
  for (size_t b = 0; b < blocks; ++b) Widen(src + b * f.block_bytes, q8.data() + b * kQ8BlockBytes);
  w.read_rows(static_cast<size_t>(w.n));
  const WeightSource widened{DType::q8_0, q8.data(), w.n, w.k, static_cast<size_t>(w.k), 1, nullptr};
  return make_q8_0_panels(args, widened, w.dtype);
}

const WeightFormatRegistrar kQ4_0(DType::q4_0, make_widened<q4_0_to_q8_0>);
const WeightFormatRegistrar kQ5_0(DType::q5_0, make_widened<q5_0_to_q8_0>);
const WeightFormatRegistrar kIQ4_NL(DType::iq4_nl, make_widened<iq4_nl_to_q8_0>);

}  // namespace
}  // namespace attnode
