// What the CPU side of the addon asks of the CUDA side, implemented by cuda_js/*.cc when CUDA is
// compiled in and by cuda/cuda_stub.cc otherwise (each stub throws "attnode was built without
// CUDA support"). No CUDA header here: the CPU sources compile without the toolkit.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "state.h"

namespace attnode {

bool cuda_compiled();
// Devices this process sees; 0 with *why saying why (not built, no driver, no device).
int cuda_device_count(std::string* why);
std::string cuda_device_name(int ordinal);

// Page memory on the CUDA device (state pools with device: 'cuda'); throws std::runtime_error
// naming the reason when there is no CUDA build or device.
std::shared_ptr<PageMemory> cuda_page_memory();

// The addon's CUDA entry points, one object per environment (kept by the addon instance):
//   cudaPackWeight(desc) -> a weight handle on the device (cuda_js/weight.h)
//   cudaCompile(desc)    -> a CudaProgram (cuda_js/program.cc)
//   cudaStats()          -> { bytesLive, bytesCached, totalMemory }: the device allocator and device 0
class CudaAddon {
 public:
  virtual ~CudaAddon() = default;
  virtual Napi::Value pack_weight(const Napi::CallbackInfo& info) = 0;
  virtual Napi::Value compile(const Napi::CallbackInfo& info) = 0;
  virtual Napi::Value stats(const Napi::CallbackInfo& info) = 0;
};
std::unique_ptr<CudaAddon> make_cuda_addon(Napi::Env env);

}  // namespace attnode
