// The sampler's vocabulary passes (see sampler.h). Each function names the TypeScript it
// mirrors; where C++ could differ from JavaScript (NaN, sorting) the comment says how it does not.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "js_exp.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace attnode {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// processors.ts topValues: the k largest non--inf scores, descending, by insertion.
std::vector<double> top_values(const double* s, size_t n, size_t k) {
  const size_t cap = std::min(k, n);
  std::vector<double> buf(cap);
  size_t len = 0;
  for (size_t i = 0; i < n; ++i) {
    const double v = s[i];
    if (v == -kInf || (len == cap && !(v > buf[len - 1]))) continue;
    size_t j = len < cap ? len++ : len - 1;
    while (j > 0 && buf[j - 1] < v) {
      buf[j] = buf[j - 1];
      --j;
    }
    buf[j] = v;
  }
  buf.resize(len);
  return buf;
}

// processors.ts keepLightestPrefix, with its constants: kBinsPerNat bins per nat, the last bin
// taking every key past kSpanNats.
constexpr int kBinsPerNat = 32;
constexpr int kSpanNats = 64;

void keep_lightest_prefix(double* s, size_t n, const std::vector<double>& key, const std::vector<double>& weight, double reach) {
  constexpr int last = kBinsPerNat * kSpanNats;  // the catch-all bin
  std::vector<double> mass(last + 1, 0.0);
  std::vector<int32_t> bin(n, -1);
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (key[i] < 0) continue;
    // Math.min(last, Math.floor(key * 32)); a NaN key (only a NaN score makes one) lands in bin
    // 0 with no mass, as JavaScript's Int32Array store of NaN and typed-array write at "NaN" do.
    const double f = std::floor(key[i] * kBinsPerNat);
    if (std::isnan(f)) {
      bin[i] = 0;
      total += weight[i];
      continue;
    }
    const int32_t b = f >= last ? last : static_cast<int32_t>(f);
    bin[i] = b;
    mass[b] = mass[b] + weight[i];
    total += weight[i];
  }
  const double target = reach * total;
  double acc = 0;
  int edge = 0;
  while (edge <= last && acc + mass[edge] < target) acc += mass[edge++];
  if (edge > last) return;  // rounding kept the walk short of the target: every token stays
  std::vector<uint32_t> members;
  for (size_t i = 0; i < n; ++i)
    if (bin[i] == edge) members.push_back(static_cast<uint32_t>(i));
  // JavaScript's comparator key[a] - key[b] || a - b: ascending key, ties by lower index. That
  // is a total order (so any correct sort gives the one result) unless a key is NaN; a NaN key
  // sorts as +inf here, so std::sort always gets a strict weak order.
  auto k_of = [&](uint32_t i) { return std::isnan(key[i]) ? kInf : key[i]; };
  std::sort(members.begin(), members.end(), [&](uint32_t a, uint32_t b) {
    const double ka = k_of(a), kb = k_of(b);
    if (ka != kb) return ka < kb;
    return a < b;
  });
  size_t m = 0;
  while (m < members.size() && acc < target) acc += weight[members[m++]];
  for (size_t i = m; i < members.size(); ++i) s[members[i]] = -kInf;
  for (size_t i = 0; i < n; ++i)
    if (bin[i] > edge) s[i] = -kInf;
}

double max_of(const double* s, size_t n) {
  double max = -kInf;
  for (size_t i = 0; i < n; ++i)
    if (s[i] > max) max = s[i];
  return max;
}

// keepOnly(scores, topRanked(...)) given the k-th largest kept value `thr` and how many kept
// values lie above it (m kept in all): every score above thr, then the first ties at thr by index.
void keep_top(double* s, size_t n, double thr, size_t above, size_t m) {
  size_t ties = m - above;
  for (size_t i = 0; i < n; ++i) {
    const double v = s[i];
    if (v > thr) continue;
    if (v == thr && ties > 0) {
      --ties;
      continue;
    }
    s[i] = -kInf;
  }
}

}  // namespace

// processors.ts Temperature.process
void sampler_temperature(double* s, size_t n, double t) {
  if (t == 0) {
    // best < 0 ? scores[i] !== -Infinity : scores[i] > scores[best]
    ptrdiff_t best = -1;
    for (size_t i = 0; i < n; ++i)
      if (best < 0 ? s[i] != -kInf : s[i] > s[best]) best = static_cast<ptrdiff_t>(i);
    if (best < 0) return;
    for (size_t i = 0; i < n; ++i)
      if (static_cast<ptrdiff_t>(i) != best) s[i] = -kInf;
    return;
  }
  for (size_t i = 0; i < n; ++i) s[i] = s[i] / t;
}


// processors.ts TopK.process: keepOnly(scores, topRanked(scores, k, topValues(scores, k))).
// The reference: topValues' insertion, O(V * k), kept to judge sampler_top_k by.
void sampler_top_k_reference(double* s, size_t n, size_t k) {
  const std::vector<double> sorted = top_values(s, n, k);
  const size_t m = std::min(k, sorted.size());
  if (m == 0) {
    for (size_t i = 0; i < n; ++i) s[i] = -kInf;
    return;
  }
  const double thr = sorted[m - 1];
  size_t above = 0;
  for (size_t i = 0; i < m; ++i)
    if (sorted[i] > thr) ++above;
  keep_top(s, n, thr, above, m);
}

// The same set by selection, O(V) whatever k (issue #23: a top_k of 50,000 took 85 times as long
// as 40), in as few passes over the row as the case allows, each free of data-dependent branches
// where it can be. A row holding NaN goes to the reference, which defines what NaN does; k at or
// past the number of non--inf scores removes nothing.
//  - k >= V: one pass, that only looks for NaN.
//  - k <= kHeapTopK: one pass keeps the k largest in a min-heap (most scores cost one comparison
//    with its top), a second removes what lies below the heap's smallest.
//  - larger k: a strided sample brackets the k-th largest (sample_bracket); one pass counts what
//    lies above and inside the bracket, a second removes what lies below it and lists the few
//    scores inside, the only ones left to select among. Should the sample mislead (the bracket
//    misses the k-th largest), kth_largest_bucketed finds it exactly.
// Every route gives the k-th largest: every score above it is kept, then the first ties by
// index, as topRanked does.
constexpr size_t kHeapTopK = 1024;
constexpr size_t kTopKBuckets = 4096;
constexpr size_t kTopKSample = 2048;

// The m-th largest of the non--inf scores (1 <= m < their count) and how many exceed it. A
// histogram over kTopKBuckets equal value ranges finds the bucket that holds it; nth_element
// runs on that bucket's scores only. Bucketing is monotone in the score
// (a rounded subtraction and a positive scale are), so every score of a higher bucket exceeds
// every score of a lower one.
double kth_largest_bucketed(const double* s, size_t n, size_t m, size_t* above) {
  double lo = kInf, hi = -kInf;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == -kInf) continue;
    lo = std::min(lo, s[i]);
    hi = std::max(hi, s[i]);
  }
  const double scale = static_cast<double>(kTopKBuckets) / (hi - lo);
  std::vector<double> cand;
  if (std::isfinite(scale) && std::isfinite(hi - lo) && hi > lo) {
    // Through int32 (one instruction), not size_t: b lies in [0, kTopKBuckets) already.
    const double last = static_cast<double>(kTopKBuckets - 1);
    auto bucket = [&](double x) { return static_cast<size_t>(static_cast<int32_t>(std::min((x - lo) * scale, last))); };
    std::vector<uint32_t> hist(kTopKBuckets, 0);
    for (size_t i = 0; i < n; ++i)
      if (s[i] != -kInf) ++hist[bucket(s[i])];
    size_t b = kTopKBuckets - 1, higher = 0;
    while (higher + hist[b] < m) higher += hist[b--];
    cand.reserve(hist[b]);
    for (size_t i = 0; i < n; ++i)
      if (s[i] != -kInf && bucket(s[i]) == b) cand.push_back(s[i]);
    m -= higher;
    *above = higher;
  } else {
    // hi - lo overflows (or is +inf): select over every kept score.
    for (size_t i = 0; i < n; ++i)
      if (s[i] != -kInf) cand.push_back(s[i]);
    *above = 0;
  }
  std::nth_element(cand.begin(), cand.begin() + static_cast<ptrdiff_t>(m - 1), cand.end(), std::greater<double>());
  const double thr = cand[m - 1];
  for (const double x : cand)
    if (x > thr) ++*above;
  return thr;
}

// The row passes top-k makes, in SSE2 (every x86-64 CPU has it: two scores per instruction, no
// branch on the data) with a scalar loop for the tail and for other CPUs. Comparisons are IEEE's,
// as in the scalar loops: NaN compares false with everything and unequal with itself.
struct RowCounts {
  size_t nan = 0;     // NaN scores
  size_t kept = 0;    // scores other than -inf (NaN among them)
  size_t sure = 0;    // scores >= hi
  size_t inside = 0;  // scores in [lo, hi), -inf not counted
};

RowCounts count_row(const double* s, size_t n, double lo, double hi) {
  RowCounts c;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128d vlo = _mm_set1_pd(lo), vhi = _mm_set1_pd(hi), ninf = _mm_set1_pd(-kInf);
  __m128i nan = _mm_setzero_si128(), kept = nan, sure = nan, inside = nan;  // lanes count down
  for (; i + 2 <= n; i += 2) {
    const __m128d x = _mm_loadu_pd(s + i);
    const __m128d live = _mm_cmpneq_pd(x, ninf);
    nan = _mm_add_epi64(nan, _mm_castpd_si128(_mm_cmpunord_pd(x, x)));
    kept = _mm_add_epi64(kept, _mm_castpd_si128(live));
    sure = _mm_add_epi64(sure, _mm_castpd_si128(_mm_cmpge_pd(x, vhi)));
    inside = _mm_add_epi64(inside, _mm_castpd_si128(_mm_and_pd(_mm_and_pd(_mm_cmpge_pd(x, vlo), _mm_cmplt_pd(x, vhi)), live)));
  }
  auto total = [](__m128i v) {
    alignas(16) int64_t t[2];
    _mm_store_si128(reinterpret_cast<__m128i*>(t), v);
    return static_cast<size_t>(-(t[0] + t[1]));
  };
  c.nan = total(nan);
  c.kept = total(kept);
  c.sure = total(sure);
  c.inside = total(inside);
#endif
  for (; i < n; ++i) {
    const double x = s[i];
    c.nan += x != x;
    c.kept += x != -kInf;
    c.sure += x >= hi;
    c.inside += (x >= lo) & (x < hi) & (x != -kInf);
  }
  return c;
}

// Every score below lo becomes -inf; the indices of the scores in [lo, hi) (not -inf) are
// listed in order into idx, which has room for their count plus two. Returns how many.
size_t remove_below_listing(double* s, size_t n, double lo, double hi, uint32_t* idx) {
  size_t c = 0, i = 0;
#if defined(__SSE2__)
  const __m128d vlo = _mm_set1_pd(lo), vhi = _mm_set1_pd(hi), ninf = _mm_set1_pd(-kInf);
  for (; i + 2 <= n; i += 2) {
    const __m128d x = _mm_loadu_pd(s + i);
    const __m128d below = _mm_cmplt_pd(x, vlo);
    const __m128d in = _mm_and_pd(_mm_andnot_pd(below, _mm_cmplt_pd(x, vhi)), _mm_cmpneq_pd(x, ninf));
    _mm_storeu_pd(s + i, _mm_or_pd(_mm_and_pd(below, ninf), _mm_andnot_pd(below, x)));
    const int bits = _mm_movemask_pd(in);
    idx[c] = static_cast<uint32_t>(i);
    c += bits & 1;
    idx[c] = static_cast<uint32_t>(i + 1);
    c += bits >> 1;
  }
#endif
  for (; i < n; ++i) {
    const double x = s[i];
    idx[c] = static_cast<uint32_t>(i);
    c += (x >= lo) & (x < hi) & (x != -kInf);
    s[i] = x < lo ? -kInf : x;
  }
  return c;
}

// Every score below thr becomes -inf; returns how many equal thr.
size_t remove_below_counting_equal(double* s, size_t n, double thr) {
  size_t equal = 0, i = 0;
#if defined(__SSE2__)
  const __m128d vt = _mm_set1_pd(thr), ninf = _mm_set1_pd(-kInf);
  __m128i eq = _mm_setzero_si128();
  for (; i + 2 <= n; i += 2) {
    const __m128d x = _mm_loadu_pd(s + i);
    const __m128d below = _mm_cmplt_pd(x, vt);
    eq = _mm_add_epi64(eq, _mm_castpd_si128(_mm_cmpeq_pd(x, vt)));
    _mm_storeu_pd(s + i, _mm_or_pd(_mm_and_pd(below, ninf), _mm_andnot_pd(below, x)));
  }
  alignas(16) int64_t t[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(t), eq);
  equal = static_cast<size_t>(-(t[0] + t[1]));
#endif
  for (; i < n; ++i) {
    const double v = s[i];
    equal += v == thr;
    s[i] = v < thr ? -kInf : v;
  }
  return equal;
}

// keep_top, with the common case free of branches: below thr goes, above stays, and ties at thr
// stay while places last, in index order (a second walk, only when there are more ties than
// places). NaN never reaches it.
void keep_top_fast(double* s, size_t n, double thr, size_t above, size_t m) {
  const size_t equal = remove_below_counting_equal(s, n, thr);
  size_t ties = m - above;
  if (equal <= ties) return;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] != thr) continue;
    if (ties > 0) {
      --ties;
    } else {
      s[i] = -kInf;
    }
  }
}

// A bracket [lo, hi) that should hold the m-th largest of a row's non--inf scores, from a strided
// sample of about kTopKSample of them: the m-th largest should sit near sample rank
// r = m * (positions sampled) / n; hi and lo are the sample's values r - d and r + d ranks down,
// d being four standard deviations of that rank (binomial) plus two. At k = 10,000 of 50,257
// about 3,600 scores fall inside. `valid` is false when the sample cannot bracket anything (too
// few kept scores sampled, or ties across the whole bracket).
struct Bracket {
  double lo = kInf, hi = kInf;
  bool valid = false;
};

Bracket sample_bracket(const double* s, size_t n, size_t m) {
  Bracket b;
  const size_t stride = std::max<size_t>(1, n / kTopKSample);
  const size_t positions = (n + stride - 1) / stride;
  std::vector<double> sample;
  sample.reserve(positions);
  for (size_t i = 0; i < n; i += stride)
    if (s[i] != -kInf) sample.push_back(s[i]);
  const size_t size = sample.size();
  if (size < 16) return b;
  const double r = static_cast<double>(m) * static_cast<double>(positions) / static_cast<double>(n);
  const double d = 4 * std::sqrt(std::max(1.0, r * (1 - std::min(1.0, r / static_cast<double>(size))))) + 2;
  const auto greater = std::greater<double>();
  if (r - d >= 0 && r - d < static_cast<double>(size)) {
    const auto at = sample.begin() + static_cast<ptrdiff_t>(r - d);
    std::nth_element(sample.begin(), at, sample.end(), greater);
    b.hi = *at;  // otherwise +inf: nothing is surely kept
  }
  b.lo = -kInf;  // unless the sample reaches below the bracket: every kept score is inside
  if (r + d < static_cast<double>(size - 1)) {
    const auto at = sample.begin() + static_cast<ptrdiff_t>(r + d);
    std::nth_element(sample.begin(), at, sample.end(), greater);
    b.lo = *at;
  }
  b.valid = b.lo < b.hi;
  return b;
}

// Given a bracket that holds the m-th largest (sure scores at or above b.hi, inside scores in
// [b.lo, b.hi), sure <= m <= sure + inside): remove everything below b.lo, then select among the
// scores inside.
void keep_top_bracketed(double* s, size_t n, size_t m, const Bracket& b, size_t sure, size_t inside) {
  std::vector<uint32_t> idx(inside + 2);  // two slots past the last: the branch-free list writes them
  remove_below_listing(s, n, b.lo, b.hi, idx.data());
  const size_t want = m - sure;  // how many of the bracket's scores stay
  if (want == 0) {
    for (size_t j = 0; j < inside; ++j) s[idx[j]] = -kInf;
    return;
  }
  std::vector<double> vals(inside);
  for (size_t j = 0; j < inside; ++j) vals[j] = s[idx[j]];
  std::nth_element(vals.begin(), vals.begin() + static_cast<ptrdiff_t>(want - 1), vals.end(), std::greater<double>());
  const double thr = vals[want - 1];
  size_t above = 0;
  for (const double x : vals) above += x > thr;
  size_t ties = want - above;
  for (size_t j = 0; j < inside; ++j) {  // in index order, as keep_top walks
    const double v = s[idx[j]];
    if (v > thr) continue;
    if (v == thr && ties > 0) {
      --ties;
      continue;
    }
    s[idx[j]] = -kInf;
  }
}

void sampler_top_k(double* s, size_t n, size_t k) {
  if (k >= n) {
    if (count_row(s, n, kInf, kInf).nan) sampler_top_k_reference(s, n, k);
    return;
  }
  if (k <= kHeapTopK) {
    std::vector<double> heap;  // (<= k) f64: the largest scores so far, smallest first
    heap.reserve(k);
    const auto greater = std::greater<double>();
    size_t count = 0, i = 0;
    for (; i < n && heap.size() < k; ++i) {
      const double x = s[i];
      if (x != x) return sampler_top_k_reference(s, n, k);
      if (x == -kInf) continue;
      ++count;
      heap.push_back(x);
      std::push_heap(heap.begin(), heap.end(), greater);
    }
    double top = heap.empty() ? kInf : heap.front();
    auto offer = [&](double x) {
      std::pop_heap(heap.begin(), heap.end(), greater);
      heap.back() = x;
      std::push_heap(heap.begin(), heap.end(), greater);
      top = heap.front();
    };
    // The rest of the row: NaN and kept scores counted as count_row counts them; a score above
    // the heap's top (rarely, once the heap holds large ones) replaces it, in index order.
    const RowCounts rest = count_row(s + i, n - i, kInf, kInf);
    if (rest.nan) return sampler_top_k_reference(s, n, k);
    count += rest.kept;
#if defined(__SSE2__)
    for (; i + 2 <= n; i += 2) {
      const int bits = _mm_movemask_pd(_mm_cmpgt_pd(_mm_loadu_pd(s + i), _mm_set1_pd(top)));
      if (bits == 0) continue;
      if (s[i] > top) offer(s[i]);
      if (s[i + 1] > top) offer(s[i + 1]);
    }
#endif
    for (; i < n; ++i)
      if (s[i] > top) offer(s[i]);
    const size_t m = std::min(k, count);
    if (m == count) return;  // every kept score is among the k largest (none kept: all are -inf)
    // Every score above the heap's smallest is in the heap: it could only have been turned away
    // or evicted by a top no larger than the final one.
    size_t above = 0;
    for (const double x : heap) above += x > top;
    keep_top_fast(s, n, top, above, m);
    return;
  }
  const Bracket b = sample_bracket(s, n, k);
  const RowCounts c = count_row(s, n, b.lo, b.hi);
  if (c.nan) return sampler_top_k_reference(s, n, k);
  const size_t m = std::min(k, c.kept);
  if (m == c.kept) return;
  if (b.valid && c.sure <= m && c.sure + c.inside >= m) return keep_top_bracketed(s, n, m, b, c.sure, c.inside);
  size_t above = 0;
  const double thr = kth_largest_bucketed(s, n, m, &above);
  keep_top_fast(s, n, thr, above, m);
}

// processors.ts TopP.process
void sampler_top_p(double* s, size_t n, double p) {
  const double max = max_of(s, n);
  if (max == -kInf) return;
  const double reach = p * (1 - 1e-12);
  if (max == kInf) {
    // +inf scores share all the mass equally: keep the first ceil(reach * count) of them.
    double count = 0;
    for (size_t i = 0; i < n; ++i)
      if (s[i] == kInf) count += 1;
    double keep = std::max(1.0, std::ceil(reach * count));
    for (size_t i = 0; i < n; ++i)
      if (s[i] != kInf || keep-- <= 0) s[i] = -kInf;
    return;
  }
  std::vector<double> key(n), weight(n);
  for (size_t i = 0; i < n; ++i) {
    const double v = s[i];
    key[i] = v == -kInf ? -1 : max - v;
    weight[i] = v == -kInf ? 0 : js_exp(v - max);
  }
  keep_lightest_prefix(s, n, key, weight, reach);
}

// processors.ts MinP.process over processors.ts softmax (f64)
void sampler_min_p(double* s, size_t n, double p) {
  const double smax = max_of(s, n);
  std::vector<double> probs(n, 0.0);
  if (smax != -kInf) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const double e = js_exp(s[i] - smax);
      probs[i] = e;
      sum += e;
    }
    for (size_t i = 0; i < n; ++i) probs[i] = probs[i] / sum;
  }
  double max = 0;
  for (size_t i = 0; i < n; ++i)
    if (probs[i] > max) max = probs[i];
  for (size_t i = 0; i < n; ++i)
    if (probs[i] < p * max) s[i] = -kInf;
}

// processors.ts TypicalP.process
void sampler_typical_p(double* s, size_t n, double p) {
  const double max = max_of(s, n);
  if (max == -kInf) return;
  if (max == kInf) {
    sampler_top_p(s, n, p);
    return;
  }
  std::vector<double> weight(n);
  double z = 0;
  for (size_t i = 0; i < n; ++i) {
    const double v = s[i];
    weight[i] = v == -kInf ? 0 : js_exp(v - max);
    z += weight[i];
  }
  double expected = 0;
  for (size_t i = 0; i < n; ++i)
    if (weight[i] / z > 0) expected += (weight[i] / z) * (s[i] - max);
  std::vector<double> key(n);
  for (size_t i = 0; i < n; ++i) {
    if (weight[i] / z > 0) {
      key[i] = std::fabs(expected - (s[i] - max));
    } else {
      key[i] = -1;
      s[i] = -kInf;
    }
  }
  keep_lightest_prefix(s, n, key, weight, p * (1 - 1e-12));
}

// sampler.ts probabilities + drawIndex
int64_t sampler_draw(const double* s, size_t n, double u, SoftmaxRowF32 softmax_row, float* x, float* probs) {
  const double max = max_of(s, n);
  if (max == -kInf) return -1;  // every token removed: all zeros, nothing to draw
  if (max == kInf) {
    // +inf scores share all the mass (the limit softmax in f64 gives).
    for (size_t i = 0; i < n; ++i) x[i] = s[i] == kInf ? 0.0f : -std::numeric_limits<float>::infinity();
  } else {
    for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(s[i] - max);
  }
  softmax_row(x, probs, n);
  double acc = 0;
  int64_t last = -1;
  for (size_t i = 0; i < n; ++i) {
    const double q = probs[i];
    if (q <= 0) continue;
    last = static_cast<int64_t>(i);
    acc += q;
    if (u < acc) return static_cast<int64_t>(i);
  }
  return last;  // u landed in the rounding gap above the summed mass: the last possible token
}

// sampler.ts sampleNext's logprob loops
void sampler_log_normalizer(const float* logits, size_t n, double* max_out, double* sum_out) {
  double max = -kInf;
  for (size_t i = 0; i < n; ++i)
    if (logits[i] > max) max = logits[i];
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += js_exp(static_cast<double>(logits[i]) - max);
  *max_out = max;
  *sum_out = sum;
}

}  // namespace attnode
