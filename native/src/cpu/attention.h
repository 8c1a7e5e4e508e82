// Attention and recurrence kernels: one table per instruction set (isa/<name>/attention.cc).
// The scalar table is the reference; the fused kernels never hold an (n x n) buffer.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../paged_rows.h"
#include "dispatch.h"

namespace attnode {

// One attention call, already validated by ops/attention.cc.
struct AttentionProblem {
  const float* q;     // q: (Tq, Hq, D) f32
  const void* k;      // k: (Tk, Hkv, D) f32 | f16 (kv_f16); null when paged
  const void* v;      // v: (Tk, Hkv, D) f32 | f16 (kv_f16); null when paged
  bool kv_f16;
  // Paged K/V (sequence state, state.h): key row j is kp.row(j), value row j vp.row(j).
  bool paged = false;
  PagedRows kp, vp;
  const float* mask;  // mask: (Tq, Tk) f32 additive, or null
  // rel_bias: (Hq, Tq + Tk - 1) f32 additive, or null: query row i and key j of head h read
  // [h][j - i + Tq - 1] (a bias generated from relative positions: cpu/position_bias.h).
  const float* rel_bias;
  float* out;         // out: (Tq, Hq, D) f32
  size_t tq, tk, hq, hkv, d;
  int64_t q_offset;  // key position of query 0 (for causal and the window)
  bool causal;
  float scale;
  int64_t window = 0;  // sliding window: query i sees keys j > q_offset + i - window; 0: none
  float softcap = 0.0f;  // logit soft-cap: a scaled score s becomes tanh(s / softcap) * softcap; 0: none

  // The soft-capped score (Gemma 2), before the mask and bias are added.
  float cap(float s) const { return softcap > 0.0f ? std::tanh(s / softcap) * softcap : s; }

  size_t group() const { return hq / hkv; }
  // Key row j and value row j, every kv head: (Hkv, D) of the K/V element type KT.
  template <class KT>
  const KT* k_row(size_t j) const { return paged ? kp.row<const KT>(j) : static_cast<const KT*>(k) + j * hkv * d; }
  template <class KT>
  const KT* v_row(size_t j) const { return paged ? vp.row<const KT>(j) : static_cast<const KT*>(v) + j * hkv * d; }
  // The relative-position bias of head h, query row i, key j (0 without one).
  float bias(size_t h, size_t i, size_t j) const { return rel_bias ? rel_bias[h * (tq + tk - 1) + j + tq - 1 - i] : 0.0f; }
  // The bias row of head h and query row i, indexed by key j (null without one).
  const float* bias_row(size_t h, size_t i) const { return rel_bias ? rel_bias + h * (tq + tk - 1) + tq - 1 - i : nullptr; }
  // Keys [key_start(i), key_limit(i)) are visible to query i before the mask is applied.
  size_t key_start(size_t i) const {
    if (window <= 0) return 0;
    const int64_t first = q_offset + static_cast<int64_t>(i) - window + 1;
    return first <= 0 ? 0 : static_cast<uint64_t>(first) < tk ? static_cast<size_t>(first) : tk;
  }
  size_t key_limit(size_t i) const {
    if (!causal) return tk;
    const int64_t last = q_offset + static_cast<int64_t>(i);  // last visible key
    if (last < 0) return 0;
    return static_cast<uint64_t>(last) + 1 < tk ? static_cast<size_t>(last) + 1 : tk;
  }
};

// Tiles of the fused kernel. A work item is up to kAttnRowTile rows of one kv head, where row r
// is query r / group of query head g * group + r % group: GQA heads sharing a kv head share
// every K/V tile load. Keys are visited kAttnKeyTile at a time.
constexpr size_t kAttnRowTile = 128;
constexpr size_t kAttnKeyTile = 64;
// Head size rounded up to this for the padded rows in the workspace (a multiple of any vector width).
constexpr size_t kAttnDPad = 64;

// Floats of workspace one fused work item needs: O(D), independent of Tq and Tk.
size_t attention_fused_workspace_floats(size_t d);

// The decode path serves calls with fewer than kAttnDecodeRows rows per kv head (one new token
// against a cache): it walks key rows in memory order, every head at once, and splits the keys
// (not the heads) over threads, so MQA and long caches still use every core.
constexpr size_t kAttnDecodeRows = 4;
// Floats of workspace one decode work item needs: scores (Tq*Hq, KT) and scaled q (Tq*Hq, D).
size_t attention_decode_workspace_floats(size_t rows, size_t d);

struct AttentionKernels {
  const char* variant;
  // Rows [r0, r1) of kv head g (r1 - r0 <= kAttnRowTile); ws: attention_fused_workspace_floats(d).
  void (*fused_f32)(const AttentionProblem& p, size_t g, size_t r0, size_t r1, float* ws);
  // Every row over keys [j0, j1) only. Row g * R + r (R = Tq * group) is query r / group of
  // head g * group + r % group. part: (Tq*Hq, D + 2) f32 receives each row's running max m,
  // sum l and unnormalized accumulator acc[D], merged across key ranges by the caller.
  // ws: attention_decode_workspace_floats(Tq*Hq, D).
  void (*decode_partial_f32)(const AttentionProblem& p, size_t j0, size_t j1, float* part, float* ws);
  // sum a[i] * b[i].  a, b: (n)
  float (*dot_f32)(const float* a, const float* b, size_t n);
  float (*dot_f16)(const float* a, const uint16_t* b, size_t n);
  // y[i] += a * x[i].  x, y: (n)
  void (*axpy_f32)(float a, const float* x, float* y, size_t n);
  void (*axpy_f16)(float a, const uint16_t* x, float* y, size_t n);
  // y[r] = dot(w row r, x) for r in [0, rows).  w: (rows, n) f32, x: (n) f32, y: (rows) f32
  void (*matvec_f32)(const float* w, const float* x, float* y, size_t rows, size_t n);
};

const AttentionKernels& attention_kernels(Isa isa);

extern const AttentionKernels kAttentionScalar;
#if ATTNODE_X86
extern const AttentionKernels kAttentionAvx2;
extern const AttentionKernels kAttentionAvx512;
#endif

}  // namespace attnode
