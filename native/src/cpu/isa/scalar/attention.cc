// Reference attention kernels: plain scalar C++, never deleted. The fused reference streams
// keys one at a time with an online softmax (running max m and sum l), so it too is O(D) memory.
#include <algorithm>
#include <cmath>
#include <limits>

#include "../../../half.h"
#include "../../attention.h"

namespace attnode {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

template <class KT>
float load(const KT* p, size_t i) {
  if constexpr (sizeof(KT) == 2) return f16_to_f32(p[i]);
  else return p[i];
}

template <class KT>
void fused_rows(const AttentionProblem& p, size_t g, size_t r0, size_t r1, float* ws) {
  const size_t G = p.group(), D = p.d;
  float* acc = ws;  // acc: (D) f32
  for (size_t r = r0; r < r1; ++r) {
    const size_t i = r / G, h = g * G + r % G;
    const float* q = p.q + (i * p.hq + h) * D;
    float m = kNegInf, l = 0.0f;
    for (size_t c = 0; c < D; ++c) acc[c] = 0.0f;
    const size_t limit = p.key_limit(i);
    for (size_t j = p.key_start(i); j < limit; ++j) {
      const KT* k = p.k_row<KT>(j) + g * D;
      float s = 0.0f;
      for (size_t c = 0; c < D; ++c) s += q[c] * load(k, c);
      s = p.cap(s * p.scale) + (p.mask ? p.mask[i * p.tk + j] : 0.0f) + p.bias(h, i, j);
      if (s == kNegInf) continue;
      // New maximum: rescale what was accumulated under the old one.
      if (s > m) {
        const float corr = std::exp(m - s);
        l *= corr;
        for (size_t c = 0; c < D; ++c) acc[c] *= corr;
        m = s;
      }
      const float w = std::exp(s - m);
      l += w;
      const KT* v = p.v_row<KT>(j) + g * D;
      for (size_t c = 0; c < D; ++c) acc[c] += w * load(v, c);
    }
    float* o = p.out + (i * p.hq + h) * D;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (size_t c = 0; c < D; ++c) o[c] = acc[c] * inv;
  }
}

void fused_f32(const AttentionProblem& p, size_t g, size_t r0, size_t r1, float* ws) {
  if (p.kv_f16) fused_rows<uint16_t>(p, g, r0, r1, ws);
  else fused_rows<float>(p, g, r0, r1, ws);
}

template <class KT>
void decode_rows(const AttentionProblem& p, size_t j0, size_t j1, float* part) {
  const size_t G = p.group(), D = p.d, R = p.tq * G;
  for (size_t row = 0; row < p.hkv * R; ++row) {
    const size_t g = row / R, r = row % R, i = r / G, h = g * G + r % G;
    const float* q = p.q + (i * p.hq + h) * D;
    float* m = part + row * (D + 2);
    float* l = m + 1;
    float* acc = m + 2;
    *m = kNegInf;
    *l = 0.0f;
    for (size_t c = 0; c < D; ++c) acc[c] = 0.0f;
    const size_t end = std::min(j1, p.key_limit(i));
    for (size_t j = std::max(j0, p.key_start(i)); j < end; ++j) {
      const KT* k = p.k_row<KT>(j) + g * D;
      float s = 0.0f;
      for (size_t c = 0; c < D; ++c) s += q[c] * load(k, c);
      s = p.cap(s * p.scale) + (p.mask ? p.mask[i * p.tk + j] : 0.0f) + p.bias(h, i, j);
      if (s == kNegInf) continue;
      if (s > *m) {
        const float corr = std::exp(*m - s);
        *l *= corr;
        for (size_t c = 0; c < D; ++c) acc[c] *= corr;
        *m = s;
      }
      const float w = std::exp(s - *m);
      *l += w;
      const KT* v = p.v_row<KT>(j) + g * D;
      for (size_t c = 0; c < D; ++c) acc[c] += w * load(v, c);
    }
  }
}

void decode_partial_f32(const AttentionProblem& p, size_t j0, size_t j1, float* part, float*) {
  if (p.kv_f16) decode_rows<uint16_t>(p, j0, j1, part);
  else decode_rows<float>(p, j0, j1, part);
}

float dot_f32(const float* a, const float* b, size_t n) {
  float s = 0.0f;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f16(const float* a, const uint16_t* b, size_t n) {
  float s = 0.0f;
  for (size_t i = 0; i < n; ++i) s += a[i] * f16_to_f32(b[i]);
  return s;
}

void axpy_f32(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16(float a, const uint16_t* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * f16_to_f32(x[i]);
}

void matvec_f32(const float* w, const float* x, float* y, size_t rows, size_t n) {
  for (size_t r = 0; r < rows; ++r) y[r] = dot_f32(w + r * n, x, n);
}

}  // namespace

extern constexpr AttentionKernels kAttentionScalar = {
    "scalar", fused_f32, decode_partial_f32, dot_f32, dot_f16, axpy_f32, axpy_f16, matvec_f32,
};

}  // namespace attnode
