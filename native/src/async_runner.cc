// AsyncRunner (see async_runner.h).
#include "async_runner.h"

#include "threadpool.h"

namespace attnode {

struct AsyncRunner::Job {
  std::function<void()> work;
  Napi::Promise::Deferred deferred;
  std::vector<Napi::Reference<Napi::Value>> keep_alive;
  std::shared_ptr<AsyncStaging> staging;
  Napi::ThreadSafeFunction settle;
  std::string error;  // empty on success
  bool failed = false;

  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

AsyncRunner::AsyncRunner()
    : thread_([this] {
        lower_compute_thread_priority();
        loop();
      }) {}

AsyncRunner::~AsyncRunner() {
  std::deque<std::unique_ptr<Job>> abandoned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    abandoned.swap(queue_);
  }
  wake_.notify_one();
  thread_.join();
  // The environment is going away: jobs that never ran release their thread-safe functions.
  for (auto& job : abandoned) job->settle.Abort();
}

Napi::Promise AsyncRunner::submit(Napi::Env env, std::function<void()> work,
                                  std::vector<Napi::Reference<Napi::Value>> keep_alive, std::shared_ptr<AsyncStaging> staging) {
  auto job = std::make_unique<Job>(env);
  job->work = std::move(work);
  job->keep_alive = std::move(keep_alive);
  job->staging = std::move(staging);
  Napi::Promise promise = job->deferred.Promise();
  // One thread-safe function per job: it keeps the event loop alive until the job settles.
  job->settle = Napi::ThreadSafeFunction::New(env, Napi::Function(), "attnode.op", 0, 1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return promise;
}

void AsyncRunner::note_kernel_run() {
  (std::this_thread::get_id() == js_thread_ ? on_js_thread_ : on_other_threads_).fetch_add(1, std::memory_order_relaxed);
}

KernelThreadCounts AsyncRunner::kernel_thread_counts() const {
  return {on_js_thread_.load(std::memory_order_relaxed), on_other_threads_.load(std::memory_order_relaxed)};
}

void AsyncRunner::loop() {
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    note_kernel_run();
    try {
      job->work();
    } catch (const std::exception& e) {
      job->failed = true;
      job->error = e.what();
    } catch (...) {
      job->failed = true;
      job->error = "unknown native error";
    }
    Job* raw = job.release();
    Napi::ThreadSafeFunction settle = raw->settle;
    const napi_status st = settle.BlockingCall(raw, [](Napi::Env env, Napi::Function, Job* j) {
      std::unique_ptr<Job> owned(j);
      if (env != nullptr) {
        if (!owned->failed && owned->staging) {
          const std::string lost = owned->staging->finish(env);
          if (!lost.empty()) {
            owned->failed = true;
            owned->error = lost;
          }
        }
        if (owned->failed)
          owned->deferred.Reject(Napi::Error::New(env, owned->error).Value());
        else
          owned->deferred.Resolve(env.Undefined());
      }
      owned->keep_alive.clear();
    });
    if (st != napi_ok) delete raw;  // the environment is closing; nobody is waiting
    settle.Release();
  }
}

}  // namespace attnode
