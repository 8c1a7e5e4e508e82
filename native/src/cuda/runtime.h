// The CUDA runtime layer: device discovery, a caching allocator over plain cudaMalloc (never
// managed memory), streams and device buffers. Host C++ only (no Node-API, no kernels), so the
// addon and the kernel tests in native/test share it.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cuda_check.h"

namespace attnode::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;     // bytes
  int sms = 0;
  int clock_khz = 0;           // SM clock (boost)
  int memory_clock_khz = 0;
  int memory_bus_bits = 0;
};

// Devices this process sees; 0 with *why set ("cudaGetDeviceCount: cudaErrorNoDevice: ...")
// when there is no device or no driver. Never throws.
int device_count(std::string* why);
DeviceInfo device_info(int ordinal);
// Dense tensor-core bf16 peak from the SM count and clock (flops per SM per clock: 2048 on
// sm_80/86/89, 4096 on sm_90), and DRAM bandwidth from the memory clock and bus width (DDR).
double peak_bf16_tflops(const DeviceInfo& d);
double peak_dram_gbs(const DeviceInfo& d);

// A sticky error (a faulted kernel, a lost device) poisons the CUDA context: every later call
// fails. After one, throw_if_lost() throws at once with the first error's message instead of
// launching anything, so each request fails with the reason while the process lives on.
void mark_lost(const std::string& why);
void throw_if_lost();

// Blocks of cudaMalloc'd memory kept for reuse by size class: a forward pass asks for the same
// sizes every step, and cudaMalloc/cudaFree synchronize the device. Sizes round up to 256 bytes
// below 1 MiB and to 1 MiB above. An allocation that finds no free block and fails with out of
// memory frees the cache and tries once more, then throws CudaError (out_of_memory()).
// A released block may be handed out at once: that is safe for work queued on the same stream
// (stream order), and callers that share memory across streams synchronize before releasing.
class DeviceAllocator {
 public:
  explicit DeviceAllocator(int device = 0) : device_(device) {}
  ~DeviceAllocator();
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  void* allocate(size_t bytes);
  // Returns a block from allocate() to the cache; null is ignored.
  void release(void* p);
  // cudaFree every cached (not live) block.
  void trim();
  size_t bytes_live() const;
  size_t bytes_cached() const;
  int device() const { return device_; }

  static size_t round_size(size_t bytes);

 private:
  void trim_locked();
  int device_;
  mutable std::mutex mu_;
  std::unordered_map<void*, size_t> live_;  // pointer -> rounded size
  std::multimap<size_t, void*> free_;      // rounded size -> cached block
  size_t live_bytes_ = 0, cached_bytes_ = 0;
};

// An owned device array of T from an allocator.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceAllocator& a, size_t n) : alloc_(&a), n_(n) {
    p_ = static_cast<T*>(a.allocate(n * sizeof(T) == 0 ? 1 : n * sizeof(T)));
  }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : alloc_(o.alloc_), p_(o.p_), n_(o.n_) { o.p_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      alloc_ = o.alloc_;
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
    }
    return *this;
  }
  void reset() {
    if (p_ && alloc_) alloc_->release(p_);
    p_ = nullptr;
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }

 private:
  DeviceAllocator* alloc_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

// A non-blocking stream (it does not wait on the legacy default stream).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  // Waits for the stream's work; a kernel's fault surfaces here as a CudaError.
  void synchronize();

 private:
  cudaStream_t s_ = nullptr;
};

// Host <-> device copies on a stream (asynchronous for pinned memory, else staged by CUDA).
void copy_to_device(void* dst, const void* src, size_t bytes, cudaStream_t s);
void copy_to_host(void* dst, const void* src, size_t bytes, cudaStream_t s);

}  // namespace attnode::cuda
