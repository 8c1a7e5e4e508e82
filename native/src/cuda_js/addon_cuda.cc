// The addon's CUDA entry points (cuda_bridge.h CudaAddon): constructors of the device weight
// handle and program per environment, and the allocator's counters.
#include <map>
#include <mutex>

#include "cuda_bridge.h"
#include "cuda_js/context.h"
#include "cuda_js/weight.h"

namespace attnode::cuda_js {

Napi::Function define_cuda_program(Napi::Env env);  // program.cc

namespace {

class CudaAddonImpl;
std::mutex g_mu;
std::map<napi_env, CudaAddonImpl*> g_addons;  // by environment (the main thread and each worker)

class CudaAddonImpl : public CudaAddon {
 public:
  explicit CudaAddonImpl(Napi::Env env) : env_(env) {
    weight_ctor_ = Napi::Persistent(define_weight_handle(env));
    program_ctor_ = Napi::Persistent(define_cuda_program(env));
    std::lock_guard<std::mutex> lock(g_mu);
    g_addons[env_] = this;
  }
  ~CudaAddonImpl() override {
    std::lock_guard<std::mutex> lock(g_mu);
    g_addons.erase(env_);
  }
  Napi::Value pack_weight(const Napi::CallbackInfo& info) override { return cuda_js::pack_weight(info, weight_ctor_); }
  Napi::Value compile(const Napi::CallbackInfo& info) override {
    if (info.Length() < 1) throw Napi::TypeError::New(info.Env(), "cudaCompile: 'desc' must be an object");
    return program_ctor_.New({info[0]});
  }
  Napi::Value stats(const Napi::CallbackInfo& info) override {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    try {
      CudaContext& c = context();
      o.Set("bytesLive", static_cast<double>(c.alloc.bytes_live()));
      o.Set("bytesCached", static_cast<double>(c.alloc.bytes_cached()));
      o.Set("totalMemory", static_cast<double>(cuda::device_info(0).total_memory));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("cudaStats: ") + e.what());
    }
    return o;
  }
  Napi::FunctionReference& weight_ctor() { return weight_ctor_; }

 private:
  napi_env env_;
  Napi::FunctionReference weight_ctor_, program_ctor_;
};

}  // namespace

Napi::FunctionReference& cuda_weight_ctor(Napi::Env env) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_addons.find(env);
  if (it == g_addons.end()) throw Napi::Error::New(env, "the addon's CUDA entry points are not set up in this environment");
  return it->second->weight_ctor();
}

}  // namespace attnode::cuda_js

namespace attnode {
std::unique_ptr<CudaAddon> make_cuda_addon(Napi::Env env) { return std::make_unique<cuda_js::CudaAddonImpl>(env); }
}  // namespace attnode
