// calibrate: this machine's own ceilings for benchmarks to report against: the FMA peak
// (register-only FMA chains on every pool thread) and DRAM read bandwidth (streaming a buffer
// far larger than the last-level cache). Native-only; not part of the Backend op contract.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

#include "../cpu/gemm.h"
#include "../op.h"
#include "../weight_buffer.h"

namespace attnode {
namespace {

// Seconds on the wall clock, or on the calling thread's CPU clock: on a machine shared with
// other processes the CPU clock leaves out the time the thread was not running.
double now_seconds(bool cpu) {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
#endif
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// kind 'fma': GFLOP/s over all pool threads; kind 'read': GB/s over all pool threads.
// iterations: FMA rounds per thread ('fma'); bytes: buffer size ('read'); passes: best of;
// clock: 'wall' (default) or 'cpu' (each thread's own CPU time; the slowest thread counts).
// out: (1) f32 receives the rate.
OpRun prepare_calibrate(Args& args) {
  const std::string kind = args.choice("kind", "fma", {"fma", "read"});
  const int64_t iterations = args.integer("iterations", 20000000, 1, int64_t{1} << 40);
  const int64_t bytes = args.integer("bytes", int64_t{256} << 20, 4096, int64_t{16} << 30);
  const int64_t passes = args.integer("passes", 3, 1, 1000);
  const bool cpu = args.choice("clock", "wall", {"wall", "cpu"}) == "cpu";
  const TensorView out = args.tensor("out", {DType::f32});
  args.expect_shape("out", out, {1});
  float* po = out.as<float>();
  return [=](const OpEnv& env) {
    const GemmKernels& kt = gemm_kernels(env.isa);
    double best = 0.0;
    if (kind == "fma") {
      const size_t iters = static_cast<size_t>(iterations);
      const double flops_per_thread = static_cast<double>(iters) * kGemmCalibrationChains * kt.fma_lanes * 2.0;
      for (int64_t r = 0; r < passes; ++r) {
        std::vector<double> secs(static_cast<size_t>(env.pool->size()), 0.0);
        volatile float sink = 0.0f;
        env.pool->run_on_all([&](int t, int) {
          const double t0 = now_seconds(cpu);
          const float v = kt.fma_loop(iters);
          secs[static_cast<size_t>(t)] = now_seconds(cpu) - t0;
          if (v == -1.0f) sink = v;
        });
        const double slowest = *std::max_element(secs.begin(), secs.end());
        best = std::max(best, flops_per_thread * static_cast<double>(secs.size()) / slowest / 1e9);
      }
    } else {
      const size_t n = static_cast<size_t>(bytes) / sizeof(float);
      // The storage packed weights get (huge pages where offered), so the figure is the rate a
      // weight can be read at. Written once by the threads that read it, so every page is
      // resident before timing.
      WeightVector<float> buf(n);
      env.pool->run_on_all([&](int t, int c) {
        const size_t s = n * static_cast<size_t>(t) / static_cast<size_t>(c);
        const size_t e = n * static_cast<size_t>(t + 1) / static_cast<size_t>(c);
        std::fill(buf.begin() + static_cast<std::ptrdiff_t>(s), buf.begin() + static_cast<std::ptrdiff_t>(e), 1.0f);
      });
      volatile float sink = 0.0f;
      for (int64_t r = 0; r < passes; ++r) {
        std::vector<double> secs(static_cast<size_t>(env.pool->size()), 0.0);
        const double w0 = now_seconds(false);
        env.pool->run_on_all([&](int t, int c) {
          const size_t s = n * static_cast<size_t>(t) / static_cast<size_t>(c);
          const size_t e = n * static_cast<size_t>(t + 1) / static_cast<size_t>(c);
          const double t0 = now_seconds(cpu);
          const float v = kt.read_sum(buf.data() + s, e - s);
          secs[static_cast<size_t>(t)] = now_seconds(cpu) - t0;
          if (v == -1.0f) sink = v;
        });
        const double elapsed = cpu ? *std::max_element(secs.begin(), secs.end()) : now_seconds(false) - w0;
        best = std::max(best, static_cast<double>(n * sizeof(float)) / elapsed / 1e9);
      }
    }
    po[0] = static_cast<float>(best);
  };
}

const OpRegistrar kCalibrate("calibrate", prepare_calibrate);

}  // namespace
}  // namespace attnode
