// Helpers of the CUDA kernel tests and benchmark (no Node): a seeded RNG, tolerances, device
// arrays with guard regions, comparison against a reference. Host C++ only.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/runtime.h"

namespace attnode::cuda::test {

// |got - ref| <= atol + rtol * |ref| (llm.c's form), per dtype of the computation.
struct Tolerance {
  double atol, rtol;
};
// f32 kernels against the scalar f32 reference: only the summation order differs.
constexpr Tolerance kTolF32{1e-5, 1e-4};
// Dot products over up to a few thousand f32 terms of magnitude <= 1 (GEMM, GEMV, attention)
// against a double reference: f32 accumulation in another order, error ~ eps * sqrt(K) * |sum|.
// A wrong index or a lost tile is off by O(0.1) or more.
constexpr Tolerance kTolF32Dot{1e-3, 2e-4};
// Half-precision inputs: both sides read the same rounded halves (their products are exact in
// f32), so only the accumulation differs; half-precision K/V in attention likewise.
constexpr Tolerance kTolF16{1e-3, 1e-3};
constexpr Tolerance kTolBf16{1e-3, 1e-3};
// Tensor-core accumulation (mma.sync with f32 accumulators) does not round every addition as
// IEEE f32 does; over K = 1000 terms the difference reaches ~1e-4 of the sum.
constexpr Tolerance kTolTensorCore{2e-3, 2e-3};
// int8: exact integer dots; the f32 scale products and their sum (|sum| up to ~50 here) differ
// in order only.
constexpr Tolerance kTolInt8{2e-3, 1e-4};
// A whole model's logits: the per-kernel differences above, carried through every layer (and,
// for q8_0, an activation that lands on the other side of a rounding step moves one quant).
constexpr Tolerance kTolModel{5e-3, 5e-3};
// The same with activations rounded to f16 for the tensor cores (prefill GEMMs) where the
// reference keeps them f32: 2^-11 relative per activation, through every layer.
constexpr Tolerance kTolModelHalfActivations{2e-2, 2e-2};
// Rotary angles up to a few thousand radians: cosf/sinf on the device and std::cos/sin on the
// host differ by a few ulps of the angle.
constexpr Tolerance kTolRope{2e-4, 2e-4};

// xorshift64*: the same stream on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [-1, 1).
  float uniform() { return static_cast<float>(static_cast<double>(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }
  std::vector<float> vec(size_t n, float scale = 1.0f) {
    std::vector<float> v(n);
    for (auto& x : v) x = uniform() * scale;
    return v;
  }

 private:
  uint64_t s_;
};

// Counts checks and failures; prints one line per check.
struct Report {
  int checks = 0, failures = 0;
  // Compares n values; NaN must meet NaN and Inf the same Inf.
  bool compare(const std::string& what, const float* got, const float* ref, size_t n, Tolerance tol) {
    ++checks;
    double worst = 0.0;
    size_t bad = n, bad_count = 0;
    for (size_t i = 0; i < n; ++i) {
      const double g = got[i], r = ref[i];
      bool ok;
      if (std::isnan(r) || std::isnan(g)) ok = std::isnan(r) && std::isnan(g);
      else if (std::isinf(r) || std::isinf(g)) ok = g == r;
      else {
        const double err = std::fabs(g - r);
        worst = std::fmax(worst, err / (tol.atol + tol.rtol * std::fabs(r)));
        ok = err <= tol.atol + tol.rtol * std::fabs(r);
      }
      if (!ok) {
        if (bad == n) bad = i;
        ++bad_count;
      }
    }
    if (bad_count == 0) {
      std::printf("  ok    %-58s worst %.2f of tolerance\n", what.c_str(), worst);
      return true;
    }
    ++failures;
    std::printf("  FAIL  %-58s %zu of %zu values off; first at %zu: got %.9g, want %.9g\n", what.c_str(), bad_count, n,
                bad, static_cast<double>(got[bad]), static_cast<double>(ref[bad]));
    return false;
  }
  bool expect(const std::string& what, bool ok, const std::string& detail = "") {
    ++checks;
    if (ok) {
      std::printf("  ok    %s\n", what.c_str());
    } else {
      ++failures;
      std::printf("  FAIL  %s %s\n", what.c_str(), detail.c_str());
    }
    return ok;
  }
};

// A device array of T with kGuard elements of a sentinel on each side: a kernel writing outside
// its output shows up as a changed guard (ggml's test-backend-ops does the same with bytes).
template <class T>
class Guarded {
 public:
  static constexpr size_t kGuard = 64;
  Guarded(DeviceAllocator& a, size_t n, cudaStream_t s) : n_(n), buf_(a, n + 2 * kGuard), s_(s) {
    std::vector<T> host(n + 2 * kGuard);
    std::memset(static_cast<void*>(host.data()), 0x5b, host.size() * sizeof(T));
    copy_to_device(buf_.get(), host.data(), host.size() * sizeof(T), s);
  }
  T* get() const { return buf_.get() + kGuard; }
  // The n values; *guards_ok false when a guard changed.
  std::vector<T> read(bool* guards_ok) const {
    std::vector<T> host(n_ + 2 * kGuard);
    copy_to_host(host.data(), buf_.get(), host.size() * sizeof(T), s_);
    std::vector<unsigned char> sentinel(kGuard * sizeof(T), 0x5b);
    *guards_ok = std::memcmp(host.data(), sentinel.data(), sentinel.size()) == 0 &&
                 std::memcmp(host.data() + kGuard + n_, sentinel.data(), sentinel.size()) == 0;
    return std::vector<T>(host.begin() + kGuard, host.begin() + kGuard + n_);
  }

 private:
  size_t n_;
  DeviceBuffer<T> buf_;
  cudaStream_t s_;
};

// A device copy of host data.
template <class T>
DeviceBuffer<T> upload(DeviceAllocator& a, const std::vector<T>& host, cudaStream_t s) {
  DeviceBuffer<T> d(a, host.size());
  if (!host.empty()) copy_to_device(d.get(), host.data(), host.size() * sizeof(T), s);
  return d;
}

}  // namespace attnode::cuda::test
