// Beam search's vocabulary-wide passes, so that a step over every beam runs off the JavaScript
// thread: 'logSoftmax' (each row's log_softmax(x * scale) in f64) and 'topCandidates' (the k best
// of rows + offsets over beams x vocabulary). Their TypeScript twins are logProbs in
// ts/generate/beam-search.ts and topCandidates in ts/generate/beam-scorer.ts, the references the
// tests hold these to.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../cpu/dispatch.h"
#include "../cpu/log_softmax.h"
#include "../op.h"
#include "../threadpool.h"

namespace attnode {
namespace {

// x: (R, V) f32, a step's logits per beam.  scale: what each logit is multiplied by first (1 /
// temperature), > 0.  out: (R * V) f64 <- x * scale - logsumexp(x * scale) per row, the sum in
// f64 (logProbs sums in index order with Math.exp; the AVX2 row in lanes with its own exp).  outNanAt: (R) f64 <- the first index whose x * scale
// is NaN, or -1; a row with a NaN leaves its out row partly written.
OpRun prepare_log_softmax(Args& args) {
  const TensorView x = args.tensor("x", {DType::f32});
  if (x.rank() != 2 || x.dim(0) < 1 || x.dim(1) < 1) args.range_error("'x' must have shape [R, V] with R, V >= 1, got " + x.shape_str());
  const size_t rows = static_cast<size_t>(x.dim(0));
  const size_t v = static_cast<size_t>(x.dim(1));
  const double scale = args.number("scale", 1.0, std::numeric_limits<double>::min(), std::numeric_limits<double>::max());
  const F64View out = args.float64s("out", rows * v);
  const F64View nan_at = args.float64s("outNanAt", rows);
  const float* px = x.as<float>();
  double* po = out.data;
  double* pn = nan_at.data;
  return [=](const OpEnv& env) {
    auto fn = log_softmax_row_f64_scalar;
#if ATTNODE_X86
    if (env.isa == Isa::avx2 || env.isa == Isa::avx512) fn = log_softmax_row_f64_avx2;
#endif
    auto row = [&](size_t r) { pn[r] = static_cast<double>(fn(px + r * v, scale, po + r * v, v)); };
    if (env.pool != nullptr && rows > 1)
      env.pool->parallel_for(rows, 1, [&](size_t b, size_t e) {
        for (size_t r = b; r < e; ++r) row(r);
      });
    else
      for (size_t r = 0; r < rows; ++r) row(r);
  };
}

// rows: (beams * vocab) f64, each beam's processed log-probabilities.  offsets: (beams) f64, each
// beam's running score.  k: how many to keep, in [1, beams * vocab].  out: (3 k) f64 <- (beam,
// token, score) per candidate, best first; equal scores: the lower flat index (beam * vocab +
// token) first; NaN scores are never candidates, -inf ones only when nothing better remains.
// outCount: (1) f64 <- how many of the k were found (fewer only when NaNs leave fewer).
OpRun prepare_top_candidates(Args& args) {
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  const int64_t beams = args.integer("beams", -1, 1, kMaxElements);
  if (beams < 1) args.type_error("'beams' must be an integer >= 1, got undefined");
  const int64_t vocab = args.integer("vocab", -1, 1, kMaxElements / beams);
  if (vocab < 1) args.type_error("'vocab' must be an integer >= 1, got undefined");
  const size_t n = static_cast<size_t>(beams * vocab);
  const F64View rows = args.float64s("rows", n);
  const F64View offsets = args.float64s("offsets", static_cast<size_t>(beams));
  const int64_t k = args.integer("k", -1, 1, beams * vocab);
  if (k < 1) args.type_error("'k' must be an integer in [1, beams * vocab], got undefined");
  const F64View out = args.float64s("out", static_cast<size_t>(3 * k));
  const F64View count = args.float64s("outCount", 1);
  const double* pr = rows.data;
  const double* poff = offsets.data;
  double* po = out.data;
  double* pc = count.data;
  const size_t nb = static_cast<size_t>(beams);
  const size_t nv = static_cast<size_t>(vocab);
  const size_t keep = static_cast<size_t>(k);
  return [=](const OpEnv&) {
    struct Cand {
      double score;
      size_t flat;
    };
    std::vector<Cand> top;  // best first, at most keep
    top.reserve(keep + 1);
    double floor = -std::numeric_limits<double>::infinity();  // the keep-th best once keep are held
    for (size_t b = 0; b < nb; ++b) {
      const double* row = pr + b * nv;
      const double off = poff[b];
      for (size_t t = 0; t < nv; ++t) {
        const double s = row[t] + off;
        if (top.size() == keep ? !(s > floor) : std::isnan(s)) continue;
        // After every candidate whose score is >= s: the earlier flat index wins ties.
        size_t i = top.size();
        while (i > 0 && top[i - 1].score < s) --i;
        top.insert(top.begin() + static_cast<std::ptrdiff_t>(i), Cand{s, b * nv + t});
        if (top.size() > keep) top.pop_back();
        if (top.size() == keep) floor = top.back().score;
      }
    }
    for (size_t i = 0; i < top.size(); ++i) {
      po[3 * i] = static_cast<double>(top[i].flat / nv);
      po[3 * i + 1] = static_cast<double>(top[i].flat % nv);
      po[3 * i + 2] = top[i].score;
    }
    pc[0] = static_cast<double>(top.size());
  };
}

const OpRegistrar kLogSoftmax("logSoftmax", prepare_log_softmax);
const OpRegistrar kTopCandidates("topCandidates", prepare_top_candidates);

}  // namespace
}  // namespace attnode
