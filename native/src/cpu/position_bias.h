// Per-head attention bias generated from relative positions (T5's buckets, ALiBi's slopes),
// expanded per call into a (Hq, Tq + Tk - 1) table that the attention kernels index by j - i.
// Not a kernel: the attention kernels read the table (cpu/attention.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace attnode {

struct PositionBiasSpec {
  enum class Kind { none, t5, alibi };
  Kind kind = Kind::none;
  const float* table = nullptr;  // t5: (buckets, Hq) f32; alibi: (Hq) f32 slopes
  size_t buckets = 0;
  int64_t max_distance = 128;
  bool bidirectional = false;
};

// T5's bucket of rel = key position - query position, in float32 arithmetic as PyTorch's
// _relative_position_bucket computes it.
int64_t t5_bucket(int64_t rel, size_t buckets, int64_t max_distance, bool bidirectional);

// out: (Hq, Tq + Tk - 1) f32; out[h][j - i + Tq - 1] is the bias of query row i (at key
// position q_offset + i) and key j.
void position_bias_table(const PositionBiasSpec& spec, size_t hq, size_t tq, size_t tk, int64_t q_offset, float* out);

}  // namespace attnode
