// CUDA entry points, built only when nvcc is found (CMake option ATTNODE_CUDA). The kernels
// for matmul, attention and int8 live beside this file and share the CPU ops' contract.
#include <cuda_runtime.h>

namespace attnode {

bool cuda_compiled() { return true; }

// Number of CUDA devices visible to this process; 0 when the driver or a device is missing.
int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

}  // namespace attnode
