// A GPT-2-shaped decoder composed from the CUDA kernels, one token per step with weights and the
// f16 K/V cache resident on the device and one synchronization per step: the end-to-end check
// (against gpt2_reference, the scalar CPU kernels composed the same way) and the decode
// benchmark. Random weights from a seed, not a checkpoint; not the cuda backend (which would run
// the model's graph from ts/models), only what it has to compute.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/attention.h"
#include "cpu/elementwise.h"
#include "cpu/quant_format.h"
#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "half.h"

namespace attnode::cuda::test {

struct Gpt2Config {
  size_t vocab, ctx, d, heads, layers;
  size_t hd() const { return d / heads; }
};

// Host weights, f32 values already rounded to what the device holds (f16, or q8_0 dequantized
// for the report of shapes; the q8_0 reference uses the blocks themselves).
struct Gpt2HostLinear {
  size_t n, k;
  std::vector<float> w;          // (N, K) f32 values of the f16 weights
  std::vector<uint16_t> w16;     // (N, K) f16 bits
  std::vector<uint8_t> blocks;   // (N, K / 32) q8_0 blocks of w (from the f32 values before f16 rounding)
  std::vector<float> bias;       // (N)
};
struct Gpt2HostLayer {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;  // (D)
  Gpt2HostLinear qkv, proj, fc, fc_proj;          // (3D, D), (D, D), (4D, D), (D, 4D)
};
struct Gpt2Host {
  Gpt2Config cfg;
  std::vector<uint16_t> wte16;  // (V, D) f16, tied with the unembedding
  std::vector<float> wte;       // (V, D) its f32 values
  std::vector<float> wpe;       // (ctx, D) f32
  std::vector<Gpt2HostLayer> layers;
  std::vector<float> lnf_w, lnf_b;
  Gpt2HostLinear head;          // (V, D): wte again, as a linear without bias
};

inline Gpt2HostLinear make_linear(Rng& rng, size_t n, size_t k, float scale, bool bias) {
  Gpt2HostLinear l;
  l.n = n;
  l.k = k;
  std::vector<float> raw = rng.vec(n * k, scale);
  l.w16.resize(n * k);
  l.w.resize(n * k);
  for (size_t i = 0; i < raw.size(); ++i) {
    l.w16[i] = f32_to_f16(raw[i]);
    l.w[i] = f16_to_f32(l.w16[i]);
  }
  l.blocks.resize(n * k / 32 * 34);
  for (size_t j = 0; j < n; ++j) quantize_row_q8_0(raw.data() + j * k, k, l.blocks.data() + j * k / 32 * 34);
  l.bias = bias ? rng.vec(n, 0.02f) : std::vector<float>(n, 0.0f);
  return l;
}

inline Gpt2Host make_gpt2(const Gpt2Config& c, uint64_t seed) {
  Rng rng(seed);
  Gpt2Host m;
  m.cfg = c;
  const float s = 0.08f;
  m.head = make_linear(rng, c.vocab, c.d, s, false);
  m.wte16 = m.head.w16;
  m.wte = m.head.w;
  m.wpe = rng.vec(c.ctx * c.d, 0.02f);
  for (size_t l = 0; l < c.layers; ++l) {
    Gpt2HostLayer L;
    L.ln1_w = rng.vec(c.d, 0.2f);
    L.ln2_w = rng.vec(c.d, 0.2f);
    for (auto* w : {&L.ln1_w, &L.ln2_w})
      for (float& v : *w) v += 1.0f;
    L.ln1_b = rng.vec(c.d, 0.05f);
    L.ln2_b = rng.vec(c.d, 0.05f);
    L.qkv = make_linear(rng, 3 * c.d, c.d, s, true);
    L.proj = make_linear(rng, c.d, c.d, s, true);
    L.fc = make_linear(rng, 4 * c.d, c.d, s, true);
    L.fc_proj = make_linear(rng, c.d, 4 * c.d, s / 2, true);
    m.layers.push_back(std::move(L));
  }
  m.lnf_w = rng.vec(c.d, 0.2f);
  for (float& v : m.lnf_w) v += 1.0f;
  m.lnf_b = rng.vec(c.d, 0.05f);
  return m;
}

// The device model: f16 or q8_0 linears (the token table stays f16 for the lookup).
class Gpt2Device {
 public:
  Gpt2Device(DeviceAllocator& a, const Gpt2Host& h, bool q8, cudaStream_t s) : a_(a), cfg_(h.cfg), q8_(q8), s_(s) {
    wte_ = upload(a, h.wte16, s);
    wpe_ = upload(a, h.wpe, s);
    lnf_w_ = upload(a, h.lnf_w, s);
    lnf_b_ = upload(a, h.lnf_b, s);
    head_ = linear(h.head);
    for (const auto& L : h.layers) {
      Layer d;
      d.ln1_w = upload(a, L.ln1_w, s);
      d.ln1_b = upload(a, L.ln1_b, s);
      d.ln2_w = upload(a, L.ln2_w, s);
      d.ln2_b = upload(a, L.ln2_b, s);
      d.qkv = linear(L.qkv);
      d.proj = linear(L.proj);
      d.fc = linear(L.fc);
      d.fc_proj = linear(L.fc_proj);
      d.k = DeviceBuffer<uint16_t>(a, cfg_.ctx * cfg_.d);
      d.v = DeviceBuffer<uint16_t>(a, cfg_.ctx * cfg_.d);
      layers_.push_back(std::move(d));
    }
    const size_t D = cfg_.d;
    x_ = DeviceBuffer<float>(a, D);
    h_ = DeviceBuffer<float>(a, D);
    t_ = DeviceBuffer<float>(a, 4 * D);
    u_ = DeviceBuffer<float>(a, 4 * D);
    qkv_ = DeviceBuffer<float>(a, 3 * D);
    att_ = DeviceBuffer<float>(a, D);
    xq_ = DeviceBuffer<int8_t>(a, 4 * D);
    xs_ = DeviceBuffer<float>(a, 4 * D / 32);
    logits_ = DeviceBuffer<float>(a, cfg_.vocab);
    io_ = DeviceBuffer<int32_t>(a, 2);
    AttentionArgs big = attn_args(cfg_.ctx - 1, layers_[0]);
    ws_ = DeviceBuffer<float>(a, attention_workspace_floats(big) + 1);
  }

  // Runs token `id` at position `pos` (rows 0..pos-1 already cached); logits stay on the device
  // until read(). Enqueues only: the caller synchronizes once.
  void step(int32_t id, int32_t pos) {
    const size_t D = cfg_.d;
    const int32_t io[2] = {id, pos};
    copy_to_device(io_.get(), io, sizeof io, s_);
    embedding(wte_.get(), TableType::f16, io_.get(), x_.get(), 1, D, s_);
    embedding(wpe_.get(), TableType::f32, io_.get() + 1, h_.get(), 1, D, s_);
    add_f32(x_.get(), h_.get(), x_.get(), D, s_);
    for (Layer& L : layers_) {
      layernorm_rows_f32(x_.get(), L.ln1_w.get(), L.ln1_b.get(), 1e-5f, h_.get(), 1, D, s_);
      run(L.qkv, h_.get(), qkv_.get());
      // K and V of this token into the f16 cache row `pos`.
      convert_f32_half(qkv_.get() + D, L.k.get() + static_cast<size_t>(pos) * D, D, Half::f16, s_);
      convert_f32_half(qkv_.get() + 2 * D, L.v.get() + static_cast<size_t>(pos) * D, D, Half::f16, s_);
      AttentionArgs a = attn_args(static_cast<size_t>(pos), L);
      attention_f32(a, ws_.get(), s_);
      run(L.proj, att_.get(), h_.get());
      add_f32(x_.get(), h_.get(), x_.get(), D, s_);
      layernorm_rows_f32(x_.get(), L.ln2_w.get(), L.ln2_b.get(), 1e-5f, h_.get(), 1, D, s_);
      run(L.fc, h_.get(), t_.get());
      gelu_tanh_f32(t_.get(), u_.get(), 4 * D, s_);
      run(L.fc_proj, u_.get(), h_.get());
      add_f32(x_.get(), h_.get(), x_.get(), D, s_);
    }
    layernorm_rows_f32(x_.get(), lnf_w_.get(), lnf_b_.get(), 1e-5f, h_.get(), 1, D, s_);
    run(head_, h_.get(), logits_.get());
  }

  // Runs tokens ids[0..T) at positions 0..T-1 in one pass (tensor-core GEMMs for T > 8, prefill
  // attention), filling the cache; the logits of the last token stay on the device until read().
  void prefill(const std::vector<int32_t>& ids) {
    const size_t T = ids.size(), D = cfg_.d;
    std::vector<int32_t> pos(T);
    for (size_t i = 0; i < T; ++i) pos[i] = static_cast<int32_t>(i);
    DeviceBuffer<int32_t> did = upload(a_, ids, s_), dpos = upload(a_, pos, s_);
    DeviceBuffer<float> x(a_, T * D), h(a_, T * D), t(a_, T * 4 * D), u(a_, T * 4 * D), qkv(a_, T * 3 * D),
        q(a_, T * D), att(a_, T * D);
    DeviceBuffer<uint16_t> scratch(a_, T * 4 * D);
    DeviceBuffer<int8_t> sq(a_, T * 4 * D);
    DeviceBuffer<float> ss(a_, T * 4 * D / 32);
    auto lin = [&](const Lin& l, const float* in, float* out) {
      if (q8_) linear_q8_0(in, Q8_0Device{l.q.get(), l.d.get(), l.n, l.k}, l.bias.get(), out, T, sq.get(), ss.get(), s_);
      else linear_half(in, l.w16.get(), l.bias.get(), out, T, l.n, l.k, Half::f16, scratch.get(), s_);
    };
    embedding(wte_.get(), TableType::f16, did.get(), x.get(), T, D, s_);
    embedding(wpe_.get(), TableType::f32, dpos.get(), h.get(), T, D, s_);
    add_f32(x.get(), h.get(), x.get(), T * D, s_);
    for (Layer& L : layers_) {
      layernorm_rows_f32(x.get(), L.ln1_w.get(), L.ln1_b.get(), 1e-5f, h.get(), T, D, s_);
      lin(L.qkv, h.get(), qkv.get());
      DeviceRows qrows, krows, vrows;
      qrows.base = reinterpret_cast<const char*>(q.get());
      qrows.row_bytes = D * 4;
      krows.base = reinterpret_cast<const char*>(L.k.get());
      vrows.base = reinterpret_cast<const char*>(L.v.get());
      krows.row_bytes = vrows.row_bytes = D * 2;
      write_rows(qkv.get(), 3 * D, qrows, T, D, false, s_);
      write_rows(qkv.get() + D, 3 * D, krows, T, D, true, s_);
      write_rows(qkv.get() + 2 * D, 3 * D, vrows, T, D, true, s_);
      AttentionArgs a = attn_args(T - 1, L);
      a.q = q.get();
      a.out = att.get();
      a.tq = T;
      a.q_offset = 0;
      DeviceBuffer<float> ws(a_, attention_workspace_floats(a) + 1);
      attention_f32(a, ws.get(), s_);
      lin(L.proj, att.get(), h.get());
      add_f32(x.get(), h.get(), x.get(), T * D, s_);
      layernorm_rows_f32(x.get(), L.ln2_w.get(), L.ln2_b.get(), 1e-5f, h.get(), T, D, s_);
      lin(L.fc, h.get(), t.get());
      gelu_tanh_f32(t.get(), u.get(), T * 4 * D, s_);
      lin(L.fc_proj, u.get(), h.get());
      add_f32(x.get(), h.get(), x.get(), T * D, s_);
    }
    layernorm_rows_f32(x.get() + (T - 1) * D, lnf_w_.get(), lnf_b_.get(), 1e-5f, h_.get(), 1, D, s_);
    run(head_, h_.get(), logits_.get());
    ATTNODE_CUDA_CHECK(cudaStreamSynchronize(s_));  // the pass's buffers go back to the allocator below
  }

  std::vector<float> read_logits() {
    std::vector<float> out(cfg_.vocab);
    copy_to_host(out.data(), logits_.get(), out.size() * 4, s_);
    return out;
  }

  size_t weight_bytes() const { return weight_bytes_; }

 private:
  struct Lin {
    size_t n = 0, k = 0;
    DeviceBuffer<uint16_t> w16;
    DeviceBuffer<int8_t> q;
    DeviceBuffer<uint16_t> d;
    DeviceBuffer<float> bias;
  };
  struct Layer {
    DeviceBuffer<float> ln1_w, ln1_b, ln2_w, ln2_b;
    Lin qkv, proj, fc, fc_proj;
    DeviceBuffer<uint16_t> k, v;  // (ctx, H, Dh) f16
  };

  Lin linear(const Gpt2HostLinear& h) {
    Lin l;
    l.n = h.n;
    l.k = h.k;
    l.bias = upload(a_, h.bias, s_);
    if (q8_) {
      std::vector<int8_t> q(h.n * h.k);
      std::vector<uint16_t> d(h.n * h.k / 32);
      q8_0_split_blocks(h.blocks.data(), h.n, h.k, q.data(), d.data());
      l.q = upload(a_, q, s_);
      l.d = upload(a_, d, s_);
      weight_bytes_ += h.blocks.size();
    } else {
      l.w16 = upload(a_, h.w16, s_);
      weight_bytes_ += h.w16.size() * 2;
    }
    return l;
  }

  void run(const Lin& l, const float* x, float* y) {
    if (q8_) {
      quantize_rows_q8(x, xq_.get(), xs_.get(), 1, l.k, s_);
      gemv_q8_0(Q8_0Device{l.q.get(), l.d.get(), l.n, l.k}, xq_.get(), xs_.get(), l.bias.get(), y, 1, s_);
    } else {
      gemv_half(x, l.w16.get(), l.bias.get(), y, 1, l.n, l.k, Half::f16, s_);
    }
  }

  AttentionArgs attn_args(size_t pos, const Layer& L) {
    AttentionArgs a;
    a.q = qkv_.get();
    a.k.base = reinterpret_cast<const char*>(L.k.get());
    a.v.base = reinterpret_cast<const char*>(L.v.get());
    a.k.row_bytes = a.v.row_bytes = cfg_.d * 2;
    a.kv_f16 = true;
    a.out = att_.get();
    a.tq = 1;
    a.tk = pos + 1;
    a.hq = a.hkv = cfg_.heads;
    a.d = cfg_.hd();
    a.q_offset = static_cast<int64_t>(pos);
    a.causal = true;
    a.scale = 1.0f / std::sqrt(static_cast<float>(cfg_.hd()));
    return a;
  }

  DeviceAllocator& a_;
  Gpt2Config cfg_;
  bool q8_;
  cudaStream_t s_;
  size_t weight_bytes_ = 0;
  DeviceBuffer<uint16_t> wte_;
  DeviceBuffer<float> wpe_, lnf_w_, lnf_b_;
  Lin head_;
  std::vector<Layer> layers_;
  DeviceBuffer<float> x_, h_, t_, u_, qkv_, att_, xs_, logits_, ws_;
  DeviceBuffer<int8_t> xq_;
  DeviceBuffer<int32_t> io_;
};

}  // namespace attnode::cuda::test

namespace attnode::cuda::test {

// The same step on the CPU from the scalar kernels (kElementwiseScalar, kAttentionScalar) and the
// CPU's activation quantizer for q8_0; k16/v16: (ctx, D) f16 caches the caller keeps.
inline std::vector<float> gpt2_reference_step(const Gpt2Host& m, bool q8, int32_t id, int32_t pos,
                                              std::vector<std::vector<uint16_t>>& k16,
                                              std::vector<std::vector<uint16_t>>& v16) {
  const ElementwiseKernels& ew = kElementwiseScalar;
  const Gpt2Config& c = m.cfg;
  const size_t D = c.d;
  auto linear = [&](const Gpt2HostLinear& l, const std::vector<float>& x) {
    std::vector<float> y(l.n);
    if (q8) {
      std::vector<int8_t> xq(l.k);
      std::vector<float> xs(l.k / 32);
      std::vector<int32_t> sums(l.k / 32);
      quantize_activations(x.data(), 1, l.k, l.k, 32, xq.data(), xs.data(), sums.data());
      for (size_t j = 0; j < l.n; ++j) {
        double s = l.bias[j];
        for (size_t b = 0; b < l.k / 32; ++b) {
          const uint8_t* blk = l.blocks.data() + (j * l.k / 32 + b) * 34;
          const auto* q = reinterpret_cast<const int8_t*>(blk + 2);
          int32_t dot = 0;
          for (size_t p = 0; p < 32; ++p) dot += int32_t{q[p]} * xq[b * 32 + p];
          s += static_cast<double>(f16_to_f32(q8_0_scale_bits(l.blocks.data() + j * l.k / 32 * 34, b)) * xs[b]) * dot;
        }
        y[j] = static_cast<float>(s);
      }
    } else {
      for (size_t j = 0; j < l.n; ++j) {
        double s = l.bias[j];
        for (size_t p = 0; p < l.k; ++p) s += static_cast<double>(l.w[j * l.k + p]) * x[p];
        y[j] = static_cast<float>(s);
      }
    }
    return y;
  };
  std::vector<float> x(D), h(D);
  for (size_t i = 0; i < D; ++i) x[i] = m.wte[static_cast<size_t>(id) * D + i] + m.wpe[static_cast<size_t>(pos) * D + i];
  for (size_t l = 0; l < c.layers; ++l) {
    const Gpt2HostLayer& L = m.layers[l];
    ew.layernorm_row_f32(x.data(), L.ln1_w.data(), L.ln1_b.data(), 1e-5f, h.data(), D);
    const std::vector<float> qkv = linear(L.qkv, h);
    for (size_t i = 0; i < D; ++i) {
      k16[l][static_cast<size_t>(pos) * D + i] = f32_to_f16(qkv[D + i]);
      v16[l][static_cast<size_t>(pos) * D + i] = f32_to_f16(qkv[2 * D + i]);
    }
    std::vector<float> att(D), ws(c.hd());
    AttentionProblem p{};
    p.q = qkv.data();
    p.k = k16[l].data();
    p.v = v16[l].data();
    p.kv_f16 = true;
    p.out = att.data();
    p.tq = 1, p.tk = static_cast<size_t>(pos) + 1, p.hq = c.heads, p.hkv = c.heads, p.d = c.hd();
    p.q_offset = pos, p.causal = true, p.scale = 1.0f / std::sqrt(static_cast<float>(c.hd()));
    for (size_t g = 0; g < c.heads; ++g) kAttentionScalar.fused_f32(p, g, 0, 1, ws.data());
    std::vector<float> o = linear(L.proj, att);
    for (size_t i = 0; i < D; ++i) x[i] += o[i];
    ew.layernorm_row_f32(x.data(), L.ln2_w.data(), L.ln2_b.data(), 1e-5f, h.data(), D);
    std::vector<float> f = linear(L.fc, h);
    ew.gelu_tanh_f32(f.data(), f.data(), f.size());
    o = linear(L.fc_proj, f);
    for (size_t i = 0; i < D; ++i) x[i] += o[i];
  }
  ew.layernorm_row_f32(x.data(), m.lnf_w.data(), m.lnf_b.data(), 1e-5f, h.data(), D);
  return linear(m.head, h);
}

}  // namespace attnode::cuda::test
