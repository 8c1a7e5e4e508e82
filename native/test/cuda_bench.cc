// A short benchmark of the CUDA kernels (no Node): GEMM TFLOP/s against the tensor-core bf16 peak
// on 4096 squares, GEMV and q8_0 GEMV GB/s against DRAM bandwidth on a weight larger than L2, and
// decode attention over a 4096-row f16 cache, and decode tokens/s of a GPT-2-124M-shaped model
// (random weights) in f16 and q8_0. Every result is checked before it is timed.
// Peaks come from the device's clock, SM count and memory bus (runtime.cu); override them with
// ATTNODE_PEAK_BF16_TFLOPS / ATTNODE_PEAK_DRAM_GBS. Prints one line per kernel; with --json PATH,
// also writes the figures there.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/quant_format.h"
#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "gpt2_device.h"
#include "half.h"

namespace attnode::cuda::test {
namespace {

// Milliseconds per call of fn, after warmup, timed with events on the stream.
template <class Fn>
double time_ms(Stream& st, int iters, Fn fn) {
  for (int i = 0; i < 3; ++i) fn();
  cudaEvent_t e0, e1;
  ATTNODE_CUDA_CHECK(cudaEventCreate(&e0));
  ATTNODE_CUDA_CHECK(cudaEventCreate(&e1));
  ATTNODE_CUDA_CHECK(cudaEventRecord(e0, st.get()));
  for (int i = 0; i < iters; ++i) fn();
  ATTNODE_CUDA_CHECK(cudaEventRecord(e1, st.get()));
  ATTNODE_CUDA_CHECK(cudaEventSynchronize(e1));
  float ms = 0;
  ATTNODE_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return ms / iters;
}

double env_or(const char* name, double v) {
  const char* s = std::getenv(name);
  return s && *s ? std::atof(s) : v;
}

struct Result {
  std::string name, unit;
  double ms, value, peak;
  bool checked;
};

// Sampled entries of c = a . w^T (halves widened) against double sums; true when all agree.
bool spot_check(const std::vector<uint16_t>& a, const std::vector<uint16_t>& w, const std::vector<float>& c, size_t m,
                size_t n, size_t k, Half t, Rng& rng, int samples) {
  for (int s = 0; s < samples; ++s) {
    const size_t i = rng.next() % m, j = rng.next() % n;
    double ref = 0;
    for (size_t p = 0; p < k; ++p) {
      const float x = t == Half::bf16 ? bf16_to_f32(a[i * k + p]) : f16_to_f32(a[i * k + p]);
      const float y = t == Half::bf16 ? bf16_to_f32(w[j * k + p]) : f16_to_f32(w[j * k + p]);
      ref += static_cast<double>(x) * y;
    }
    if (std::fabs(c[i * n + j] - ref) > kTolTensorCore.atol * std::sqrt(static_cast<double>(k)) + kTolTensorCore.rtol * std::fabs(ref)) {
      std::printf("  check failed at (%zu, %zu): got %.6g, want %.6g\n", i, j, static_cast<double>(c[i * n + j]), ref);
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace attnode::cuda::test

int main(int argc, char** argv) {
  using namespace attnode;
  using namespace attnode::cuda;
  using namespace attnode::cuda::test;
  const char* json = nullptr;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0) json = argv[i + 1];
  std::string why;
  if (device_count(&why) == 0) {
    std::printf("SKIP: no CUDA device (%s)\n", why.c_str());
    return 2;
  }
  const DeviceInfo info = device_info(0);
  const double peak_tf = env_or("ATTNODE_PEAK_BF16_TFLOPS", peak_bf16_tflops(info));
  const double peak_gbs = env_or("ATTNODE_PEAK_DRAM_GBS", peak_dram_gbs(info));
  std::printf("device 0: %s, sm_%d%d, %d SMs at %.0f MHz, memory %.0f MHz x %d bits\n", info.name.c_str(), info.cc_major,
              info.cc_minor, info.sms, info.clock_khz / 1e3, info.memory_clock_khz / 1e3, info.memory_bus_bits);
  std::printf("peaks: bf16 tensor cores %.0f TFLOP/s (dense), DRAM %.0f GB/s\n", peak_tf, peak_gbs);
  std::vector<Result> results;
  bool all_ok = true;
  try {
    DeviceAllocator alloc(0);
    Stream st;
    Rng rng(7);
    // ---- GEMM 4096^3, f16 and bf16 ----
    {
      const size_t m = 4096, n = 4096, k = 4096;
      for (Half t : {Half::bf16, Half::f16}) {
        std::vector<float> af = rng.vec(m * k), wf = rng.vec(n * k);
        std::vector<uint16_t> a(m * k), w(n * k);
        for (size_t i = 0; i < a.size(); ++i) a[i] = t == Half::bf16 ? f32_to_bf16(af[i]) : f32_to_f16(af[i]);
        for (size_t i = 0; i < w.size(); ++i) w[i] = t == Half::bf16 ? f32_to_bf16(wf[i]) : f32_to_f16(wf[i]);
        auto da = upload(alloc, a, st.get()), dw = upload(alloc, w, st.get());
        DeviceBuffer<float> dc(alloc, m * n);
        gemm_half(da.get(), dw.get(), nullptr, dc.get(), m, n, k, t, st.get());
        std::vector<float> c(m * n);
        copy_to_host(c.data(), dc.get(), c.size() * 4, st.get());
        const bool ok = spot_check(a, w, c, m, n, k, t, rng, 256);
        all_ok = all_ok && ok;
        const double ms = time_ms(st, 20, [&] { gemm_half(da.get(), dw.get(), nullptr, dc.get(), m, n, k, t, st.get()); });
        const double tf = 2.0 * m * n * k / (ms * 1e-3) / 1e12;
        results.push_back({std::string("gemm_half ") + (t == Half::bf16 ? "bf16" : "f16") + " 4096x4096x4096", "TFLOP/s", ms, tf,
                           peak_tf, ok});
      }
    }
    // ---- GEMV: a 16384 x 8192 weight (256 MiB in halves), well past any L2 ----
    {
      const size_t n = 16384, k = 8192;
      std::vector<float> x = rng.vec(k), wf = rng.vec(n * k);
      auto dx = upload(alloc, x, st.get());
      DeviceBuffer<float> dc(alloc, n);
      for (Half t : {Half::bf16, Half::f16}) {
        std::vector<uint16_t> w(n * k);
        for (size_t i = 0; i < w.size(); ++i) w[i] = t == Half::bf16 ? f32_to_bf16(wf[i]) : f32_to_f16(wf[i]);
        auto dw = upload(alloc, w, st.get());
        gemv_half(dx.get(), dw.get(), nullptr, dc.get(), 1, n, k, t, st.get());
        std::vector<float> c(n);
        copy_to_host(c.data(), dc.get(), n * 4, st.get());
        bool ok = true;
        for (int s = 0; s < 64 && ok; ++s) {
          const size_t j = rng.next() % n;
          double ref = 0;
          for (size_t p = 0; p < k; ++p) ref += static_cast<double>(x[p]) * (t == Half::bf16 ? bf16_to_f32(w[j * k + p]) : f16_to_f32(w[j * k + p]));
          ok = std::fabs(c[j] - ref) <= kTolF32Dot.atol * 10 + kTolF32Dot.rtol * std::fabs(ref);
        }
        all_ok = all_ok && ok;
        const double ms = time_ms(st, 50, [&] { gemv_half(dx.get(), dw.get(), nullptr, dc.get(), 1, n, k, t, st.get()); });
        results.push_back({std::string("gemv_half ") + (t == Half::bf16 ? "bf16" : "f16") + " 16384x8192, 1 row", "GB/s", ms,
                           n * k * 2.0 / (ms * 1e-3) / 1e9, peak_gbs, ok});
      }
      // q8_0: 34 bytes per 32 weights.
      std::vector<uint8_t> blocks(n * k / 32 * 34);
      for (size_t j = 0; j < n; ++j) quantize_row_q8_0(wf.data() + j * k, k, blocks.data() + j * k / 32 * 34);
      std::vector<int8_t> wq(n * k);
      std::vector<uint16_t> wd(n * k / 32);
      q8_0_split_blocks(blocks.data(), n, k, wq.data(), wd.data());
      auto dwq = upload(alloc, wq, st.get());
      auto dwd = upload(alloc, wd, st.get());
      DeviceBuffer<int8_t> xq(alloc, k);
      DeviceBuffer<float> xs(alloc, k / 32);
      const Q8_0Device wdev{dwq.get(), dwd.get(), n, k};
      quantize_rows_q8(dx.get(), xq.get(), xs.get(), 1, k, st.get());
      gemv_q8_0(wdev, xq.get(), xs.get(), nullptr, dc.get(), 1, st.get());
      std::vector<float> c(n);
      copy_to_host(c.data(), dc.get(), n * 4, st.get());
      // The reference from the CPU's own quantized activations (quant_format.h), so only the
      // summation order differs.
      std::vector<int8_t> hq(k);
      std::vector<float> hs(k / 32);
      std::vector<int32_t> hsum(k / 32);
      quantize_activations(x.data(), 1, k, k, 32, hq.data(), hs.data(), hsum.data());
      bool ok = true;
      for (int s = 0; s < 64 && ok; ++s) {
        const size_t j = rng.next() % n;
        double ref = 0;
        for (size_t b = 0; b < k / 32; ++b) {
          int32_t dot = 0;
          for (size_t p = 0; p < 32; ++p) dot += int32_t{wq[j * k + b * 32 + p]} * hq[b * 32 + p];
          ref += static_cast<double>(f16_to_f32(wd[j * k / 32 + b]) * hs[b]) * dot;
        }
        ok = std::fabs(c[j] - ref) <= kTolInt8.atol + kTolInt8.rtol * std::fabs(ref);
        if (!ok) std::printf("  check failed at column %zu: got %.6g, want %.6g\n", j, static_cast<double>(c[j]), ref);
      }
      all_ok = all_ok && ok;
      const double ms = time_ms(st, 50, [&] {
        quantize_rows_q8(dx.get(), xq.get(), xs.get(), 1, k, st.get());
        gemv_q8_0(wdev, xq.get(), xs.get(), nullptr, dc.get(), 1, st.get());
      });
      results.push_back({"gemv_q8_0 16384x8192, 1 row (with quantize)", "GB/s", ms, n * k / 32 * 34.0 / (ms * 1e-3) / 1e9,
                         peak_gbs, ok});
    }
    // ---- decode attention: 1 token, 32 query heads over 8 kv heads of 128, 4096 f16 rows ----
    {
      const size_t tk = 4096, hq = 32, hkv = 8, d = 128;
      std::vector<float> q = rng.vec(hq * d);
      std::vector<uint16_t> kv(tk * hkv * d);
      for (auto& h : kv) h = f32_to_f16(rng.uniform());
      auto dq = upload(alloc, q, st.get());
      auto dk = upload(alloc, kv, st.get()), dv = upload(alloc, kv, st.get());
      DeviceBuffer<float> out(alloc, hq * d);
      AttentionArgs args;
      args.q = dq.get();
      args.k.base = reinterpret_cast<const char*>(dk.get());
      args.v.base = reinterpret_cast<const char*>(dv.get());
      args.k.row_bytes = args.v.row_bytes = hkv * d * 2;
      args.kv_f16 = true;
      args.out = out.get();
      args.tq = 1, args.tk = tk, args.hq = hq, args.hkv = hkv, args.d = d;
      args.q_offset = tk - 1, args.causal = true, args.scale = 1.0f / std::sqrt(static_cast<float>(d));
      DeviceBuffer<float> ws(alloc, attention_workspace_floats(args) + 1);
      attention_f32(args, ws.get(), st.get());
      std::vector<float> got(hq * d);
      copy_to_host(got.data(), out.get(), got.size() * 4, st.get());
      bool ok = true;
      for (float v : got) ok = ok && std::isfinite(v) && std::fabs(v) <= 1.0f;  // a convex mix of values in [-1, 1]
      all_ok = all_ok && ok;
      const double ms = time_ms(st, 50, [&] { attention_f32(args, ws.get(), st.get()); });
      results.push_back({"attention decode f16 K/V 4096 rows, 32/8 heads of 128", "GB/s", ms,
                         2.0 * tk * hkv * d * 2 / (ms * 1e-3) / 1e9, peak_gbs, ok});
    }
    // ---- GPT-2 124M shape: 12 layers of 768, 12 heads, vocabulary 50257, tied f16 token table ----
    {
      const Gpt2Config cfg{50257, 1024, 768, 12, 12};
      const Gpt2Host host = make_gpt2(cfg, 124);
      for (bool q8 : {false, true}) {
        Gpt2Device dev(alloc, host, q8, st.get());
        dev.step(50, 0);
        const std::vector<float> got = dev.read_logits();
        std::vector<std::vector<uint16_t>> k16(cfg.layers, std::vector<uint16_t>(cfg.ctx * cfg.d)), v16 = k16;
        const std::vector<float> want = gpt2_reference_step(host, q8, 50, 0, k16, v16);
        Report check;
        const bool ok = check.compare(std::string("gpt2-124M ") + (q8 ? "q8_0" : "f16") + " first-token logits", got.data(),
                                      want.data(), want.size(), kTolModel);
        all_ok = all_ok && ok;
        int32_t pos = 1;
        const int kSteps = 128;
        for (int i = 0; i < 8; ++i, ++pos) {
          dev.step(pos % 50257, pos);
          st.synchronize();
        }
        cudaEvent_t e0, e1;
        ATTNODE_CUDA_CHECK(cudaEventCreate(&e0));
        ATTNODE_CUDA_CHECK(cudaEventCreate(&e1));
        ATTNODE_CUDA_CHECK(cudaEventRecord(e0, st.get()));
        for (int i = 0; i < kSteps; ++i, ++pos) {
          dev.step((pos * 7) % 50257, pos);
          st.synchronize();  // one synchronization per token, as a generation loop has
        }
        ATTNODE_CUDA_CHECK(cudaEventRecord(e1, st.get()));
        ATTNODE_CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0;
        ATTNODE_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        const double per_token = ms / kSteps;
        results.push_back({std::string("gpt2-124M decode ") + (q8 ? "q8_0" : "f16") + " (tokens 9..136), tokens/s", "tok/s",
                           per_token, 1000.0 / per_token, 0, ok});
        results.push_back({std::string("gpt2-124M decode ") + (q8 ? "q8_0" : "f16") + " weight stream", "GB/s", per_token,
                           dev.weight_bytes() / (per_token * 1e-3) / 1e9, peak_gbs, ok});
        // Prefill of 512 tokens in one pass (prefill() synchronizes at its end).
        std::vector<int32_t> prompt(512);
        for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 131) % cfg.vocab);
        dev.prefill(prompt);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 3; ++i) dev.prefill(prompt);
        const double pms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 3;
        results.push_back({std::string("gpt2-124M prefill ") + (q8 ? "q8_0" : "f16") + " of 512 tokens, tokens/s", "tok/s", pms,
                           512.0 / (pms * 1e-3), 0, ok});
      }
    }
  } catch (const std::exception& e) {
    std::printf("FAIL: exception: %s\n", e.what());
    return 1;
  }
  FILE* jf = json ? std::fopen(json, "w") : nullptr;
  if (jf) std::fprintf(jf, "{\"device\": \"%s\", \"peak_bf16_tflops\": %.1f, \"peak_dram_gbs\": %.1f, \"results\": [\n", info.name.c_str(), peak_tf, peak_gbs);
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    const std::string pct = r.peak > 0 ? std::to_string(100.0 * r.value / r.peak).substr(0, 5) + "% of peak" : "";
    std::printf("%-58s %9.3f ms %9.1f %-8s %s%s\n", r.name.c_str(), r.ms, r.value, r.unit.c_str(), pct.c_str(),
                r.checked ? "" : "  (RESULT CHECK FAILED)");
    if (jf)
      std::fprintf(jf, "  {\"name\": \"%s\", \"ms\": %.4f, \"%s\": %.2f, \"percent_of_peak\": %.1f, \"checked\": %s}%s\n",
                   r.name.c_str(), r.ms, r.unit == "GB/s" ? "gbs" : r.unit == "tok/s" ? "tokens_per_s" : "tflops", r.value,
                   r.peak > 0 ? 100.0 * r.value / r.peak : 0.0,
                   r.checked ? "true" : "false", i + 1 < results.size() ? "," : "");
  }
  if (jf) {
    std::fprintf(jf, "]}\n");
    std::fclose(jf);
  }
  return all_ok ? 0 : 1;
}
