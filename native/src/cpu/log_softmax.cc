// Beam search's row log-softmax in f64, the plain version (the reference the AVX2 one in
// isa/avx2/log_softmax.cc is tested against, through the 'logSoftmax' op, with logProbs).
#include "log_softmax.h"

#include <cmath>
#include <limits>

namespace attnode {

int64_t log_softmax_row_f64_scalar(const float* x, double scale, double* o, size_t v) {
  double max = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < v; ++i) {
    const double s = static_cast<double>(x[i]) * scale;
    if (std::isnan(s)) return static_cast<int64_t>(i);
    o[i] = s;
    if (s > max) max = s;
  }
  double sum = 0;
  for (size_t i = 0; i < v; ++i) sum += std::exp(o[i] - max);
  const double lse = max + std::log(sum);
  for (size_t i = 0; i < v; ++i) o[i] -= lse;
  return -1;
}

}  // namespace attnode
