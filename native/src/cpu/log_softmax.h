// One row of beam search's log-softmax in f64: o <- x * scale - logsumexp(x * scale), as logProbs
// (ts/generate/beam-search.ts) computes it. Returns the first index whose x * scale is NaN (o then
// partly written), or -1. A row whose maximum is not finite (every entry -inf, or a +inf) gives
// what the plain row gives (NaNs, as the reference's). x: (v) f32, o: (v) f64.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dispatch.h"

namespace attnode {

int64_t log_softmax_row_f64_scalar(const float* x, double scale, double* o, size_t v);
#if ATTNODE_X86
int64_t log_softmax_row_f64_avx2(const float* x, double scale, double* o, size_t v);
#endif

}  // namespace attnode
