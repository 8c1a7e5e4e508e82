// What the addon asks of CUDA outside the kernels: whether it was compiled in and which devices
// exist. cuda_stub.cc answers the same questions in a build without nvcc.
#include <string>

#include "runtime.h"

namespace attnode {

bool cuda_compiled() { return true; }

// Devices visible to this process; 0 with *why set when the driver or a device is missing.
int cuda_device_count(std::string* why) { return cuda::device_count(why); }

// "NVIDIA H200 (sm_90, 132 SMs, 140 GiB)" for each device, for cudaInfo().
std::string cuda_device_name(int ordinal) {
  const cuda::DeviceInfo d = cuda::device_info(ordinal);
  return d.name + " (sm_" + std::to_string(d.cc_major) + std::to_string(d.cc_minor) + ", " + std::to_string(d.sms) +
         " SMs, " + std::to_string(d.total_memory >> 30) + " GiB)";
}

}  // namespace attnode
