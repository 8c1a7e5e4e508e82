// calibrateInt8: this machine's int8 dot-product ceiling (GOPS, multiply-add counted as 2) over
// every pool thread, for benchmarks to report against. Native-only; not a Backend op.
#include <algorithm>
#include <chrono>
#include <vector>

#include "../cpu/quant.h"
#include "../op.h"

namespace attnode {
namespace {

using Clock = std::chrono::steady_clock;

// iterations: rounds per thread; passes: best of. out: (1) f32 receives GOPS.
OpRun prepare_calibrate_int8(Args& args) {
  const int64_t iterations = args.integer("iterations", 20000000, 1, int64_t{1} << 40);
  const int64_t passes = args.integer("passes", 3, 1, 1000);
  const TensorView out = args.tensor("out", {DType::f32});
  args.expect_shape("out", out, {1});
  float* po = out.as<float>();
  return [=](const OpEnv& env) {
    const QuantKernels& k = quant_kernels(env.isa);
    const double ops_per_thread = static_cast<double>(iterations) * kQuantPeakChains * static_cast<double>(k.dot_macs) * 2.0;
    double best = 0.0;
    for (int64_t r = 0; r < passes; ++r) {
      std::vector<double> secs(static_cast<size_t>(env.pool->size()), 0.0);
      volatile int32_t sink = 0;
      env.pool->run_on_all([&](int t, int) {
        const Clock::time_point t0 = Clock::now();
        const int32_t v = k.dot_peak_loop(static_cast<size_t>(iterations));
        secs[static_cast<size_t>(t)] = std::chrono::duration<double>(Clock::now() - t0).count();
        if (v == 123456789) sink = v;
      });
      const double slowest = *std::max_element(secs.begin(), secs.end());
      best = std::max(best, ops_per_thread * static_cast<double>(secs.size()) / slowest / 1e9);
    }
    po[0] = static_cast<float>(best);
  };
}

const OpRegistrar kCalibrateInt8("calibrateInt8", prepare_calibrate_int8);

}  // namespace
}  // namespace attnode
