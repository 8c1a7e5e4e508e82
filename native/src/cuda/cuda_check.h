// The CUDA error check: every runtime call goes through ATTNODE_CUDA_CHECK, which throws a
// CudaError naming the call, the file:line and CUDA's own message. No Node-API here; the addon
// turns the exception into a JS Error, so a failed call fails one request, never the process.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace attnode::cuda {

class CudaError : public std::runtime_error {
 public:
  CudaError(cudaError_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  cudaError_t code() const { return code_; }
  // Out of memory: the request fails, the context stays usable.
  bool out_of_memory() const { return code_ == cudaErrorMemoryAllocation; }

 private:
  cudaError_t code_;
};

// Errors after which the context cannot run anything again (a kernel faulted, the device fell off
// the bus): CUDA keeps returning them from every later call. runtime.cu marks the device lost.
bool cuda_error_is_sticky(cudaError_t e);

// Throws CudaError: "<call> failed at file:line: <cudaGetErrorName>: <cudaGetErrorString>".
[[noreturn]] void cuda_fail(cudaError_t e, const char* call, const char* file, int line);

}  // namespace attnode::cuda

#define ATTNODE_CUDA_CHECK(call)                                                   \
  do {                                                                             \
    const cudaError_t attnode_cuda_err_ = (call);                                  \
    if (attnode_cuda_err_ != cudaSuccess)                                          \
      ::attnode::cuda::cuda_fail(attnode_cuda_err_, #call, __FILE__, __LINE__);    \
  } while (0)
// After a kernel launch: a bad configuration (too much shared memory, a grid too large) shows up
// in cudaGetLastError, not in the launch statement.
#define ATTNODE_CUDA_CHECK_LAUNCH(kernel) ::attnode::cuda::check_launch(kernel, __FILE__, __LINE__)

namespace attnode::cuda {
inline void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) cuda_fail(e, (std::string("launch of ") + kernel).c_str(), file, line);
}
}  // namespace attnode::cuda
