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
// as 40). One pass finds NaN (a row holding one goes to the reference, which defines what NaN
// does) and counts the non--inf scores; k at or past that count removes nothing. For k up to
// kHeapTopK the same pass keeps the k largest in a min-heap, most scores costing one comparison
// with its top. Larger k estimates the k-th largest from a strided sample and brackets it
// (band_select): one more pass removes what lies below the bracket, and only the few scores
// inside it are selected among. Should the sample mislead (the bracket misses the k-th largest),
// kth_largest_bucketed finds it exactly. Every route gives the k-th largest: every score above it
// is kept, then the first ties by index, as topRanked does.
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

// keep_top by way of a sampled bracket [t_lo, t_hi) around the m-th largest of `count` non--inf
// scores. From a strided sample of about kTopKSample scores, the m-th largest should sit near
// sample rank r = m * size / count; t_hi and t_lo are the sample's values r - d and r + d ranks
// down, with d four standard deviations of that rank (binomial) plus two. One pass then sets
// every score below t_lo to -inf, counts those at or above t_hi (all kept: they exceed anything
// in the bracket) and lists the indices inside the bracket, the only scores left to select
// among (about 3,600 of 50,257 at k = 10,000). Returns false, having changed nothing, when the
// sample's bracket does not hold the m-th largest; the caller then selects exactly.
bool band_select(double* s, size_t n, size_t m, size_t count) {
  const size_t stride = std::max<size_t>(1, count / kTopKSample);
  std::vector<double> sample;
  sample.reserve(n / stride + 1);
  for (size_t i = 0; i < n; i += stride)
    if (s[i] != -kInf) sample.push_back(s[i]);
  const size_t size = sample.size();
  if (size < 16) return false;
  const double r = static_cast<double>(m) * static_cast<double>(size) / static_cast<double>(count);
  const double d = 4 * std::sqrt(std::max(1.0, r * (1 - r / static_cast<double>(size)))) + 2;
  const auto greater = std::greater<double>();
  double t_hi = kInf;  // nothing is surely kept when the bracket's top passes the sample's largest
  if (r - d >= 0) {
    const auto at = sample.begin() + static_cast<ptrdiff_t>(r - d);
    std::nth_element(sample.begin(), at, sample.end(), greater);
    t_hi = *at;
  }
  double t_lo = -kInf;
  if (r + d < static_cast<double>(size - 1)) {
    const auto at = sample.begin() + static_cast<ptrdiff_t>(r + d);
    std::nth_element(sample.begin(), at, sample.end(), greater);
    t_lo = *at;
  }
  if (!(t_lo < t_hi)) return false;  // ties across the bracket: it brackets nothing
  // First a counting pass that writes nothing, so a missed bracket leaves the scores as they were.
  size_t sure = 0, inside = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = s[i];
    sure += x >= t_hi;
    inside += x >= t_lo && x < t_hi && x != -kInf;
  }
  if (sure > m || sure + inside < m) return false;
  std::vector<uint32_t> idx(inside);
  size_t c = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = s[i];
    if (x < t_lo || x == -kInf) {
      s[i] = -kInf;
    } else if (x < t_hi) {
      idx[c++] = static_cast<uint32_t>(i);
    }
  }
  const size_t want = m - sure;  // how many of the bracket's scores stay
  if (want == 0) {
    for (const uint32_t i : idx) s[i] = -kInf;
    return true;
  }
  std::vector<double> vals(inside);
  for (size_t j = 0; j < inside; ++j) vals[j] = s[idx[j]];
  std::nth_element(vals.begin(), vals.begin() + static_cast<ptrdiff_t>(want - 1), vals.end(), greater);
  const double thr = vals[want - 1];
  size_t above = 0;
  for (const double x : vals) above += x > thr;
  size_t ties = want - above;
  for (const uint32_t i : idx) {  // in index order, as keep_top walks
    const double v = s[i];
    if (v > thr) continue;
    if (v == thr && ties > 0) {
      --ties;
      continue;
    }
    s[i] = -kInf;
  }
  return true;
}

void sampler_top_k(double* s, size_t n, size_t k) {
  const bool by_heap = k <= kHeapTopK;
  std::vector<double> heap;  // (min(k, kept)) f64: the largest scores so far, smallest first
  if (by_heap) heap.reserve(k);
  const auto greater = std::greater<double>();
  size_t count = 0;
  if (by_heap) {
    for (size_t i = 0; i < n; ++i) {
      const double x = s[i];
      if (std::isnan(x)) return sampler_top_k_reference(s, n, k);
      if (x == -kInf) continue;
      ++count;
      if (heap.size() < k) {
        heap.push_back(x);
        std::push_heap(heap.begin(), heap.end(), greater);
      } else if (x > heap.front()) {
        std::pop_heap(heap.begin(), heap.end(), greater);
        heap.back() = x;
        std::push_heap(heap.begin(), heap.end(), greater);
      }
    }
  } else {
    // Branch-free, so it vectorizes: how many scores are kept, and whether one is NaN.
    bool nan = false;
    for (size_t i = 0; i < n; ++i) {
      const double x = s[i];
      nan |= x != x;
      count += x != -kInf;
    }
    if (nan) return sampler_top_k_reference(s, n, k);
  }
  const size_t m = std::min(k, count);
  if (m == 0) {
    for (size_t i = 0; i < n; ++i) s[i] = -kInf;
    return;
  }
  if (m == count) return;  // every kept score is among the k largest
  double thr;
  size_t above = 0;
  if (by_heap) {
    // Every score above the heap's smallest is in the heap: it could only have been turned away
    // or evicted by a top no larger than the final one.
    thr = heap.front();
    for (const double x : heap)
      if (x > thr) ++above;
  } else {
    if (band_select(s, n, m, count)) return;
    thr = kth_largest_bucketed(s, n, m, &above);
  }
  keep_top(s, n, thr, above, m);
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
