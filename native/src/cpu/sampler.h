// The sampler's vocabulary-wide passes over one step's scores (temperature, top-k, top-p, min-p,
// typical-p, then the draw), a scalar C++ twin of ts/generate/processors.ts and sampler.ts.
// Not the sparse processors (penalties, bias, bans: a few ids each, applied in TypeScript).
#pragma once

#include <cstddef>
#include <cstdint>

namespace attnode {

// Step kinds as the 'sample' op's `steps` argument numbers them (ts/generate/native-sampler.ts).
enum class SamplerStep : int32_t { temperature = 0, top_k = 1, top_p = 2, min_p = 3, typical_p = 4 };
constexpr int32_t kSamplerStepCount = 5;

// Every pass rewrites scores: (V) f64 in place; -inf removes a token. Each one follows its
// TypeScript twin operation by operation (same comparisons, same summation order, Math.exp's
// rounding through js_exp), so the surviving set and every value equal the reference's bits.
void sampler_temperature(double* scores, size_t n, double t);  // t = 0: arg-max only
void sampler_top_k(double* scores, size_t n, size_t k);            // by heap or selection: O(V) for any k
void sampler_top_k_reference(double* scores, size_t n, size_t k);  // by insertion, as processors.ts
void sampler_top_p(double* scores, size_t n, double p);
void sampler_min_p(double* scores, size_t n, double p);
void sampler_typical_p(double* scores, size_t n, double p);

// The draw of sampler.ts: scores shifted by their maximum in f64, rounded to f32, through
// `softmax_row` (the addon's softmax kernel, the one the synchronous path used), then the
// inverse CDF at u in index order with an f64 sum. Returns the id, or -1 when every score is
// -inf. x, probs: (V) f32 scratch.
using SoftmaxRowF32 = void (*)(const float* x, float* out, size_t n);
int64_t sampler_draw(const double* scores, size_t n, double u, SoftmaxRowF32 softmax_row, float* x, float* probs);

// What logprobs need of the raw logits: their maximum and sum(exp(l - max)) (f64, in index
// order); the caller finishes logits[id] - max - log(sum) with one Math.log.  logits: (V) f32
void sampler_log_normalizer(const float* logits, size_t n, double* max, double* sum);

}  // namespace attnode
