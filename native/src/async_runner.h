// The addon's own dispatch thread for async ops: jobs run in order on it (fanning out on the
// ThreadPool) and settle their Promise on the JS thread through a thread-safe function, so long
// kernels never occupy libuv's small shared pool (which fs, dns and crypto need).
#pragma once

#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace attnode {

class AsyncRunner {
 public:
  AsyncRunner();
  ~AsyncRunner();
  AsyncRunner(const AsyncRunner&) = delete;
  AsyncRunner& operator=(const AsyncRunner&) = delete;

  // Queues `work` (run on the dispatch thread; may throw std::exception) and returns a Promise
  // that resolves with undefined or rejects with an Error carrying the exception's message.
  // `keep_alive` holds the JS values the work reads until it has settled.
  Napi::Promise submit(Napi::Env env, std::function<void()> work, std::vector<Napi::Reference<Napi::Value>> keep_alive);

 private:
  struct Job;
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stop_ = false;
  std::thread thread_;  // last: started only after every member above exists
};

}  // namespace attnode
