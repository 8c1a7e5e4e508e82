// The addon's own worker threads for intra-op parallelism (one pool per addon instance).
// Not a task queue: parallel_for splits one kernel's index range over the pool and waits.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace attnode {

// Lowers the calling thread's scheduling priority a little (Linux: nice +4 for this thread
// only), for the addon's compute threads: when the cores are oversubscribed, the process's
// JavaScript threads (the event loop above all) get a core first. No effect elsewhere.
void lower_compute_thread_priority();

// Lowers the calling thread's priority by `step` nice levels (Linux, this thread only; at most
// nice 19). Returns the thread's nice value afterwards, or -100 where threads have no nice value
// of their own. For engine worker threads, so the main thread's event loop gets a core first.
int lower_thread_priority(int step);

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Total threads that work on a parallel_for, the calling thread included.
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(begin, end) over [0, n) split into chunks of at least `grain` indices, on the
  // calling thread and the pool's workers. Concurrent callers (several async ops at once)
  // take turns. The first exception thrown by fn is rethrown here after all chunks finish.
  void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

  // Runs fn(thread_index, thread_count) once on each of the pool's threads.
  void run_on_all(const std::function<void(int, int)>& fn);

 private:
  void worker_loop(int index);
  void run_job(int index);

  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // one parallel job at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers still running the current job
  std::function<void(int, int)> job_;
  std::exception_ptr error_;
  std::mutex error_mutex_;
};

}  // namespace attnode
