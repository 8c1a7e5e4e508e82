// Attention ops: attention (fused, tiled, online softmax), attentionNaive (materializes the
// scores) and linearAttention (parallel and recurrent forms). Checks here; kernels in cpu/.
#include <algorithm>
#include <cmath>
#include <limits>

#include "../common.h"
#include "../cpu/attention.h"
#include "../cpu/elementwise.h"
#include "../cpu/position_bias.h"
#include "../op.h"
#include "../scratch.h"

namespace attnode {
namespace {

// The naive op refuses score matrices above this: it exists to be measured, not to take the
// machine's memory (the fused op has no such limit).
constexpr size_t kNaiveMaxScoreBytes = size_t{2} << 30;
constexpr int64_t kMaxOffset = int64_t{1} << 40;

// One call's problems: `batch` independent attention problems laid out back to back.
struct BatchedAttention {
  AttentionProblem p;  // batch entry 0
  size_t batch = 1;
  size_t q_stride = 0, kv_stride = 0, mask_stride = 0;  // elements between entries (mask: 0 when shared)
  PositionBiasSpec bias;  // generated per run into the problem's rel_bias (shared by the batch)

  AttentionProblem at(size_t b) const {
    AttentionProblem e = p;
    e.q += b * q_stride;
    e.out += b * q_stride;
    const size_t kv_bytes = b * kv_stride * (p.kv_f16 ? 2 : 4);
    e.k = static_cast<const char*>(p.k) + kv_bytes;
    e.v = static_cast<const char*>(p.v) + kv_bytes;
    if (e.mask) e.mask += b * mask_stride;
    return e;
  }
};

// positionBias 't5' | 'alibi' with biasTable: (buckets, Hq) | (Hq) f32, maxDistance, bidirectional.
PositionBiasSpec read_position_bias(Args& args, int64_t hq, bool causal) {
  PositionBiasSpec s;
  const std::string kind = args.choice("positionBias", "none", {"none", "t5", "alibi"});
  if (kind == "none") {
    for (const char* name : {"biasTable", "maxDistance", "bidirectional"})
      if (!args.raw(name).IsUndefined()) args.type_error(std::string("'") + name + "' needs 'positionBias' ('t5' or 'alibi')");
    return s;
  }
  if (kind == "alibi")
    for (const char* name : {"maxDistance", "bidirectional"})
      if (!args.raw(name).IsUndefined()) args.type_error("'maxDistance' and 'bidirectional' apply to positionBias 't5' only");
  const TensorView t = args.tensor("biasTable", {DType::f32});
  s.table = t.as<float>();
  if (kind == "alibi") {
    s.kind = PositionBiasSpec::Kind::alibi;
    args.expect_shape("biasTable", t, {hq});
    return s;
  }
  s.kind = PositionBiasSpec::Kind::t5;
  if (t.rank() != 2 || t.dim(1) != hq || t.dim(0) < 2)
    args.range_error("'biasTable' must have shape [numBuckets >= 2, " + std::to_string(hq) + "] (one column per query head), got " +
                     t.shape_str());
  s.buckets = static_cast<size_t>(t.dim(0));
  s.max_distance = args.integer("maxDistance", 128, 1, int64_t{1} << 30);
  s.bidirectional = args.boolean("bidirectional", !causal);
  if (s.bidirectional && s.buckets < 4)
    args.range_error("'biasTable' needs at least 4 buckets when bidirectional, got " + std::to_string(s.buckets));
  return s;
}

// q: (Tq, Hq, D) or (B, Tq, Hq, D) f32; k, v: (Tk, Hkv, D) or (B, Tk, Hkv, D) f32|f16;
// mask: (Tq, Tk) or (B, Tq, Tk) f32.
BatchedAttention read_attention(Args& args) {
  const TensorView q = args.tensor("q", {DType::f32});
  // k and v may be rows of sequence state in pages (a compiled program's cache operands).
  const TensorView k = args.rows_tensor("k", {DType::f32, DType::f16});
  const TensorView v = args.rows_tensor("v", {DType::f32, DType::f16});
  if (k.paged != v.paged) args.type_error("'k' and 'v' must both be state rows in pages or both be tensors");
  const TensorView mask = args.optional_tensor("mask", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  const bool batched = q.rank() == 4;
  if (k.paged && batched) args.range_error("paged 'k' and 'v' take a single problem: 'q' must have shape [Tq, Hq, D]");
  if (q.rank() != 3 && !batched) args.range_error("'q' must have shape [Tq, Hq, D] or [B, Tq, Hq, D], got " + q.shape_str());
  if (k.rank() != q.rank())
    args.range_error(std::string("'k' must have shape ") + (batched ? "[B, Tk, Hkv, D]" : "[Tk, Hkv, D]") +
                     " (the rank of 'q'), got " + k.shape_str());
  if (v.dtype != k.dtype)
    args.type_error(std::string("'v'.dtype must equal 'k'.dtype (") + dtype_name(k.dtype) + "), got '" + dtype_name(v.dtype) + "'");
  args.expect_shape("v", v, k.shape);
  const int64_t batch = batched ? q.dim(0) : 1;
  if (batched && k.dim(0) != batch)
    args.range_error("'k' batch " + std::to_string(k.dim(0)) + " must equal 'q' batch " + std::to_string(batch));
  const int64_t tq = q.dim(-3), hq = q.dim(-2), d = q.dim(-1), tk = k.dim(-3), hkv = k.dim(-2);
  if (k.dim(-1) != d) args.range_error("'k' head size " + std::to_string(k.dim(-1)) + " must equal 'q' head size " + std::to_string(d));
  if (hkv == 0 || hq % hkv != 0)
    args.range_error("'q' heads (" + std::to_string(hq) + ") must be a multiple of 'k' heads (" + std::to_string(hkv) + ")");
  const bool mask_per_batch = mask.present && batched && mask.rank() == 3;
  if (mask.present) {
    if (mask_per_batch) args.expect_shape("mask", mask, {batch, tq, tk});
    else args.expect_shape("mask", mask, {tq, tk});
    const float* pm = mask.as<float>();
    for (size_t i = 0; i < mask.numel; ++i)
      if (!(pm[i] < std::numeric_limits<float>::infinity()))
        args.range_error("'mask' values must be finite or -Infinity, got " + std::to_string(pm[i]) + " at " + std::to_string(i));
  }
  args.expect_shape("out", out, q.shape);
  args.expect_no_partial_overlap("out", out, "q", q);
  if (!k.paged) {  // state pages never overlap a tensor
    args.expect_no_partial_overlap("out", out, "k", k);
    args.expect_no_partial_overlap("out", out, "v", v);
  }
  if (mask.present) args.expect_no_partial_overlap("out", out, "mask", mask);
  const bool causal = args.boolean("causal", false);
  const PositionBiasSpec bias = read_position_bias(args, hq, causal);
  const int64_t q_offset = args.integer("qOffset", tk - tq, -kMaxOffset, kMaxOffset);
  const double scale = args.number("scale", 1.0 / std::sqrt(static_cast<double>(d > 0 ? d : 1)), -3.4e38, 3.4e38);
  const int64_t window = args.integer("window", 0, 1, kMaxOffset);
  const double softcap = args.number("softcap", 0.0, 1e-6, 3.4e38);
  BatchedAttention ba;
  AttentionProblem& p = ba.p;
  p.q = q.as<float>();
  p.k = k.data;
  p.v = v.data;
  p.kv_f16 = k.dtype == DType::f16;
  p.paged = k.paged;
  p.kp = k.rows;
  p.vp = v.rows;
  p.mask = mask.present ? mask.as<float>() : nullptr;
  p.rel_bias = nullptr;
  p.out = out.as<float>();
  p.tq = static_cast<size_t>(tq);
  p.tk = static_cast<size_t>(tk);
  p.hq = static_cast<size_t>(hq);
  p.hkv = static_cast<size_t>(hkv);
  p.d = static_cast<size_t>(d);
  p.q_offset = q_offset;
  p.causal = causal;
  p.scale = static_cast<float>(scale);
  p.window = window;
  p.softcap = static_cast<float>(softcap);
  ba.batch = static_cast<size_t>(batch);
  ba.q_stride = p.tq * p.hq * p.d;
  ba.kv_stride = p.tk * p.hkv * p.d;
  ba.mask_stride = mask_per_batch ? p.tq * p.tk : 0;
  ba.bias = bias;
  return ba;
}

// Runs `body` on the batch's problems with their relative-position bias table generated (on
// the calling, non-JS thread) when the call asked for one.
template <class Body>
void with_position_bias(const BatchedAttention& ba, Body body) {
  if (ba.bias.kind == PositionBiasSpec::Kind::none) {
    for (size_t b = 0; b < ba.batch; ++b) body(ba.at(b));
    return;
  }
  const AttentionProblem& p = ba.p;
  ScratchBuffer table(p.hq * (p.tq + p.tk - 1), false);  // table: (Hq, Tq + Tk - 1), every cell written
  position_bias_table(ba.bias, p.hq, p.tq, p.tk, p.q_offset, table.data());
  for (size_t b = 0; b < ba.batch; ++b) {
    AttentionProblem e = ba.at(b);
    e.rel_bias = table.data();
    body(e);
  }
}

// Keys per decode work item, at least: below this, merging partial results costs more than the
// extra thread saves.
constexpr size_t kDecodeMinKeys = 256;

// Decode path: key ranges split over threads, each giving every row's (m, l, acc) for its range;
// the ranges are then merged: M = max m_c, l = sum l_c e^(m_c - M), acc = sum acc_c e^(m_c - M).
void run_decode(const AttentionProblem& p, const OpEnv& env) {
  const AttentionKernels& kk = attention_kernels(env.isa);
  const size_t rows = p.tq * p.hq, D = p.d, ps = D + 2;
  const size_t keys = p.key_limit(p.tq - 1);  // the last query sees the most keys
  const size_t first = std::min(keys, p.key_start(0));  // and the first the earliest (a sliding window)
  const size_t span = keys - first;
  const size_t threads = static_cast<size_t>(env.pool->size());
  const size_t chunk = std::max(kDecodeMinKeys, (span + 4 * threads - 1) / (4 * threads));
  const size_t chunks = std::max<size_t>(1, (span + chunk - 1) / chunk);
  ScratchBuffer part(chunks * rows * ps, false);  // part: (chunks, rows, D + 2), all written
  const size_t ws_floats = attention_decode_workspace_floats(rows, D);
  env.pool->parallel_for(chunks, 1, [&](size_t s, size_t e) {
    ScratchBuffer ws(ws_floats, false);  // the kernel writes every cell before reading it
    for (size_t c = s; c < e; ++c)
      kk.decode_partial_f32(p, first + c * chunk, first + std::min(span, (c + 1) * chunk), part.data() + c * rows * ps, ws.data());
  });
  const size_t G = p.group(), R = p.tq * G;
  for (size_t row = 0; row < rows; ++row) {
    const size_t g = row / R, r = row % R, i = r / G, h = g * G + r % G;
    float m = -std::numeric_limits<float>::infinity();
    for (size_t c = 0; c < chunks; ++c) m = std::max(m, part.data()[(c * rows + row) * ps]);
    float* o = p.out + (i * p.hq + h) * D;
    for (size_t x = 0; x < D; ++x) o[x] = 0.0f;
    if (m == -std::numeric_limits<float>::infinity()) continue;  // every key hidden: zeros
    float l = 0.0f;
    for (size_t c = 0; c < chunks; ++c) {
      const float* pr = part.data() + (c * rows + row) * ps;
      if (pr[1] == 0.0f) continue;
      const float w = std::exp(pr[0] - m);
      l += pr[1] * w;
      kk.axpy_f32(w, pr + 2, o, D);
    }
    const float inv = 1.0f / l;
    for (size_t x = 0; x < D; ++x) o[x] *= inv;
  }
}

// One batch entry of attention: q: (Tq, Hq, D) f32, k, v: (Tk, Hkv, D) f32|f16, mask: (Tq, Tk)
// f32 -> out: (Tq, Hq, D). Work items are (kv head, block of up to kAttnRowTile rows); each
// thread holds one O(D) workspace. Few rows per kv head take the decode path instead.
void run_fused(const AttentionProblem& p, const OpEnv& env) {
  if (p.tq == 0 || p.hq == 0 || p.d == 0) return;
  if (p.tq * p.group() < kAttnDecodeRows) {
    run_decode(p, env);
    return;
  }
  const auto fused = attention_kernels(env.isa).fused_f32;
  const size_t rows = p.tq * p.group();
  // Wide heads get fewer rows per block, so the block's q and accumulator rows (2 x rows x D
  // floats) stay within a typical 1 MiB L2 next to the K/V tiles.
  const size_t dp = (p.d + kAttnDPad - 1) / kAttnDPad * kAttnDPad;
  const size_t tile = std::max<size_t>(16, std::min(kAttnRowTile, size_t{32768} / dp));
  const size_t blocks = (rows + tile - 1) / tile;
  const size_t ws_floats = attention_fused_workspace_floats(p.d);
  env.pool->parallel_for(p.hkv * blocks, 1, [&](size_t s, size_t e) {
    ScratchBuffer ws(ws_floats, false);  // the kernel writes every cell before reading it
    for (size_t it = s; it < e; ++it) {
      const size_t g = it % p.hkv, b = it / p.hkv;
      const size_t r0 = b * tile;
      fused(p, g, r0, std::min(rows, r0 + tile), ws.data());
    }
  });
}

OpRun prepare_attention(Args& args) {
  const BatchedAttention ba = read_attention(args);
  return [ba](const OpEnv& env) { with_position_bias(ba, [&](const AttentionProblem& e) { run_fused(e, env); }); };
}

// One batch entry of attentionNaive; the score buffer is freed before the next entry.
void run_naive(const AttentionProblem& p, size_t cells, const OpEnv& env) {
  if (cells == 0 || p.d == 0) {
    for (size_t i = 0; i < p.tq * p.hq * p.d; ++i) p.out[i] = 0.0f;
    return;
  }
  const AttentionKernels& kk = attention_kernels(env.isa);
  const auto softmax = elementwise_kernels(env.isa).softmax_row_f32;
  ScratchBuffer scores(cells, false);  // S: (Hq, Tq, Tk), every cell written by the first pass
  float* S = scores.data();
  const size_t G = p.group(), D = p.d, rows = p.hq * p.tq;
  const size_t grain = std::max<size_t>(1, 4096 / (p.tk * D + 1));
  env.pool->parallel_for(rows, grain, [&](size_t s, size_t e) {
    for (size_t r = s; r < e; ++r) {
      const size_t h = r / p.tq, i = r % p.tq, g = h / G;
      const float* q = p.q + (i * p.hq + h) * D;
      const size_t limit = p.key_limit(i), start = p.key_start(i);
      float* row = S + r * p.tk;
      for (size_t j = 0; j < p.tk; ++j) {
        if (j >= limit || j < start) {
          row[j] = -std::numeric_limits<float>::infinity();
          continue;
        }
        const float dot = p.kv_f16 ? kk.dot_f16(q, p.k_row<uint16_t>(j) + g * D, D) : kk.dot_f32(q, p.k_row<float>(j) + g * D, D);
        row[j] = p.cap(dot * p.scale) + (p.mask ? p.mask[i * p.tk + j] : 0.0f) + p.bias(h, i, j);
      }
    }
  });
  env.pool->parallel_for(rows, std::max<size_t>(1, 16384 / (p.tk + 1)), [&](size_t s, size_t e) {
    for (size_t r = s; r < e; ++r) softmax(S + r * p.tk, S + r * p.tk, p.tk);
  });
  env.pool->parallel_for(rows, grain, [&](size_t s, size_t e) {
    for (size_t r = s; r < e; ++r) {
      const size_t h = r / p.tq, i = r % p.tq, g = h / G;
      float* o = p.out + (i * p.hq + h) * D;
      for (size_t c = 0; c < D; ++c) o[c] = 0.0f;
      const float* row = S + r * p.tk;
      for (size_t j = 0; j < p.tk; ++j) {
        if (row[j] == 0.0f) continue;
        if (p.kv_f16) kk.axpy_f16(row[j], p.v_row<uint16_t>(j) + g * D, o, D);
        else kk.axpy_f32(row[j], p.v_row<float>(j) + g * D, o, D);
      }
    }
  });
}

// attentionNaive: the textbook three passes over a materialized (Hq, Tq, Tk) score matrix:
// S = q k^T * scale + mask, P = softmax(S) row by row, out = P v.
OpRun prepare_attention_naive(Args& args) {
  const BatchedAttention ba = read_attention(args);
  const AttentionProblem& p = ba.p;
  size_t cells = 0, bytes = 0;
  if (mul_overflow(p.hq * p.tq, p.tk, &cells) || mul_overflow(cells, sizeof(float), &bytes) || bytes > kNaiveMaxScoreBytes)
    args.range_error("the score matrix [" + std::to_string(p.hq) + ", " + std::to_string(p.tq) + ", " + std::to_string(p.tk) +
                     "] would need more than " + std::to_string(kNaiveMaxScoreBytes >> 30) +
                     " GiB; the fused 'attention' op computes the same result in O(Tq*D) memory");
  return [ba, cells](const OpEnv& env) { with_position_bias(ba, [&](const AttentionProblem& e) { run_naive(e, cells, env); }); };
}

// phi(x) = elu(x) + 1, applied to a whole tensor into scratch.
void feature_map(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] + 1.0f : std::exp(x[i]);
}

// linearAttention: q, k, v: (T, H, D) f32 -> out: (T, H, D) f32, causal, phi = elu + 1.
OpRun prepare_linear_attention(Args& args) {
  const TensorView q = args.tensor("q", {DType::f32});
  const TensorView k = args.tensor("k", {DType::f32});
  const TensorView v = args.tensor("v", {DType::f32});
  const TensorView out = args.tensor("out", {DType::f32});
  if (q.rank() != 3) args.range_error("'q' must have shape [T, H, D], got " + q.shape_str());
  args.expect_shape("k", k, q.shape);
  args.expect_shape("v", v, q.shape);
  args.expect_shape("out", out, q.shape);
  args.expect_no_partial_overlap("out", out, "q", q);
  args.expect_no_partial_overlap("out", out, "k", k);
  args.expect_no_partial_overlap("out", out, "v", v);
  const bool recurrent = args.choice("form", "parallel", {"parallel", "recurrent"}) == "recurrent";
  const float* pq = q.as<float>();
  const float* pk = k.as<float>();
  const float* pv = v.as<float>();
  float* po = out.as<float>();
  const size_t T = static_cast<size_t>(q.dim(0)), H = static_cast<size_t>(q.dim(1)), D = static_cast<size_t>(q.dim(2));
  return [=](const OpEnv& env) {
    const size_t n = T * H * D;
    if (n == 0) return;
    const AttentionKernels& kk = attention_kernels(env.isa);
    ScratchBuffer fq(n), fk(n);  // phi(q), phi(k): (T, H, D)
    env.pool->parallel_for(T, 64, [&](size_t s, size_t e) {
      feature_map(pq + s * H * D, fq.data() + s * H * D, (e - s) * H * D);
      feature_map(pk + s * H * D, fk.data() + s * H * D, (e - s) * H * D);
    });
    const float* Q = fq.data();
    const float* K = fk.data();
    if (!recurrent) {
      // Row (h, i) sums over keys j <= i: O(T^2 D) in all.
      env.pool->parallel_for(H * T, 1, [&](size_t s, size_t e) {
        for (size_t r = s; r < e; ++r) {
          const size_t h = r / T, i = r % T;
          const float* qi = Q + (i * H + h) * D;
          float* o = po + (i * H + h) * D;
          for (size_t c = 0; c < D; ++c) o[c] = 0.0f;
          float den = 0.0f;
          for (size_t j = 0; j <= i; ++j) {
            const float w = kk.dot_f32(qi, K + (j * H + h) * D, D);
            den += w;
            kk.axpy_f32(w, pv + (j * H + h) * D, o, D);
          }
          const float inv = 1.0f / den;
          for (size_t c = 0; c < D; ++c) o[c] *= inv;
        }
      });
      return;
    }
    // Recurrent: per head a state S (D, D) and z (D), walked in t. Heads are independent, and so
    // are blocks of S's columns (value channels), which gives the threads work.
    constexpr size_t kCols = 64;
    const size_t cblocks = (D + kCols - 1) / kCols;
    env.pool->parallel_for(H * cblocks, 1, [&](size_t s, size_t e) {
      ScratchBuffer state(D * kCols + D);
      for (size_t it = s; it < e; ++it) {
        const size_t h = it / cblocks, c0 = (it % cblocks) * kCols, nc = std::min(kCols, D - c0);
        float* S = state.data();  // S: (D, nc) f32, columns c0.. of the head's state
        float* z = S + D * kCols;  // z: (D) f32
        for (size_t x = 0; x < D * kCols + D; ++x) S[x] = 0.0f;
        for (size_t t = 0; t < T; ++t) {
          const float* kt = K + (t * H + h) * D;
          const float* qt = Q + (t * H + h) * D;
          const float* vt = pv + (t * H + h) * D + c0;
          for (size_t a = 0; a < D; ++a) {
            kk.axpy_f32(kt[a], vt, S + a * nc, nc);
            z[a] += kt[a];
          }
          const float den = kk.dot_f32(qt, z, D);
          float* o = po + (t * H + h) * D + c0;
          for (size_t c = 0; c < nc; ++c) o[c] = 0.0f;
          for (size_t a = 0; a < D; ++a) kk.axpy_f32(qt[a], S + a * nc, o, nc);
          const float inv = 1.0f / den;
          for (size_t c = 0; c < nc; ++c) o[c] *= inv;
        }
      }
    });
  };
}

const OpRegistrar kAttention("attention", prepare_attention);
const OpRegistrar kAttentionNaive("attentionNaive", prepare_attention_naive);
const OpRegistrar kLinearAttention("linearAttention", prepare_linear_attention);

}  // namespace
}  // namespace attnode
