// Beam search's row log-softmax in f64 with AVX2 + FMA: 4 lanes. Compiled with AVX2/FMA flags;
// only called when cpuid reports them (ops/beam.cc). e^y for y = o - max <= 0: y = n ln2 + r with
// |r| <= ln2 / 2 (ln2 in two parts), e^r by its Taylor series to r^13 (the remainder is below
// 2^-56 of it), times 2^n put in the exponent bits; y below -700 is taken as -700 (e^-700 is
// 1e-304 and the sum holds e^0 = 1, so the term is nothing either way). Within about 2 ulp of the
// C library's exp; the sum goes in lanes, not in index order.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "../../log_softmax.h"

namespace attnode {
int64_t log_softmax_row_f64_avx2(const float* x, double scale, double* o, size_t v) {
  const __m256d vscale = _mm256_set1_pd(scale);
  __m256d vmax = _mm256_set1_pd(-std::numeric_limits<double>::infinity());
  __m256d vnan = _mm256_setzero_pd();
  size_t i = 0;
  for (; i + 4 <= v; i += 4) {
    const __m256d s = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), vscale);
    _mm256_storeu_pd(o + i, s);
    vmax = _mm256_max_pd(vmax, s);
    vnan = _mm256_or_pd(vnan, _mm256_cmp_pd(s, s, _CMP_UNORD_Q));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, vmax);
  double max = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
  bool nan = _mm256_movemask_pd(vnan) != 0;
  for (; i < v; ++i) {
    const double s = static_cast<double>(x[i]) * scale;
    o[i] = s;
    nan |= std::isnan(s);
    if (s > max) max = s;
  }
  if (nan)
    for (size_t k = 0; k < v; ++k)
      if (std::isnan(o[k])) return static_cast<int64_t>(k);
  // Every entry -inf, or some +inf: the plain row gives what the reference gives there.
  if (!std::isfinite(max)) return log_softmax_row_f64_scalar(x, scale, o, v);

  const __m256d vm = _mm256_set1_pd(max), floor = _mm256_set1_pd(-700.0);
  const __m256d log2e = _mm256_set1_pd(1.4426950408889634), shift = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  const __m256d ln2hi = _mm256_set1_pd(0.693147180369123816490), ln2lo = _mm256_set1_pd(1.90821492927058770002e-10);
  static constexpr double kTaylor[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                       1.0 / 40320.0,      1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,
                                       1.0 / 6.0,          0.5,               1.0,              1.0};
  const __m256i bias = _mm256_set1_epi64x(1023);
  auto vexp = [&](__m256d y) {
    y = _mm256_max_pd(y, floor);
    const __m256d t = _mm256_fmadd_pd(y, log2e, shift);
    const __m256d n = _mm256_sub_pd(t, shift);
    const __m256d r = _mm256_fnmadd_pd(n, ln2lo, _mm256_fnmadd_pd(n, ln2hi, y));
    __m256d p = _mm256_set1_pd(kTaylor[0]);
    for (size_t c = 1; c < sizeof kTaylor / sizeof kTaylor[0]; ++c) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(kTaylor[c]));
    // t's low mantissa bits hold n: bits(t) - bits(shift) = n, and n + 1023 is a valid exponent.
    const __m256i ni = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_castpd_si256(shift));
    return _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(ni, bias), 52)));
  };
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  size_t k = 0;
  for (; k + 8 <= v; k += 8) {
    s0 = _mm256_add_pd(s0, vexp(_mm256_sub_pd(_mm256_loadu_pd(o + k), vm)));
    s1 = _mm256_add_pd(s1, vexp(_mm256_sub_pd(_mm256_loadu_pd(o + k + 4), vm)));
  }
  _mm256_store_pd(lanes, _mm256_add_pd(s0, s1));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; k < v; ++k) sum += std::exp(o[k] - max);
  const double lse = max + std::log(sum);
  const __m256d vl = _mm256_set1_pd(lse);
  k = 0;
  for (; k + 4 <= v; k += 4) _mm256_storeu_pd(o + k, _mm256_sub_pd(_mm256_loadu_pd(o + k), vl));
  for (; k < v; ++k) o[k] -= lse;
  return -1;
}

}  // namespace attnode
