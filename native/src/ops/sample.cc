// The 'sample' op: one generation step's vocabulary-wide sampling work (the NaN check, the
// processors that touch every score, softmax, the draw, the logprob normalizer), so that
// opAsync runs it off the JavaScript thread. Argument checks here; arithmetic in cpu/sampler.cc.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../cpu/elementwise.h"
#include "../cpu/sampler.h"
#include "../op.h"

namespace attnode {
namespace {

constexpr const char* kStepNames[kSamplerStepCount] = {"temperature", "top-k", "top-p", "min-p", "typical-p"};

struct Step {
  SamplerStep kind;
  double param;
};

// Throws a RangeError naming stepParams[i] unless p is what the processor's constructor in
// ts/generate/processors.ts accepts.
void check_step_param(Args& args, size_t i, SamplerStep kind, double p) {
  bool ok = false;
  const char* want = "";
  switch (kind) {
    case SamplerStep::temperature:
      ok = std::isfinite(p) && p >= 0;
      want = "a finite number >= 0";
      break;
    case SamplerStep::top_k:
      ok = std::isfinite(p) && p >= 1 && p == std::floor(p);
      want = "an integer >= 1";
      break;
    case SamplerStep::top_p:
    case SamplerStep::typical_p:
      ok = p > 0 && p <= 1;
      want = "in (0, 1]";
      break;
    case SamplerStep::min_p:
      ok = p >= 0 && p <= 1;
      want = "in [0, 1]";
      break;
  }
  if (!ok)
    args.range_error("'stepParams[" + std::to_string(i) + "]' (" + kStepNames[static_cast<int>(kind)] + ") must be " + want +
                     ", got " + Napi::Number::New(args.env(), p).ToString().Utf8Value());
}

// logits: (V) f32, the model's raw last-position logits (V >= 1).
// scores: (V) f64 or absent: scores that processors in JavaScript already rewrote; absent, the
//   scores start as the logits, or all as `fill` when given (a forced token's ban of the rest).
// editIds: (E) i32 and editValues: (E) f64, or both absent: scores[editIds[e]] = editValues[e]
//   after that start, in order (the penalties, bias and bans TypeScript worked out on a few ids).
// steps: (S) i32 SamplerStep kinds and stepParams: (S) f64, or both absent: the vocabulary passes.
// u: the uniform draw in [0, 1) (from the request's Rng, drawn in JavaScript).
// logprob: also compute the logits' max and sum(exp(l - max)).
// out: (4) f64 <- [id (-1: every token removed, -2: a NaN logit), first NaN logit's index or -1,
//   max logit, sum] (the last two NaN without logprob).
OpRun prepare_sample(Args& args) {
  const TensorView logits = args.tensor("logits", {DType::f32});
  if (logits.rank() != 1 || logits.dim(0) < 1)
    args.range_error("'logits' must have shape [V] with V >= 1, got " + logits.shape_str());
  const size_t n = logits.numel;
  const F64View scores = args.optional_float64s("scores", n);
  const double inf = std::numeric_limits<double>::infinity();
  const bool has_fill = !args.raw("fill").IsUndefined();
  const double fill = args.number("fill", 0.0, -inf, inf);  // NaN fails the range check
  if (has_fill && scores.present) args.type_error("'fill' and 'scores' exclude each other: give one start for the scores");

  const TensorView edit_ids = args.optional_tensor("editIds", {DType::i32});
  std::vector<std::pair<uint32_t, double>> edits;
  if (edit_ids.present) {
    if (edit_ids.rank() != 1) args.range_error("'editIds' must have shape [E], got " + edit_ids.shape_str());
    const F64View values = args.float64s("editValues", edit_ids.numel);
    const int32_t* ids = edit_ids.as<int32_t>();
    for (size_t e = 0; e < edit_ids.numel; ++e) {
      if (ids[e] < 0 || static_cast<size_t>(ids[e]) >= n)
        args.range_error("'editIds[" + std::to_string(e) + "]' must be a token id in [0, " + std::to_string(n) + "), got " +
                         std::to_string(ids[e]));
      edits.emplace_back(static_cast<uint32_t>(ids[e]), values.data[e]);
    }
  } else if (!args.raw("editValues").IsUndefined()) {
    args.type_error("'editValues' needs 'editIds' (the ids they are written to)");
  }

  const TensorView step_kinds = args.optional_tensor("steps", {DType::i32});
  std::vector<Step> steps;
  if (step_kinds.present) {
    if (step_kinds.rank() != 1) args.range_error("'steps' must have shape [S], got " + step_kinds.shape_str());
    const F64View params = args.float64s("stepParams", step_kinds.numel);
    const int32_t* kinds = step_kinds.as<int32_t>();
    for (size_t i = 0; i < step_kinds.numel; ++i) {
      if (kinds[i] < 0 || kinds[i] >= kSamplerStepCount)
        args.range_error("'steps[" + std::to_string(i) + "]' must be a step kind in [0, " + std::to_string(kSamplerStepCount) +
                         "), got " + std::to_string(kinds[i]));
      const auto kind = static_cast<SamplerStep>(kinds[i]);
      check_step_param(args, i, kind, params.data[i]);
      steps.push_back({kind, params.data[i]});
    }
  } else if (!args.raw("stepParams").IsUndefined()) {
    args.type_error("'stepParams' needs 'steps' (the kinds they parametrize)");
  }

  if (args.raw("u").IsUndefined()) args.type_error("'u' must be a number in [0, 1), got undefined");
  const double u = args.number("u", 0.0, 0.0, 1.0);
  if (!(u < 1.0)) args.range_error("'u' must be a number in [0, 1), got 1");
  const bool want_logprob = args.boolean("logprob", false);
  const F64View out = args.float64s("out", 4);

  const float* pl = logits.as<float>();
  const double* ps = scores.data;
  double* po = out.data;
  return [=](const OpEnv& env) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    po[0] = -2;
    po[1] = -1;
    po[2] = nan;
    po[3] = nan;
    for (size_t i = 0; i < n; ++i)
      if (std::isnan(pl[i])) {
        po[1] = static_cast<double>(i);
        return;
      }
    // scores: (V) f64, the working copy every pass rewrites
    std::vector<double> s(n);
    if (ps) {
      for (size_t i = 0; i < n; ++i) s[i] = ps[i];
    } else if (has_fill) {
      for (size_t i = 0; i < n; ++i) s[i] = fill;
    } else {
      for (size_t i = 0; i < n; ++i) s[i] = pl[i];
    }
    for (const auto& e : edits) s[e.first] = e.second;
    for (const Step& st : steps) {
      switch (st.kind) {
        case SamplerStep::temperature: sampler_temperature(s.data(), n, st.param); break;
        // k past the vocabulary keeps what k = V keeps; clamping first keeps the cast defined.
        case SamplerStep::top_k: sampler_top_k(s.data(), n, static_cast<size_t>(std::min(st.param, static_cast<double>(n)))); break;
        case SamplerStep::top_p: sampler_top_p(s.data(), n, st.param); break;
        case SamplerStep::min_p: sampler_min_p(s.data(), n, st.param); break;
        case SamplerStep::typical_p: sampler_typical_p(s.data(), n, st.param); break;
      }
    }
    std::vector<float> x(n), probs(n);  // (V) f32 each: shifted scores, their softmax
    po[0] = static_cast<double>(sampler_draw(s.data(), n, u, elementwise_kernels(env.isa).softmax_row_f32, x.data(), probs.data()));
    if (want_logprob) sampler_log_normalizer(pl, n, &po[2], &po[3]);
  };
}

const OpRegistrar kSample("sample", prepare_sample);

}  // namespace
}  // namespace attnode
