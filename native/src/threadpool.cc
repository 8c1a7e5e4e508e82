// ThreadPool: a fork-join pool with a generation counter. Between jobs a worker first spins
// for a short while (a forward pass runs hundreds of ops back to back, and waking a sleeping
// thread costs tens of microseconds each time), then sleeps on a condition variable, so an idle
// addon costs no CPU.
#include "threadpool.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace attnode {

namespace {

// How long a thread spins for the next job (worker) or for the workers to finish (caller)
// before it blocks.
constexpr auto kSpin = std::chrono::microseconds(50);

// One wait step: a pause, and every few steps a yield, so that when the cores are
// oversubscribed (pool threads plus the process's JavaScript threads) a waiting thread hands
// its core to whichever thread has work instead of burning it.
inline void relax(int i) {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
  if ((i & 7) == 7) std::this_thread::yield();
}

// Spins until done() or kSpin has passed; true if done() became true.
template <class Done>
bool spin_until(const Done& done) {
  const auto end = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      relax(i);
    }
    if (std::chrono::steady_clock::now() >= end) return done();
  }
}

}  // namespace

void lower_compute_thread_priority() {
#if defined(__linux__)
  // On Linux the "process" of setpriority is a thread id: this changes the calling thread only.
  constexpr int kNiceStep = 4;
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, tid);
  if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(19, nice + kNiceStep));
#endif
}

int lower_thread_priority(int step) {
#if defined(__linux__)
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, tid);
  if (errno != 0) return -100;
  const int want = std::min(19, nice + step);
  if (setpriority(PRIO_PROCESS, tid, want) != 0) return nice;
  return want;
#else
  (void)step;
  return -100;
#endif
}

ThreadPool::ThreadPool(int threads) {
  const int extra = std::max(0, threads - 1);
  workers_.reserve(static_cast<size_t>(extra));
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] {
      lower_compute_thread_priority();
      worker_loop(i + 1);
    });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto ready = [&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(ready)) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, ready);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    run_job(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Taking the lock orders this notify after the caller's check in done_.wait.
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::run_job(int index) {
  try {
    job_(index, size());
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::run_on_all(const std::function<void(int, int)>& fn) {
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  if (workers_.empty()) {
    fn(0, 1);
    return;
  }
  {
    // job_ and pending_ are published by the release increment of generation_, which spinning
    // workers read with acquire; sleeping ones are woken under the lock.
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = fn;
    error_ = nullptr;
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_job(0);
  auto finished = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, finished);
  }
  job_ = nullptr;
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void ThreadPool::parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  const size_t threads = static_cast<size_t>(size());
  if (threads == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  // Chunks: a few per thread for balance, never smaller than the grain.
  size_t chunk = std::max(grain, (n + threads * 4 - 1) / (threads * 4));
  const size_t chunks = (n + chunk - 1) / chunk;
  std::atomic<size_t> next{0};
  run_on_all([&](int, int) {
    for (;;) {
      const size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const size_t begin = c * chunk;
      fn(begin, std::min(n, begin + chunk));
    }
  });
}

}  // namespace attnode
