// Built when CUDA is not compiled in (no nvcc, or ATTNODE_CUDA=OFF): the addon reports that, and
// every CUDA entry point (cuda_bridge.h) fails with "attnode was built without CUDA support";
// the `cuda` backend says so before it gets here (ts/backend/backends.ts).
#include <stdexcept>
#include <string>

#include "cuda_bridge.h"

namespace attnode {

namespace {
constexpr const char* kNotBuilt = "attnode was built without CUDA support";

class CudaAddonStub : public CudaAddon {
 public:
  Napi::Value pack_weight(const Napi::CallbackInfo& info) override { throw Napi::Error::New(info.Env(), std::string("cudaPackWeight: ") + kNotBuilt); }
  Napi::Value compile(const Napi::CallbackInfo& info) override { throw Napi::Error::New(info.Env(), std::string("cudaCompile: ") + kNotBuilt); }
  Napi::Value stats(const Napi::CallbackInfo& info) override { throw Napi::Error::New(info.Env(), std::string("cudaStats: ") + kNotBuilt); }
};
}  // namespace

bool cuda_compiled() { return false; }

int cuda_device_count(std::string* why) {
  if (why) *why = kNotBuilt;
  return 0;
}

std::string cuda_device_name(int) { return ""; }

std::shared_ptr<PageMemory> cuda_page_memory() { throw std::runtime_error(kNotBuilt); }

std::unique_ptr<CudaAddon> make_cuda_addon(Napi::Env) { return std::make_unique<CudaAddonStub>(); }

}  // namespace attnode
