// The addon's own dispatch thread for async ops: jobs run in order on it (fanning out on the
// ThreadPool) and settle their Promise on the JS thread through a thread-safe function, so long
// kernels never occupy libuv's small shared pool (which fs, dns and crypto need).
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "staging.h"

namespace attnode {

// Kernel runs of one environment, by the thread they ran on.
struct KernelThreadCounts {
  uint64_t js_thread;      // the environment's JavaScript thread (the sync op() path)
  uint64_t other_threads;  // the dispatch thread (every async path: ops, batches, compiled passes)
};

class AsyncRunner {
 public:
  AsyncRunner();
  ~AsyncRunner();
  AsyncRunner(const AsyncRunner&) = delete;
  AsyncRunner& operator=(const AsyncRunner&) = delete;

  // Queues `work` (run on the dispatch thread; may throw std::exception) and returns a Promise
  // that resolves with undefined or rejects with an Error carrying the exception's message.
  // `keep_alive` holds the JS values the work reads until it has settled. `staging`, when given,
  // holds the native copies of detachable buffers the work uses; its written ranges are copied
  // back on the JS thread before the Promise resolves (it rejects when an output was detached).
  Napi::Promise submit(Napi::Env env, std::function<void()> work, std::vector<Napi::Reference<Napi::Value>> keep_alive,
                       std::shared_ptr<AsyncStaging> staging = nullptr);

  // Counts one kernel run on the calling thread, compared with the JavaScript thread that made
  // this runner: what lets a test show, rather than time, that async work left that thread.
  void note_kernel_run();
  KernelThreadCounts kernel_thread_counts() const;

 private:
  struct Job;
  void loop();

  const std::thread::id js_thread_ = std::this_thread::get_id();
  std::atomic<uint64_t> on_js_thread_{0};
  std::atomic<uint64_t> on_other_threads_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stop_ = false;
  std::thread thread_;  // last: started only after every member above exists
};

}  // namespace attnode
