// The CUDA context, device page memory for state pools, and uploads (context.h).
#include "context.h"

#include <mutex>
#include <stdexcept>

#include "cuda_bridge.h"
#include "formats.h"

namespace attnode::cuda_js {

CudaContext& context() {
  static std::mutex mu;
  static CudaContext* ctx = nullptr;
  std::lock_guard<std::mutex> lock(mu);
  if (ctx) return *ctx;
  cuda::throw_if_lost();
  std::string why;
  if (cuda::device_count(&why) == 0) throw std::runtime_error("no CUDA device (" + why + ")");
  ATTNODE_CUDA_CHECK(cudaSetDevice(0));
  ctx = new CudaContext();  // intentionally never deleted (see context.h)
  return *ctx;
}

DeviceBytes::DeviceBytes(size_t n) : bytes(n) { p = context().alloc.allocate(n == 0 ? 1 : n); }
DeviceBytes::~DeviceBytes() {
  if (p) context().alloc.release(p);
}

DeviceBytesRef upload(const void* host, size_t bytes) {
  CudaContext& c = context();
  auto d = std::make_shared<DeviceBytes>(bytes);
  if (bytes > 0) {
    ATTNODE_CUDA_CHECK(cudaSetDevice(0));
    cuda::copy_to_device(d->p, host, bytes, c.s());
    c.stream.synchronize();
  }
  return d;
}

std::vector<float> to_f32(DType d, const void* src, size_t n) {
  const FormatTraits& f = format_traits(d);
  if (!f.to_float) throw std::invalid_argument(std::string("no f32 conversion for ") + f.name);
  std::vector<float> out(n);
  f.to_float(src, n, out.data());
  return out;
}

namespace {

// State pages in device memory: from the context's allocator, copied on its stream. A page
// handed back is reused by later work on the same stream only, so no synchronization is needed.
class DevicePageMemory : public PageMemory {
 public:
  char* allocate(size_t bytes) override {
    cuda::throw_if_lost();
    ATTNODE_CUDA_CHECK(cudaSetDevice(0));
    return static_cast<char*>(context().alloc.allocate(bytes));
  }
  void free(char* p, size_t) noexcept override { context().alloc.release(p); }
  void copy(char* dst, const char* src, size_t bytes) override {
    ATTNODE_CUDA_CHECK(cudaSetDevice(0));
    ATTNODE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, context().s()));
  }
  bool device() const override { return true; }
};

}  // namespace

}  // namespace attnode::cuda_js

namespace attnode {

std::shared_ptr<PageMemory> cuda_page_memory() {
  cuda_js::context();  // fails now, with the reason, when there is no device
  return std::make_shared<cuda_js::DevicePageMemory>();
}

}  // namespace attnode
