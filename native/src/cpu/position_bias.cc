// Relative-position bias tables (see position_bias.h). Plain loops: the table holds
// Hq * (Tq + Tk - 1) values, a vanishing cost next to the attention that reads it.
#include "position_bias.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace attnode {

int64_t t5_bucket(int64_t rel, size_t buckets, int64_t max_distance, bool bidirectional) {
  int64_t n = static_cast<int64_t>(buckets);
  int64_t bucket = 0;
  int64_t r;
  if (bidirectional) {
    n /= 2;
    if (rel > 0) bucket += n;
    r = std::llabs(rel);
  } else {
    r = -std::min<int64_t>(rel, 0);
  }
  const int64_t exact = n / 2;
  if (r < exact) return bucket + r;
  const float f = std::log(static_cast<float>(r) / static_cast<float>(exact)) /
                  static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(exact))) *
                  static_cast<float>(n - exact);
  const int64_t large = exact + static_cast<int64_t>(f);  // truncation, as .to(torch.long)
  return bucket + std::min(large, n - 1);
}

void position_bias_table(const PositionBiasSpec& spec, size_t hq, size_t tq, size_t tk, int64_t q_offset, float* out) {
  const size_t len = tq + tk - 1;
  for (size_t idx = 0; idx < len; ++idx) {
    const int64_t rel = static_cast<int64_t>(idx) - static_cast<int64_t>(tq - 1) - q_offset;
    if (spec.kind == PositionBiasSpec::Kind::alibi) {
      for (size_t h = 0; h < hq; ++h) out[h * len + idx] = spec.table[h] * static_cast<float>(rel);
    } else {
      const float* row = spec.table + static_cast<size_t>(t5_bucket(rel, spec.buckets, spec.max_distance, spec.bidirectional)) * hq;
      for (size_t h = 0; h < hq; ++h) out[h * len + idx] = row[h];
    }
  }
}

}  // namespace attnode
