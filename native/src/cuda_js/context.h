// The process's CUDA context as the addon uses it: device 0, one caching allocator and one
// stream that every program, weight upload and state page copy of the cuda backend is ordered
// on, so stream order alone keeps reused memory safe (runtime.h DeviceAllocator). Host C++ with
// Node-API only at the edges (cuda_js/*.cc); not the kernels.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cuda/runtime.h"
#include "dtype.h"

namespace attnode::cuda_js {

struct CudaContext {
  cuda::DeviceAllocator alloc{0};
  cuda::Stream stream;
  cudaStream_t s() const { return stream.get(); }
};

// Made on first use (cudaSetDevice(0)); throws std::runtime_error when there is no device.
// Never destroyed: freeing device memory from static destructors after the driver has shut down
// fails, and the process's exit releases it anyway.
CudaContext& context();

// Device bytes with their owner; released to the allocator's cache when the last user lets go.
struct DeviceBytes {
  void* p = nullptr;
  size_t bytes = 0;
  explicit DeviceBytes(size_t n);
  ~DeviceBytes();
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p); }
};
using DeviceBytesRef = std::shared_ptr<DeviceBytes>;

// A copy of host bytes on the device, ordered on the context's stream and waited for (uploads
// happen at load, not per step).
DeviceBytesRef upload(const void* host, size_t bytes);

// Host conversion of n values of dtype `d` at `src` to f32 through the format table's reference
// (formats.h): what uploads of formats without a CUDA kernel use.
std::vector<float> to_f32(DType d, const void* src, size_t n);

}  // namespace attnode::cuda_js
