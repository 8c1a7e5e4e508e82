// Device weights (weight.h): packing from host tensors and `linear` by format.
#include "weight.h"

#include <cstring>
#include <stdexcept>
#include <vector>

#include "args.h"
#include "cuda/kernels.h"
#include "formats.h"
#include "half.h"

namespace attnode::cuda_js {

const char* DeviceWeight::variant() const {
  switch (kind) {
    case Kind::f32: return "cuda_f32";
    case Kind::half: return half == cuda::Half::bf16 ? "cuda_bf16_mma" : "cuda_f16_mma";
    case Kind::q8_0: return "cuda_q8_0_dp4a";
    case Kind::q4_k: return "cuda_q4_k";
    case Kind::q6_k: return "cuda_q6_k";
  }
  return "cuda";
}

LinearScratch DeviceWeight::scratch(size_t m) const {
  LinearScratch s;
  if (kind == Kind::half && m > cuda::kGemvMaxRows) s.halves = m * k;
  if (kind == Kind::q8_0) {
    s.quants = m * k;
    s.scales = m * k / 32;
  }
  return s;
}

void DeviceWeight::linear(const float* x, size_t m, float* c, const float* bias, uint16_t* halves, int8_t* quants,
                          float* scales, cudaStream_t s) const {
  if (m == 0) return;
  switch (kind) {
    case Kind::f32:
      if (m <= cuda::kGemvMaxRows) cuda::gemv_f32(x, w->as<float>(), bias, c, m, n, k, s);
      else cuda::gemm_f32(x, w->as<float>(), bias, c, m, n, k, s);
      return;
    case Kind::half:
      cuda::linear_half(x, w->as<uint16_t>(), bias, c, m, n, k, half, halves, s);
      return;
    case Kind::q8_0:
      cuda::linear_q8_0(x, cuda::Q8_0Device{w->as<int8_t>(), d->as<uint16_t>(), n, k}, bias, c, m, quants, scales, s);
      return;
    case Kind::q4_k:
    case Kind::q6_k:
      // The k-quant GEMVs take at most kGemvMaxRows rows: longer passes go in groups of them.
      for (size_t r0 = 0; r0 < m; r0 += cuda::kGemvMaxRows) {
        const size_t rows = m - r0 < cuda::kGemvMaxRows ? m - r0 : cuda::kGemvMaxRows;
        if (kind == Kind::q4_k) cuda::gemv_q4_k(x + r0 * k, w->as<uint8_t>(), bias, c + r0 * n, rows, n, k, s);
        else cuda::gemv_q6_k(x + r0 * k, w->as<uint8_t>(), bias, c + r0 * n, rows, n, k, s);
      }
      return;
  }
}

namespace {

class CudaWeightHandle : public Napi::ObjectWrap<CudaWeightHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaWeightHandle",
                       {
                           InstanceAccessor("shape", &CudaWeightHandle::Shape, nullptr),
                           InstanceAccessor("dtype", &CudaWeightHandle::Dtype, nullptr),
                           InstanceAccessor("bytes", &CudaWeightHandle::Bytes, nullptr),
                           InstanceAccessor("disposed", &CudaWeightHandle::Disposed, nullptr),
                           InstanceMethod("variant", &CudaWeightHandle::Variant),
                           InstanceMethod("dispose", &CudaWeightHandle::Dispose),
                       });
  }
  explicit CudaWeightHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaWeightHandle>(info) {}

  void attach(std::shared_ptr<const DeviceWeight> w) { weight_ = std::move(w); }
  const std::shared_ptr<const DeviceWeight>& weight() const { return weight_; }

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info) {
    Napi::Array a = Napi::Array::New(info.Env(), 2);
    a.Set(0u, static_cast<double>(weight_ ? weight_->n : 0));
    a.Set(1u, static_cast<double>(weight_ ? weight_->k : 0));
    return a;
  }
  Napi::Value Dtype(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), weight_ ? dtype_name(weight_->dtype) : ""); }
  Napi::Value Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), weight_ ? static_cast<double>(weight_->bytes()) : 0.0); }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !weight_); }
  Napi::Value Variant(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), weight_ ? weight_->variant() : "disposed"); }
  // Device memory goes back to the cache now; a pass in flight holds its own reference.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    weight_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<const DeviceWeight> weight_;
};

// W (N, K) as f32 on the host, for formats without a CUDA kernel: per-row i8 times its scales,
// every other format through the format table's reference dequantize.
std::vector<float> host_f32(const TensorView& t, size_t n, size_t k, const TensorView& scales) {
  if (t.dtype == DType::i8) {
    std::vector<float> out(n * k);
    const int8_t* q = t.as<int8_t>();
    const float* sc = scales.as<float>();
    for (size_t j = 0; j < n; ++j)
      for (size_t p = 0; p < k; ++p) out[j * k + p] = static_cast<float>(q[j * k + p]) * sc[j];
    return out;
  }
  return to_f32(t.dtype, t.data, n * k);
}

}  // namespace

Napi::Function define_weight_handle(Napi::Env env) { return CudaWeightHandle::Define(env); }

std::shared_ptr<const DeviceWeight> unwrap_weight(Napi::Env env, Napi::Value v, Napi::FunctionReference& ctor,
                                                  const std::string& what) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(ctor.Value()))
    throw Napi::TypeError::New(env, what + " must be a weight packed by the cuda backend (cudaPackWeight)");
  std::shared_ptr<const DeviceWeight> w = CudaWeightHandle::Unwrap(v.As<Napi::Object>())->weight();
  if (!w) throw Napi::TypeError::New(env, what + " was disposed");
  return w;
}

Napi::Value pack_weight(const Napi::CallbackInfo& info, Napi::FunctionReference& ctor) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cudaPackWeight: 'desc' must be an object");
  Args a(env, "cudaPackWeight", info[0]);
  const TensorView t = a.tensor("weight", {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_0, DType::q4_1,
                                           DType::q5_0, DType::q5_1, DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k,
                                           DType::q6_k, DType::iq4_nl, DType::iq4_xs});
  if (t.rank() != 2) a.range_error("'weight' must have shape [N, K], got " + t.shape_str());
  // Transposed checkpoints (Conv1D) are oriented by the caller (ts/backend/cuda.ts orientWeight).
  if (!a.raw("transposed").IsUndefined()) a.type_error("'transposed' is not taken here: pass the weight as (N, K)");
  const size_t n = static_cast<size_t>(t.dim(0)), k = static_cast<size_t>(t.dim(1));
  if (n == 0 || k == 0) a.range_error("'weight' must have N > 0 and K > 0, got " + t.shape_str());
  TensorView scales;
  if (t.dtype == DType::i8) {
    scales = a.tensor("scales", {DType::f32});
    a.expect_shape("scales", scales, {static_cast<int64_t>(n)});
  }
  auto w = std::make_shared<DeviceWeight>();
  w->dtype = t.dtype;
  w->n = n;
  w->k = k;
  try {
    if (t.dtype == DType::f16 || t.dtype == DType::bf16) {
      w->kind = DeviceWeight::Kind::half;
      w->half = t.dtype == DType::bf16 ? cuda::Half::bf16 : cuda::Half::f16;
      w->w = upload(t.data, n * k * 2);
    } else if (t.dtype == DType::q8_0) {
      w->kind = DeviceWeight::Kind::q8_0;
      std::vector<int8_t> q(n * k);
      std::vector<uint16_t> d(n * k / 32);
      cuda::q8_0_split_blocks(static_cast<const uint8_t*>(t.data), n, k, q.data(), d.data());
      w->w = upload(q.data(), q.size());
      w->d = upload(d.data(), d.size() * 2);
    } else if (t.dtype == DType::q4_k || t.dtype == DType::q6_k) {
      w->kind = t.dtype == DType::q4_k ? DeviceWeight::Kind::q4_k : DeviceWeight::Kind::q6_k;
      w->w = upload(t.data, t.nbytes);
    } else if (t.dtype == DType::f32) {
      w->kind = DeviceWeight::Kind::f32;
      w->w = upload(t.data, n * k * 4);
    } else {
      w->kind = DeviceWeight::Kind::f32;
      const std::vector<float> f = host_f32(t, n, k, scales);
      w->w = upload(f.data(), f.size() * 4);
    }
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("cudaPackWeight: ") + e.what());
  }
  Napi::Object handle = ctor.New({});
  CudaWeightHandle::Unwrap(handle)->attach(std::move(w));
  return handle;
}

}  // namespace attnode::cuda_js
