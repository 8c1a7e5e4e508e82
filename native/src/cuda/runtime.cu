// Device discovery, the caching allocator, streams and the CUDA error check (runtime.h, cuda_check.h).
#include <atomic>

#include "runtime.h"

namespace attnode::cuda {

namespace {
std::mutex g_lost_mu;
std::atomic<bool> g_lost{false};
std::string g_lost_why;
}  // namespace

bool cuda_error_is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorDevicesUnavailable:
    case cudaErrorLaunchTimeout:
      return true;
    default:
      return false;
  }
}

void cuda_fail(cudaError_t e, const char* call, const char* file, int line) {
  std::string what = std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " + cudaGetErrorName(e) +
                     ": " + cudaGetErrorString(e);
  if (cuda_error_is_sticky(e)) mark_lost(what);
  throw CudaError(e, what);
}

void mark_lost(const std::string& why) {
  std::lock_guard<std::mutex> g(g_lost_mu);
  if (!g_lost.load()) {
    g_lost_why = why;
    g_lost.store(true);
  }
}

void throw_if_lost() {
  if (!g_lost.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> g(g_lost_mu);
  throw CudaError(cudaErrorDevicesUnavailable,
                  "the CUDA device is unusable after an earlier error (" + g_lost_why + "); restart the process");
}

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear it: a missing device is not an error of a later call
    if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "cudaGetDeviceCount found 0 devices";
  return n;
}

DeviceInfo device_info(int ordinal) {
  DeviceInfo d;
  d.ordinal = ordinal;
  cudaDeviceProp p;
  ATTNODE_CUDA_CHECK(cudaGetDeviceProperties(&p, ordinal));
  d.name = p.name;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.total_memory = p.totalGlobalMem;
  d.sms = p.multiProcessorCount;
  d.memory_bus_bits = p.memoryBusWidth;
  ATTNODE_CUDA_CHECK(cudaDeviceGetAttribute(&d.clock_khz, cudaDevAttrClockRate, ordinal));
  ATTNODE_CUDA_CHECK(cudaDeviceGetAttribute(&d.memory_clock_khz, cudaDevAttrMemoryClockRate, ordinal));
  return d;
}

double peak_bf16_tflops(const DeviceInfo& d) {
  const double per_sm_clock = d.cc_major >= 9 ? 4096.0 : 2048.0;
  return per_sm_clock * d.sms * (d.clock_khz * 1e3) / 1e12;
}

double peak_dram_gbs(const DeviceInfo& d) {
  return 2.0 * (d.memory_clock_khz * 1e3) * (d.memory_bus_bits / 8.0) / 1e9;
}

DeviceAllocator::~DeviceAllocator() {
  std::lock_guard<std::mutex> g(mu_);
  trim_locked();
  // Live blocks belong to buffers that outlive the allocator: a bug, but freeing them here would
  // turn it into a use-after-free on the device; they go with the context.
}

size_t DeviceAllocator::round_size(size_t bytes) {
  constexpr size_t kSmall = 256, kLarge = size_t{1} << 20;
  if (bytes == 0) bytes = 1;
  const size_t to = bytes < kLarge ? kSmall : kLarge;
  return (bytes + to - 1) / to * to;
}

void* DeviceAllocator::allocate(size_t bytes) {
  throw_if_lost();
  if (bytes > (size_t{1} << 48)) {
    throw CudaError(cudaErrorMemoryAllocation,
                    "cudaMalloc(" + std::to_string(bytes) + " bytes): out of memory (larger than any device)");
  }
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> g(mu_);
  auto it = free_.find(size);
  if (it != free_.end()) {
    void* p = it->second;
    free_.erase(it);
    cached_bytes_ -= size;
    live_[p] = size;
    live_bytes_ += size;
    return p;
  }
  ATTNODE_CUDA_CHECK(cudaSetDevice(device_));
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation && cached_bytes_ > 0) {
    cudaGetLastError();
    trim_locked();
    e = cudaMalloc(&p, size);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();  // out of memory is not sticky: clear it so the next call does not see it
    const std::string call = "cudaMalloc(" + std::to_string(size) + " bytes; " + std::to_string(live_bytes_) +
                             " bytes live in attnode's allocator)";
    cuda_fail(e, call.c_str(), __FILE__, __LINE__);
  }
  live_[p] = size;
  live_bytes_ += size;
  return p;
}

void DeviceAllocator::release(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> g(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) throw std::logic_error("DeviceAllocator::release: pointer was not allocated here");
  free_.emplace(it->second, p);
  live_bytes_ -= it->second;
  cached_bytes_ += it->second;
  live_.erase(it);
}

void DeviceAllocator::trim() {
  std::lock_guard<std::mutex> g(mu_);
  trim_locked();
}

void DeviceAllocator::trim_locked() {
  for (auto& [size, p] : free_) cudaFree(p);  // errors here are those of a lost context: nothing to do
  free_.clear();
  cached_bytes_ = 0;
}

size_t DeviceAllocator::bytes_live() const {
  std::lock_guard<std::mutex> g(mu_);
  return live_bytes_;
}

size_t DeviceAllocator::bytes_cached() const {
  std::lock_guard<std::mutex> g(mu_);
  return cached_bytes_;
}

Stream::Stream() {
  throw_if_lost();
  ATTNODE_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking));
}

Stream::~Stream() {
  if (s_) cudaStreamDestroy(s_);
}

void Stream::synchronize() { ATTNODE_CUDA_CHECK(cudaStreamSynchronize(s_)); }

void copy_to_device(void* dst, const void* src, size_t bytes, cudaStream_t s) {
  throw_if_lost();
  ATTNODE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
}

void copy_to_host(void* dst, const void* src, size_t bytes, cudaStream_t s) {
  throw_if_lost();
  ATTNODE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
  ATTNODE_CUDA_CHECK(cudaStreamSynchronize(s));
}

}  // namespace attnode::cuda
