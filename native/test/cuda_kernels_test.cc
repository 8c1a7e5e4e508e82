// The CUDA kernels against the scalar CPU reference (cpu/isa/scalar/*.cc, quant_format.h, and
// plain loops where the CPU's reference is an op body), on awkward shapes (1, 3, 17, 33, 127, tile
// edges), with guard regions around every output, plus the runtime's error paths. Needs no Node:
// a GPU machine runs it through tools/cuda-check.sh. The last check faults a kernel on purpose
// (ATTNODE_CUDA_TEST_NO_FAULT=1 skips it). Exit 0: all passed (or no device and no
// --require-device); 1: a check failed; 2: --require-device and no device.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu/attention.h"
#include "cpu/block_formats.h"
#include "cpu/elementwise.h"
#include "cpu/position_bias.h"
#include "cpu/quant_format.h"
#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "gpt2_device.h"
#include "half.h"

namespace attnode::cuda::test {
namespace {

std::string shape(std::initializer_list<size_t> dims) {
  std::string s;
  for (size_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// Runs a kernel writing n floats into a guarded buffer, checks guards and values.
template <class Launch>
void check_output(Report& r, DeviceAllocator& a, Stream& st, const std::string& what, const std::vector<float>& ref,
                  Tolerance tol, Launch launch) {
  Guarded<float> out(a, ref.size(), st.get());
  launch(out.get());
  st.synchronize();
  bool guards = false;
  const std::vector<float> got = out.read(&guards);
  if (!r.expect(what + " guards", guards, "(wrote outside its output)")) return;
  r.compare(what, got.data(), ref.data(), ref.size(), tol);
}

void test_elementwise(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("element-wise (against kElementwiseScalar)\n");
  const ElementwiseKernels& ref = kElementwiseScalar;
  for (size_t n : {1, 3, 17, 33, 127, 1000, 4097}) {
    std::vector<float> x = rng.vec(n, 6.0f), y = rng.vec(n, 6.0f), want(n);
    auto dx = upload(a, x, st.get()), dy = upload(a, y, st.get());
    ref.add_f32(x.data(), y.data(), want.data(), n);
    check_output(r, a, st, "add_f32 n=" + std::to_string(n), want, kTolF32,
                 [&](float* o) { add_f32(dx.get(), dy.get(), o, n, st.get()); });
    ref.mul_f32(x.data(), y.data(), want.data(), n);
    check_output(r, a, st, "mul_f32 n=" + std::to_string(n), want, kTolF32,
                 [&](float* o) { mul_f32(dx.get(), dy.get(), o, n, st.get()); });
    ref.scale_f32(x.data(), 0.37f, want.data(), n);
    check_output(r, a, st, "scale_f32 n=" + std::to_string(n), want, kTolF32,
                 [&](float* o) { scale_f32(dx.get(), 0.37f, o, n, st.get()); });
    ref.gelu_erf_f32(x.data(), want.data(), n);
    check_output(r, a, st, "gelu_erf_f32 n=" + std::to_string(n), want, kTolF32,
                 [&](float* o) { gelu_erf_f32(dx.get(), o, n, st.get()); });
    ref.gelu_tanh_f32(x.data(), want.data(), n);
    check_output(r, a, st, "gelu_tanh_f32 n=" + std::to_string(n), want, kTolF32,
                 [&](float* o) { gelu_tanh_f32(dx.get(), o, n, st.get()); });
    ref.silu_f32(x.data(), want.data(), n);
    check_output(r, a, st, "silu_f32 n=" + std::to_string(n), want, kTolF32,
                 [&](float* o) { silu_f32(dx.get(), o, n, st.get()); });
    // Half conversion must be bit-exact with half.h (round to nearest even).
    for (Half t : {Half::f16, Half::bf16}) {
      DeviceBuffer<uint16_t> h(a, n);
      convert_f32_half(dx.get(), h.get(), n, t, st.get());
      std::vector<uint16_t> got(n);
      copy_to_host(got.data(), h.get(), n * 2, st.get());
      size_t bad = 0;
      for (size_t i = 0; i < n; ++i) bad += got[i] != (t == Half::bf16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i]));
      r.expect(std::string("convert_f32_") + (t == Half::bf16 ? "bf16" : "f16") + " n=" + std::to_string(n) + " bit-exact",
               bad == 0, std::to_string(bad) + " values differ");
    }
  }
}

void test_rows(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("row kernels: softmax, RMSNorm, LayerNorm (against kElementwiseScalar)\n");
  const ElementwiseKernels& ref = kElementwiseScalar;
  const float kInf = std::numeric_limits<float>::infinity();
  for (size_t rows : {1, 3}) {
    for (size_t n : {1, 3, 17, 33, 127, 1000, 4097}) {
      std::vector<float> x = rng.vec(rows * n, 8.0f), w = rng.vec(n), b = rng.vec(n), want(rows * n);
      if (rows == 3) {
        for (size_t i = 0; i < n; ++i) x[n + i] = -kInf;  // a fully masked row: zeros
        x[2 * n + n / 2] = std::numeric_limits<float>::quiet_NaN();  // a NaN: NaNs
      }
      auto dx = upload(a, x, st.get()), dw = upload(a, w, st.get()), db = upload(a, b, st.get());
      for (size_t i = 0; i < rows; ++i) ref.softmax_row_f32(x.data() + i * n, want.data() + i * n, n);
      const std::string sh = shape({rows, n});
      check_output(r, a, st, "softmax_rows_f32 " + sh, want, kTolF32,
                   [&](float* o) { softmax_rows_f32(dx.get(), o, rows, n, st.get()); });
      std::vector<float> xf = rng.vec(rows * n, 3.0f);  // norms: finite rows
      auto dxf = upload(a, xf, st.get());
      for (size_t i = 0; i < rows; ++i) ref.rmsnorm_row_f32(xf.data() + i * n, w.data(), 1e-6f, want.data() + i * n, n);
      check_output(r, a, st, "rmsnorm_rows_f32 " + sh, want, kTolF32,
                   [&](float* o) { rmsnorm_rows_f32(dxf.get(), dw.get(), 1e-6f, o, rows, n, st.get()); });
      for (size_t i = 0; i < rows; ++i)
        ref.layernorm_row_f32(xf.data() + i * n, w.data(), b.data(), 1e-5f, want.data() + i * n, n);
      check_output(r, a, st, "layernorm_rows_f32 " + sh, want, kTolF32,
                   [&](float* o) { layernorm_rows_f32(dxf.get(), dw.get(), db.get(), 1e-5f, o, rows, n, st.get()); });
      for (size_t i = 0; i < rows; ++i)
        ref.layernorm_row_f32(xf.data() + i * n, w.data(), nullptr, 1e-5f, want.data() + i * n, n);
      check_output(r, a, st, "layernorm_rows_f32 (no bias) " + sh, want, kTolF32,
                   [&](float* o) { layernorm_rows_f32(dxf.get(), dw.get(), nullptr, 1e-5f, o, rows, n, st.get()); });
    }
  }
}

// The body of ops/position.cc prepare_rope for given inverse frequencies.
void rope_reference(const float* x, const int32_t* pos, const float* inv_freq, float scale, float* out, size_t t,
                    size_t h, size_t d, size_t rd, bool interleaved) {
  const size_t half = rd / 2;
  for (size_t tok = 0; tok < t; ++tok)
    for (size_t hh = 0; hh < h; ++hh) {
      const float* xi = x + (tok * h + hh) * d;
      float* o = out + (tok * h + hh) * d;
      for (size_t i = 0; i < half; ++i) {
        const float ang = static_cast<float>(pos[tok]) * inv_freq[i];
        const float cs = std::cos(ang) * scale, sn = std::sin(ang) * scale;
        const size_t i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
        o[i0] = xi[i0] * cs - xi[i1] * sn;
        o[i1] = xi[i1] * cs + xi[i0] * sn;
      }
      for (size_t j = 2 * half; j < d; ++j) o[j] = xi[j];
    }
}

void test_rope_embedding(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("rope and embedding (against ops/position.cc's loops)\n");
  struct Case { size_t t, h, d, rd; };
  for (const Case c : {Case{1, 1, 2, 2}, Case{3, 3, 16, 16}, Case{17, 2, 34, 16}, Case{33, 3, 64, 64}, Case{5, 4, 128, 32}}) {
    for (bool inter : {false, true}) {
      std::vector<float> x = rng.vec(c.t * c.h * c.d), want(x.size());
      std::vector<int32_t> pos(c.t);
      for (size_t i = 0; i < c.t; ++i) pos[i] = static_cast<int32_t>(rng.next() % 3000);
      std::vector<float> inv(c.rd / 2);
      for (size_t i = 0; i < inv.size(); ++i)
        inv[i] = 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / static_cast<float>(c.rd));
      rope_reference(x.data(), pos.data(), inv.data(), 1.0f, want.data(), c.t, c.h, c.d, c.rd, inter);
      auto dx = upload(a, x, st.get());
      auto dp = upload(a, pos, st.get());
      auto di = upload(a, inv, st.get());
      check_output(r, a, st, "rope_f32 " + shape({c.t, c.h, c.d}) + " rd=" + std::to_string(c.rd) + (inter ? " interleaved" : ""),
                   want, kTolRope, [&](float* o) {
                     rope_f32(dx.get(), dp.get(), di.get(), 1.0f, o, c.t, c.h, c.d, c.rd, inter, st.get());
                   });
    }
  }
  for (size_t d : {1, 17, 64}) {
    const size_t vocab = 37, n = 19;
    std::vector<float> table = rng.vec(vocab * d), want(n * d);
    std::vector<int32_t> ids(n);
    for (auto& id : ids) id = static_cast<int32_t>(rng.next() % vocab);
    std::vector<uint16_t> tf16(table.size()), tbf16(table.size());
    for (size_t i = 0; i < table.size(); ++i) {
      tf16[i] = f32_to_f16(table[i]);
      tbf16[i] = f32_to_bf16(table[i]);
    }
    auto di = upload(a, ids, st.get());
    const struct { TableType type; const char* name; } kinds[] = {{TableType::f32, "f32"}, {TableType::f16, "f16"}, {TableType::bf16, "bf16"}};
    for (const auto& k : kinds) {
      for (size_t i = 0; i < n; ++i)
        for (size_t c = 0; c < d; ++c) {
          const size_t src = static_cast<size_t>(ids[i]) * d + c;
          want[i * d + c] = k.type == TableType::f32 ? table[src] : k.type == TableType::f16 ? f16_to_f32(tf16[src]) : bf16_to_f32(tbf16[src]);
        }
      DeviceBuffer<float> tf = upload(a, table, st.get());
      DeviceBuffer<uint16_t> th = upload(a, k.type == TableType::f16 ? tf16 : tbf16, st.get());
      const void* tp = k.type == TableType::f32 ? static_cast<const void*>(tf.get()) : th.get();
      check_output(r, a, st, std::string("embedding ") + k.name + " d=" + std::to_string(d), want, Tolerance{0, 0},
                   [&](float* o) { embedding(tp, k.type, di.get(), o, n, d, st.get()); });
    }
  }
}

// c = a . w^T + bias in double from the values the kernel sees (f32, or halves widened).
std::vector<float> linear_reference(const std::vector<float>& a, const std::vector<float>& w, const std::vector<float>* bias,
                                    size_t m, size_t n, size_t k) {
  std::vector<float> c(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = bias ? (*bias)[j] : 0.0;
      for (size_t p = 0; p < k; ++p) s += static_cast<double>(a[i * k + p]) * w[j * k + p];
      c[i * n + j] = static_cast<float>(s);
    }
  return c;
}

std::vector<uint16_t> to_half(const std::vector<float>& x, Half t) {
  std::vector<uint16_t> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = t == Half::bf16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
  return h;
}

std::vector<float> from_half(const std::vector<uint16_t>& h, Half t) {
  std::vector<float> x(h.size());
  for (size_t i = 0; i < h.size(); ++i) x[i] = t == Half::bf16 ? bf16_to_f32(h[i]) : f16_to_f32(h[i]);
  return x;
}

void test_gemm(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("GEMM and GEMV (against a double loop over the same inputs)\n");
  struct Case { size_t m, n, k; };
  const Case gemm_cases[] = {{1, 1, 1},    {3, 17, 33},   {17, 33, 127}, {33, 127, 17}, {127, 3, 64},
                             {128, 128, 128}, {129, 130, 136}, {1, 257, 40}, {200, 72, 1000}};
  for (const Case c : gemm_cases) {
    std::vector<float> x = rng.vec(c.m * c.k), w = rng.vec(c.n * c.k), bias = rng.vec(c.n);
    auto db = upload(a, bias, st.get());
    const std::string sh = shape({c.m, c.n, c.k});
    {
      auto dx = upload(a, x, st.get()), dw = upload(a, w, st.get());
      const auto want = linear_reference(x, w, &bias, c.m, c.n, c.k);
      check_output(r, a, st, "gemm_f32 " + sh, want, kTolF32Dot,
                   [&](float* o) { gemm_f32(dx.get(), dw.get(), db.get(), o, c.m, c.n, c.k, st.get()); });
    }
    for (Half t : {Half::f16, Half::bf16}) {
      const auto xh = to_half(x, t), wh = to_half(w, t);
      auto dx = upload(a, xh, st.get()), dw = upload(a, wh, st.get());
      const auto want = linear_reference(from_half(xh, t), from_half(wh, t), &bias, c.m, c.n, c.k);
      const char* tn = t == Half::bf16 ? "bf16" : "f16";
      check_output(r, a, st, std::string("gemm_half ") + tn + " " + sh, want, kTolTensorCore,
                   [&](float* o) { gemm_half(dx.get(), dw.get(), db.get(), o, c.m, c.n, c.k, t, st.get()); });
      const auto want_nb = linear_reference(from_half(xh, t), from_half(wh, t), nullptr, c.m, c.n, c.k);
      if (c.m == 129)
        check_output(r, a, st, std::string("gemm_half ") + tn + " (no bias) " + sh, want_nb, kTolTensorCore,
                     [&](float* o) { gemm_half(dx.get(), dw.get(), nullptr, o, c.m, c.n, c.k, t, st.get()); });
    }
  }
  for (size_t m : {1, 2, 3, 8}) {
    for (const Case c : {Case{m, 1, 8}, Case{m, 3, 17}, Case{m, 17, 33}, Case{m, 33, 256}, Case{m, 127, 1000}, Case{m, 9, 4104}}) {
      std::vector<float> x = rng.vec(c.m * c.k), w = rng.vec(c.n * c.k), bias = rng.vec(c.n);
      auto dx = upload(a, x, st.get()), db = upload(a, bias, st.get());
      const std::string sh = shape({c.m, c.n, c.k});
      {
        auto dw = upload(a, w, st.get());
        const auto want = linear_reference(x, w, &bias, c.m, c.n, c.k);
        check_output(r, a, st, "gemv_f32 " + sh, want, kTolF32Dot,
                     [&](float* o) { gemv_f32(dx.get(), dw.get(), db.get(), o, c.m, c.n, c.k, st.get()); });
      }
      for (Half t : {Half::f16, Half::bf16}) {
        const auto wh = to_half(w, t);
        auto dw = upload(a, wh, st.get());
        const auto want = linear_reference(x, from_half(wh, t), &bias, c.m, c.n, c.k);
        check_output(r, a, st, std::string("gemv_half ") + (t == Half::bf16 ? "bf16 " : "f16 ") + sh, want, kTolF32Dot,
                     [&](float* o) { gemv_half(dx.get(), dw.get(), db.get(), o, c.m, c.n, c.k, t, st.get()); });
      }
    }
  }
}

void test_q8_0(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("q8_0: activation quantizer (bit-exact with quant_format.h) and dp4a GEMV\n");
  for (size_t m : {1, 3, 8}) {
    for (size_t n : {1, 3, 17, 33, 127}) {
      for (size_t k : {32, 96, 1024, 4096}) {
        std::vector<float> x = rng.vec(m * k, 4.0f), w = rng.vec(n * k), bias = rng.vec(n);
        if (m == 3 && k == 96) {
          x[k + 40] = std::numeric_limits<float>::infinity();  // row 1, group 1: NaN scale, zero quants
          for (size_t p = 64; p < 96; ++p) x[2 * k + p] = 0.0f;  // row 2, group 2: all zeros
        }
        std::vector<uint8_t> blocks(n * k / 32 * 34);
        for (size_t j = 0; j < n; ++j) quantize_row_q8_0(w.data() + j * k, k, blocks.data() + j * k / 32 * 34);
        std::vector<int8_t> wq(n * k);
        std::vector<uint16_t> wd(n * k / 32);
        q8_0_split_blocks(blocks.data(), n, k, wq.data(), wd.data());
        // The CPU's quantized activations and the output from them.
        std::vector<int8_t> xq(m * k);
        std::vector<float> xs(m * k / 32);
        std::vector<int32_t> sums(m * k / 32);
        quantize_activations(x.data(), m, k, k, 32, xq.data(), xs.data(), sums.data());
        std::vector<float> want(m * n);
        for (size_t i = 0; i < m; ++i)
          for (size_t j = 0; j < n; ++j) {
            double s = bias[j];
            for (size_t b = 0; b < k / 32; ++b) {
              int32_t dot = 0;
              for (size_t p = 0; p < 32; ++p) dot += int32_t{wq[j * k + b * 32 + p]} * xq[i * k + b * 32 + p];
              s += static_cast<double>(f16_to_f32(wd[j * k / 32 + b]) * xs[i * k / 32 + b]) * dot;
            }
            want[i * n + j] = static_cast<float>(s);
          }
        auto dx = upload(a, x, st.get()), db = upload(a, bias, st.get());
        auto dwq = upload(a, wq, st.get());
        auto dwd = upload(a, wd, st.get());
        DeviceBuffer<int8_t> dxq(a, m * k);
        DeviceBuffer<float> dxs(a, m * k / 32);
        quantize_rows_q8(dx.get(), dxq.get(), dxs.get(), m, k, st.get());
        std::vector<int8_t> gq(m * k);
        std::vector<float> gs(m * k / 32);
        copy_to_host(gq.data(), dxq.get(), gq.size(), st.get());
        copy_to_host(gs.data(), dxs.get(), gs.size() * 4, st.get());
        const std::string sh = shape({m, n, k});
        if (n == 1) {
          bool same = std::memcmp(gq.data(), xq.data(), gq.size()) == 0;
          for (size_t i = 0; i < gs.size() && same; ++i) same = std::isnan(xs[i]) ? std::isnan(gs[i]) : gs[i] == xs[i];
          r.expect("quantize_rows_q8 " + shape({m, k}) + " bit-exact", same);
        }
        const Q8_0Device wdv{dwq.get(), dwd.get(), n, k};
        check_output(r, a, st, "gemv_q8_0 " + sh, want, kTolInt8,
                     [&](float* o) { gemv_q8_0(wdv, dxq.get(), dxs.get(), db.get(), o, m, st.get()); });
      }
    }
  }
}

// Q4_K / Q6_K GEMV against the CPU's reference dequantizer (block_formats.cc) and a double dot.
void test_kquant(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("k-quant GEMV (against block_formats.cc's dequantizers)\n");
  for (int fmt : {4, 6}) {
    const size_t bytes = fmt == 4 ? kQ4_KBytes : kQ6_KBytes;
    for (size_t m : {1, 3, 8}) {
      for (size_t n : {1, 17, 33}) {
        for (size_t k : {256, 512, 2304}) {
          const size_t nsb = k / 256;
          std::vector<uint8_t> blocks(n * nsb * bytes);
          for (auto& b : blocks) b = static_cast<uint8_t>(rng.next());
          for (size_t i = 0; i < n * nsb; ++i) {
            uint8_t* blk = blocks.data() + i * bytes;
            const uint16_t d = f32_to_f16(0.002f * (1.0f + rng.uniform()));
            const uint16_t dmin = f32_to_f16(0.002f * (1.0f + rng.uniform()));
            uint8_t* dp = fmt == 4 ? blk : blk + 208;
            dp[0] = static_cast<uint8_t>(d & 0xff);
            dp[1] = static_cast<uint8_t>(d >> 8);
            if (fmt == 4) {
              blk[2] = static_cast<uint8_t>(dmin & 0xff);
              blk[3] = static_cast<uint8_t>(dmin >> 8);
            }
          }
          std::vector<float> wf(n * k);
          for (size_t j = 0; j < n; ++j) {
            if (fmt == 4) dequantize_row_q4_k(blocks.data() + j * nsb * bytes, k, wf.data() + j * k);
            else dequantize_row_q6_k(blocks.data() + j * nsb * bytes, k, wf.data() + j * k);
          }
          std::vector<float> x = rng.vec(m * k), bias = rng.vec(n);
          const auto want = linear_reference(x, wf, &bias, m, n, k);
          auto dx = upload(a, x, st.get()), db = upload(a, bias, st.get());
          auto dw = upload(a, blocks, st.get());
          check_output(r, a, st, std::string(fmt == 4 ? "gemv_q4_k " : "gemv_q6_k ") + shape({m, n, k}), want, kTolF32Dot,
                       [&](float* o) {
                         if (fmt == 4) gemv_q4_k(dx.get(), dw.get(), db.get(), o, m, n, k, st.get());
                         else gemv_q6_k(dx.get(), dw.get(), db.get(), o, m, n, k, st.get());
                       });
        }
      }
    }
  }
}

// linear as the backend calls it: GEMV for few rows, tensor cores past kGemvMaxRows (activations
// rounded to the weight's type), q8_0 in chunks of rows; and rows written into state pages.
void test_linear_and_rows(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("linear dispatch (GEMV / tensor cores / q8_0 chunks) and state row writes\n");
  for (size_t m : {1, 8, 9, 33, 130}) {
    for (size_t k : {32, 96, 256}) {
      const size_t n = 37;
      std::vector<float> x = rng.vec(m * k), w = rng.vec(n * k), bias = rng.vec(n);
      auto dx = upload(a, x, st.get()), db = upload(a, bias, st.get());
      const std::string sh = shape({m, n, k});
      for (Half t : {Half::f16, Half::bf16}) {
        const auto wh = to_half(w, t);
        auto dw = upload(a, wh, st.get());
        const std::vector<float> xr = m > kGemvMaxRows ? from_half(to_half(x, t), t) : x;
        const auto want = linear_reference(xr, from_half(wh, t), &bias, m, n, k);
        DeviceBuffer<uint16_t> scratch(a, m * k);
        check_output(r, a, st, std::string("linear_half ") + (t == Half::bf16 ? "bf16 " : "f16 ") + sh, want,
                     m > kGemvMaxRows ? kTolTensorCore : kTolF32Dot,
                     [&](float* o) { linear_half(dx.get(), dw.get(), db.get(), o, m, n, k, t, scratch.get(), st.get()); });
      }
      std::vector<uint8_t> blocks(n * k / 32 * 34);
      for (size_t j = 0; j < n; ++j) quantize_row_q8_0(w.data() + j * k, k, blocks.data() + j * k / 32 * 34);
      std::vector<int8_t> wq(n * k), xq(m * k);
      std::vector<uint16_t> wd(n * k / 32);
      std::vector<float> xs(m * k / 32), want(m * n);
      std::vector<int32_t> sums(m * k / 32);
      q8_0_split_blocks(blocks.data(), n, k, wq.data(), wd.data());
      quantize_activations(x.data(), m, k, k, 32, xq.data(), xs.data(), sums.data());
      for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j) {
          double acc = bias[j];
          for (size_t b = 0; b < k / 32; ++b) {
            int32_t dot = 0;
            for (size_t p = 0; p < 32; ++p) dot += int32_t{wq[j * k + b * 32 + p]} * xq[i * k + b * 32 + p];
            acc += static_cast<double>(f16_to_f32(wd[j * k / 32 + b]) * xs[i * k / 32 + b]) * dot;
          }
          want[i * n + j] = static_cast<float>(acc);
        }
      auto dwq = upload(a, wq, st.get());
      auto dwd = upload(a, wd, st.get());
      DeviceBuffer<int8_t> sq(a, m * k);
      DeviceBuffer<float> ss(a, m * k / 32);
      const Q8_0Device wdev{dwq.get(), dwd.get(), n, k};
      check_output(r, a, st, "linear_q8_0 " + sh, want, kTolInt8,
                   [&](float* o) { linear_q8_0(dx.get(), wdev, db.get(), o, m, sq.get(), ss.get(), st.get()); });
    }
  }
  // Rows into pages of 8 rows, K at offset 0 and V after it, starting at row 3 of the view (first = 5).
  for (bool f16 : {false, true}) {
    const size_t rows = 21, elems = 3 * 17, elem = f16 ? 2 : 4, row_bytes = elems * elem, page_rows = 8, first = 5;
    const size_t npages = (first + 3 + rows + page_rows - 1) / page_rows, page_bytes = 2 * page_rows * row_bytes;
    std::vector<DeviceBuffer<char>> pages;
    std::vector<char*> table;
    for (size_t p = 0; p < npages; ++p) {
      pages.emplace_back(a, page_bytes);
      ATTNODE_CUDA_CHECK(cudaMemsetAsync(pages.back().get(), 0, page_bytes, st.get()));
      table.push_back(pages.back().get());
    }
    auto dtable = upload(a, table, st.get());
    DeviceRows dst;
    dst.pages = dtable.get();
    dst.page_rows = page_rows;
    dst.shift = 3;
    dst.row_bytes = row_bytes;
    dst.offset = page_rows * row_bytes;  // the V part
    dst.first = first + 3;
    std::vector<float> src = rng.vec(rows * elems);
    auto dsrc = upload(a, src, st.get());
    write_rows(dsrc.get(), elems, dst, rows, elems, f16, st.get());
    st.synchronize();
    size_t bad = 0;
    for (size_t p = 0; p < npages; ++p) {
      std::vector<char> host(page_bytes);
      copy_to_host(host.data(), pages[p].get(), page_bytes, st.get());
      for (size_t rr = 0; rr < page_rows; ++rr) {
        const size_t x = p * page_rows + rr;
        const bool mine = x >= first + 3 && x < first + 3 + rows;
        for (size_t part = 0; part < 2; ++part)
          for (size_t e = 0; e < elems; ++e) {
            const char* at = host.data() + part * page_rows * row_bytes + rr * row_bytes + e * elem;
            float got;
            if (f16) {
              uint16_t h;
              std::memcpy(&h, at, 2);
              got = f16_to_f32(h);
            } else {
              std::memcpy(&got, at, 4);
            }
            const float want = (part == 1 && mine) ? (f16 ? f16_to_f32(f32_to_f16(src[(x - first - 3) * elems + e])) : src[(x - first - 3) * elems + e]) : 0.0f;
            bad += got != want;
          }
      }
    }
    r.expect(std::string("write_rows into pages (") + (f16 ? "f16" : "f32") + "): its rows exactly, nothing else", bad == 0,
             std::to_string(bad) + " values wrong");
  }
}

struct AttnCase {
  size_t tq, tk, hq, hkv, d;
  bool causal;
  int64_t q_offset, window;
  float softcap;
  bool f16, paged;
};

void test_attention(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("attention (against kAttentionScalar.fused_f32)\n");
  const AttnCase cases[] = {
      {1, 1, 1, 1, 1, false, 0, 0, 0, false, false},     {3, 3, 2, 2, 17, true, 0, 0, 0, false, false},
      {17, 17, 4, 2, 33, true, 0, 0, 0, true, false},     {33, 33, 3, 1, 64, false, 0, 0, 0, false, false},
      {1, 127, 8, 2, 128, true, 126, 0, 0, true, false},  {5, 130, 6, 3, 80, true, 125, 0, 0, true, true},
      {17, 40, 4, 4, 32, true, 23, 8, 0, false, false},   {2, 64, 2, 1, 256, true, 62, 0, 30.0f, true, false},
      {1, 1500, 4, 1, 64, true, 1499, 0, 0, true, true},  {3, 2049, 8, 8, 128, false, 0, 0, 0, true, false},
      {127, 127, 2, 1, 16, true, 0, 0, 0, false, true},   {4, 3000, 16, 4, 128, true, 2996, 1024, 0, true, true},
  };
  for (const AttnCase& c : cases) {
    const size_t elem = c.f16 ? 2 : 4, row_floats = c.hkv * c.d;
    std::vector<float> q = rng.vec(c.tq * c.hq * c.d), k = rng.vec(c.tk * row_floats), v = rng.vec(c.tk * row_floats);
    std::vector<uint16_t> kh(k.size()), vh(v.size());
    for (size_t i = 0; i < k.size(); ++i) {
      kh[i] = f32_to_f16(k[i]);
      vh[i] = f32_to_f16(v[i]);
    }
    AttentionProblem p{};
    p.q = q.data();
    p.k = c.f16 ? static_cast<const void*>(kh.data()) : k.data();
    p.v = c.f16 ? static_cast<const void*>(vh.data()) : v.data();
    p.kv_f16 = c.f16;
    std::vector<float> want(q.size());
    p.out = want.data();
    p.tq = c.tq, p.tk = c.tk, p.hq = c.hq, p.hkv = c.hkv, p.d = c.d;
    p.q_offset = c.q_offset, p.causal = c.causal, p.scale = 1.0f / std::sqrt(static_cast<float>(c.d));
    p.window = c.window, p.softcap = c.softcap;
    std::vector<float> ws(c.d);
    for (size_t g = 0; g < c.hkv; ++g) kAttentionScalar.fused_f32(p, g, 0, c.tq * p.group(), ws.data());

    // Device K/V: one contiguous array, or pages of 16 rows (shuffled) holding K at offset 0 and
    // V after it, as sequence state lays out a layer's part.
    const size_t row_bytes = row_floats * elem;
    const char* kbytes = c.f16 ? reinterpret_cast<const char*>(kh.data()) : reinterpret_cast<const char*>(k.data());
    const char* vbytes = c.f16 ? reinterpret_cast<const char*>(vh.data()) : reinterpret_cast<const char*>(v.data());
    std::vector<DeviceBuffer<char>> pages;
    DeviceBuffer<char> dk, dv;
    DeviceBuffer<char*> dpages;
    AttentionArgs args;
    constexpr size_t kPageRows = 16;
    const size_t first = 5;  // the view starts inside the first page
    if (c.paged) {
      const size_t npages = (first + c.tk + kPageRows - 1) / kPageRows;
      std::vector<char*> table(npages);
      const size_t page_bytes = 2 * kPageRows * row_bytes;
      for (size_t pg = 0; pg < npages; ++pg) {
        pages.emplace_back(a, page_bytes);
        std::vector<char> host(page_bytes, 0);
        for (size_t rr = 0; rr < kPageRows; ++rr) {
          const size_t x = pg * kPageRows + rr;
          if (x < first || x - first >= c.tk) continue;
          std::memcpy(host.data() + rr * row_bytes, kbytes + (x - first) * row_bytes, row_bytes);
          std::memcpy(host.data() + kPageRows * row_bytes + rr * row_bytes, vbytes + (x - first) * row_bytes, row_bytes);
        }
        copy_to_device(pages.back().get(), host.data(), page_bytes, st.get());
        table[pg] = pages.back().get();
      }
      dpages = upload(a, table, st.get());
      for (DeviceRows* dr : {&args.k, &args.v}) {
        dr->pages = dpages.get();
        dr->page_rows = kPageRows;
        dr->shift = 4;
        dr->row_bytes = row_bytes;
        dr->first = first;
      }
      args.v.offset = kPageRows * row_bytes;
    } else {
      dk = DeviceBuffer<char>(a, c.tk * row_bytes);
      dv = DeviceBuffer<char>(a, c.tk * row_bytes);
      copy_to_device(dk.get(), kbytes, c.tk * row_bytes, st.get());
      copy_to_device(dv.get(), vbytes, c.tk * row_bytes, st.get());
      args.k.base = dk.get();
      args.v.base = dv.get();
      args.k.row_bytes = args.v.row_bytes = row_bytes;
    }
    auto dq = upload(a, q, st.get());
    args.q = dq.get();
    args.kv_f16 = c.f16;
    args.tq = c.tq, args.tk = c.tk, args.hq = c.hq, args.hkv = c.hkv, args.d = c.d;
    args.q_offset = c.q_offset, args.causal = c.causal, args.scale = p.scale, args.window = c.window;
    args.softcap = c.softcap;
    DeviceBuffer<float> wsd(a, attention_workspace_floats(args) + 1);
    std::string what = "attention " + shape({c.tq, c.tk, c.hq, c.hkv, c.d}) + (c.causal ? " causal" : " bidir") +
                       (c.f16 ? " kv_f16" : " kv_f32") + (c.paged ? " paged" : "");
    if (c.window) what += " window=" + std::to_string(c.window);
    if (c.softcap > 0) what += " softcap";
    if (attention_workspace_floats(args) > 0) what += " split";
    check_output(r, a, st, what, want, c.f16 ? kTolF16 : kTolF32Dot, [&](float* o) {
      args.out = o;
      attention_f32(args, wsd.get(), st.get());
    });
  }
}

// The kernels a model's plan adds (model_ops.cu): suffix broadcasts, ReLU and tanh, the
// position-bias table (T5 buckets, ALiBi) against cpu/position_bias.cc, and attention reading it
// against the CPU's fused attention with the same table.
void test_model_ops(Report& r, DeviceAllocator& a, Stream& st, Rng& rng) {
  std::printf("model ops (broadcasts, relu, tanh, position bias, attention with bias)\n");
  for (auto [n, nb] : {std::pair<size_t, size_t>{1, 1}, {6, 3}, {17 * 33, 33}, {127 * 5, 127}, {4096 * 3, 4096}}) {
    std::vector<float> x = rng.vec(n, 4.0f), y = rng.vec(nb, 4.0f), sum(n), prod(n), relu(n), th(n);
    for (size_t i = 0; i < n; ++i) {
      sum[i] = x[i] + y[i % nb];
      prod[i] = x[i] * y[i % nb];
      relu[i] = x[i] > 0.0f ? x[i] : 0.0f;
      th[i] = std::tanh(x[i]);
    }
    auto dx = upload(a, x, st.get()), dy = upload(a, y, st.get());
    const std::string sz = " " + shape({n / nb, nb});
    check_output(r, a, st, "add_bcast_f32" + sz, sum, kTolF32, [&](float* o) { add_bcast_f32(dx.get(), dy.get(), o, n, nb, st.get()); });
    check_output(r, a, st, "mul_bcast_f32" + sz, prod, kTolF32, [&](float* o) { mul_bcast_f32(dx.get(), dy.get(), o, n, nb, st.get()); });
    check_output(r, a, st, "relu_f32 n=" + std::to_string(n), relu, Tolerance{0, 0}, [&](float* o) { relu_f32(dx.get(), o, n, st.get()); });
    check_output(r, a, st, "tanh_f32 n=" + std::to_string(n), th, kTolF32, [&](float* o) { tanh_f32(dx.get(), o, n, st.get()); });
  }
  struct BiasCase {
    bool alibi;
    size_t buckets, hq, tq, tk;
    int64_t q_offset, max_distance;
    bool bidirectional;
  };
  const BiasCase cases[] = {
      {false, 32, 4, 7, 7, 0, 128, true},     {false, 32, 4, 1, 300, 299, 128, false}, {false, 8, 3, 17, 17, 0, 20, true},
      {false, 6, 2, 5, 40, 35, 9, false},     {true, 0, 8, 33, 33, 0, 0, false},       {true, 0, 6, 1, 129, 128, 0, false},
      {false, 32, 12, 64, 64, 0, 128, true},  {false, 4, 2, 3, 3, 0, 2, true},
  };
  for (const BiasCase& c : cases) {
    std::vector<float> table = rng.vec(c.alibi ? c.hq : c.buckets * c.hq, 2.0f);
    PositionBiasSpec spec;
    spec.kind = c.alibi ? PositionBiasSpec::Kind::alibi : PositionBiasSpec::Kind::t5;
    spec.table = table.data();
    spec.buckets = c.buckets;
    spec.max_distance = c.max_distance;
    spec.bidirectional = c.bidirectional;
    const size_t len = c.tq + c.tk - 1;
    std::vector<float> want(c.hq * len);
    position_bias_table(spec, c.hq, c.tq, c.tk, c.q_offset, want.data());
    auto dtable = upload(a, table, st.get());
    PositionBiasArgs b;
    b.kind = c.alibi ? PositionBiasKind::alibi : PositionBiasKind::t5;
    b.table = dtable.get();
    b.buckets = c.buckets;
    b.max_distance = c.max_distance;
    b.bidirectional = c.bidirectional;
    const std::string what = std::string("position_bias_table_f32 ") + (c.alibi ? "alibi" : "t5") + " " +
                             shape({c.hq, c.tq, c.tk}) + (c.bidirectional ? " bidir" : "");
    // T5 buckets pick table entries: equal buckets give bit-equal values; ALiBi is one product.
    check_output(r, a, st, what, want, Tolerance{0, 0}, [&](float* o) { position_bias_table_f32(b, o, c.hq, c.tq, c.tk, c.q_offset, st.get()); });

    // Attention with that table, f32 K/V contiguous, causal unless bidirectional.
    const size_t hkv = c.hq % 2 == 0 ? c.hq / 2 : c.hq, d = 32;
    std::vector<float> q = rng.vec(c.tq * c.hq * d), k = rng.vec(c.tk * hkv * d), v = rng.vec(c.tk * hkv * d);
    AttentionProblem p{};
    p.q = q.data();
    p.k = k.data();
    p.v = v.data();
    p.rel_bias = want.data();
    std::vector<float> out(q.size());
    p.out = out.data();
    p.tq = c.tq, p.tk = c.tk, p.hq = c.hq, p.hkv = hkv, p.d = d;
    p.q_offset = c.q_offset, p.causal = !c.bidirectional, p.scale = 1.0f;
    std::vector<float> ws(d);
    for (size_t g = 0; g < hkv; ++g) kAttentionScalar.fused_f32(p, g, 0, c.tq * p.group(), ws.data());
    auto dq = upload(a, q, st.get()), dk = upload(a, k, st.get()), dv = upload(a, v, st.get());
    DeviceBuffer<float> dbias(a, want.size());
    position_bias_table_f32(b, dbias.get(), c.hq, c.tq, c.tk, c.q_offset, st.get());
    AttentionArgs args;
    args.q = dq.get();
    args.k.base = reinterpret_cast<const char*>(dk.get());
    args.v.base = reinterpret_cast<const char*>(dv.get());
    args.k.row_bytes = args.v.row_bytes = hkv * d * 4;
    args.tq = c.tq, args.tk = c.tk, args.hq = c.hq, args.hkv = hkv, args.d = d;
    args.q_offset = c.q_offset, args.causal = p.causal, args.scale = 1.0f;
    args.bias = dbias.get();
    DeviceBuffer<float> wsd(a, attention_workspace_floats(args) + 1);
    check_output(r, a, st, "attention with " + what, out, kTolF32Dot, [&](float* o) {
      args.out = o;
      attention_f32(args, wsd.get(), st.get());
    });
  }
}

// A whole decoder on the device, token by token, against the CPU kernels composed the same way:
// every kernel's contract with its neighbours (layouts, the f16 cache, positions) at once.
void test_gpt2(Report& r, DeviceAllocator& a, Stream& st) {
  std::printf("GPT-2-shaped decoder, 2 layers of 64 (kernels composed, against the CPU's)\n");
  const Gpt2Config cfg{97, 16, 64, 4, 2};
  const Gpt2Host host = make_gpt2(cfg, 11);
  for (bool q8 : {false, true}) {
    Gpt2Device dev(a, host, q8, st.get());
    std::vector<std::vector<uint16_t>> k16(cfg.layers, std::vector<uint16_t>(cfg.ctx * cfg.d)), v16 = k16;
    const int32_t ids[] = {5, 17, 96, 0, 42, 42, 7, 63, 1, 88};
    for (int32_t pos = 0; pos < 10; ++pos) {
      dev.step(ids[pos], pos);
      const std::vector<float> got = dev.read_logits();
      const std::vector<float> want = gpt2_reference_step(host, q8, ids[pos], pos, k16, v16);
      r.compare(std::string("gpt2 decode ") + (q8 ? "q8_0" : "f16") + " position " + std::to_string(pos), got.data(),
                want.data(), want.size(), kTolModel);
      if (pos == 9) {
        // The same 10 tokens in one prefill pass: GEMMs on the tensor cores (f16 activations) or
        // q8_0 in row chunks, prefill attention; the last token's logits must match.
        Gpt2Device pre(a, host, q8, st.get());
        pre.prefill(std::vector<int32_t>(ids, ids + 10));
        const std::vector<float> pg = pre.read_logits();
        r.compare(std::string("gpt2 prefill of 10 ") + (q8 ? "q8_0" : "f16") + ", last logits", pg.data(), want.data(),
                  want.size(), q8 ? kTolModel : kTolModelHalfActivations);
      }
    }
  }
}

void test_runtime(Report& r, DeviceAllocator& a, Stream& st) {
  std::printf("runtime: allocator, errors\n");
  void* p = a.allocate(1000);
  const size_t live = a.bytes_live();
  a.release(p);
  void* q = a.allocate(900);  // same 1024-byte class: the cached block comes back
  r.expect("allocator reuses a cached block of the same size class", q == p && live == 1024);
  a.release(q);
  r.expect("allocator counts cached bytes", a.bytes_cached() >= 1024 && a.bytes_live() == 0);
  const DeviceInfo info = device_info(0);
  try {
    a.allocate(info.total_memory * 2);
    r.expect("cudaMalloc of twice the device memory throws", false);
  } catch (const CudaError& e) {
    r.expect("cudaMalloc of twice the device memory throws CudaError(out of memory) naming the call",
             e.out_of_memory() && std::string(e.what()).find("cudaMalloc") != std::string::npos, e.what());
  }
  void* after = a.allocate(1 << 20);
  r.expect("the allocator works after an out-of-memory error", after != nullptr);
  a.release(after);
  try {
    ATTNODE_CUDA_CHECK(cudaSetDevice(1 << 20));
    r.expect("a failed CUDA call throws", false);
  } catch (const CudaError& e) {
    r.expect("a failed CUDA call throws CudaError naming the call", std::string(e.what()).find("cudaSetDevice(1 << 20)") != std::string::npos, e.what());
  }
  ATTNODE_CUDA_CHECK(cudaSetDevice(0));
  try {
    gemv_f32(nullptr, nullptr, nullptr, nullptr, kGemvMaxRows + 1, 4, 4, st.get());
    r.expect("gemv refuses more rows than it takes", false);
  } catch (const std::invalid_argument& e) {
    r.expect("gemv refuses more rows than it takes", true);
  }
  a.trim();
  r.expect("trim frees the cache", a.bytes_cached() == 0);
}

// Last, because it poisons the context: a kernel that faults (attention reading K through a bad
// pointer) must fail its synchronization with a CudaError, and every later use must fail at once
// with the first error's reason; the process lives on to report.
void test_device_loss(Report& r, DeviceAllocator& a, Stream& st) {
  std::printf("runtime: a faulting kernel (run last)\n");
  DeviceBuffer<float> q(a, 64), out(a, 64);
  AttentionArgs args;
  args.q = q.get();
  args.k.base = args.v.base = reinterpret_cast<const char*>(uintptr_t{16});
  args.k.row_bytes = args.v.row_bytes = 64 * 4;
  args.out = out.get();
  args.tq = 1, args.tk = 8, args.hq = 1, args.hkv = 1, args.d = 64;
  std::string first;
  try {
    attention_f32(args, nullptr, st.get());
    st.synchronize();
    r.expect("a faulting kernel fails its synchronization", false);
    return;
  } catch (const CudaError& e) {
    first = e.what();
    r.expect("a faulting kernel fails its synchronization with a CudaError naming the call",
             first.find("cudaStreamSynchronize") != std::string::npos, first);
  }
  try {
    a.allocate(256);
    r.expect("after a fault, allocation fails with the first error", false);
  } catch (const CudaError& e) {
    r.expect("after a fault, allocation fails with the first error", std::string(e.what()).find(first) != std::string::npos,
             e.what());
  }
}

}  // namespace
}  // namespace attnode::cuda::test

int main(int argc, char** argv) {
  using namespace attnode::cuda;
  using namespace attnode::cuda::test;
  bool require = false;
  for (int i = 1; i < argc; ++i) require = require || std::strcmp(argv[i], "--require-device") == 0;
  std::string why;
  if (device_count(&why) == 0) {
    std::printf("SKIP: no CUDA device (%s)\n", why.c_str());
    return require ? 2 : 0;
  }
  const DeviceInfo info = device_info(0);
  std::printf("device 0: %s, sm_%d%d, %d SMs, %.1f GiB\n", info.name.c_str(), info.cc_major, info.cc_minor, info.sms,
              info.total_memory / 1073741824.0);
  Report r;
  try {
    DeviceAllocator alloc(0);
    Stream st;
    Rng rng(20261204);
    test_runtime(r, alloc, st);
    test_elementwise(r, alloc, st, rng);
    test_rows(r, alloc, st, rng);
    test_rope_embedding(r, alloc, st, rng);
    test_gemm(r, alloc, st, rng);
    test_q8_0(r, alloc, st, rng);
    test_kquant(r, alloc, st, rng);
    test_linear_and_rows(r, alloc, st, rng);
    test_attention(r, alloc, st, rng);
    test_model_ops(r, alloc, st, rng);
    test_gpt2(r, alloc, st);
    if (std::getenv("ATTNODE_CUDA_TEST_NO_FAULT") == nullptr) test_device_loss(r, alloc, st);
  } catch (const std::exception& e) {
    std::printf("FAIL: exception: %s\n", e.what());
    ++r.failures;
  }
  std::printf("%d checks, %d failed\n", r.checks, r.failures);
  return r.failures == 0 ? 0 : 1;
}
