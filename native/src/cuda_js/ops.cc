// The CUDA ops of compiled programs (ops.h): argument checks per pass and kernel launches.
// Each op mirrors its CPU contract (native/src/ops/*.cc, ts/backend/ops/*.ts); what the CUDA
// kernels cannot take (an attention mask, batched attention, ids that JS never wrote) is
// refused with an error that names it, never computed some other way.
#include "ops.h"

#include <cmath>
#include <cstring>
#include <map>

#include "formats.h"

namespace attnode::cuda_js {

std::string DevView::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const ArgVal* StepArgs::find(const char* name) const {
  for (const auto& [n, v] : args_)
    if (n == name) return v->kind == ArgVal::Kind::none ? nullptr : v;
  return nullptr;
}

bool StepArgs::has(const char* name) const { return find(name) != nullptr; }

const DevView* StepArgs::optional_tensor(const char* name, std::initializer_list<DType> dtypes) const {
  const ArgVal* v = find(name);
  if (!v) return nullptr;
  if (v->kind != ArgVal::Kind::view) type_error(std::string("'") + name + "' must be a tensor");
  bool ok = false;
  std::string list;
  for (DType d : dtypes) {
    ok = ok || d == v->view.dtype;
    list += (list.empty() ? "" : ", ") + std::string(dtype_name(d));
  }
  if (!ok) type_error(std::string("'") + name + "' must be " + list + ", got " + dtype_name(v->view.dtype));
  return &v->view;
}

const DevView& StepArgs::tensor(const char* name, std::initializer_list<DType> dtypes) const {
  const DevView* t = optional_tensor(name, dtypes);
  if (!t) type_error(std::string("'") + name + "' is required");
  return *t;
}

double StepArgs::number(const char* name, double fallback, double min, double max) const {
  const ArgVal* v = find(name);
  if (!v) return fallback;
  if (v->kind != ArgVal::Kind::number) type_error(std::string("'") + name + "' must be a number");
  if (!(v->number >= min && v->number <= max))
    range_error(std::string("'") + name + "' must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(v->number));
  return v->number;
}

int64_t StepArgs::integer(const char* name, int64_t fallback, int64_t min, int64_t max) const {
  const ArgVal* v = find(name);
  if (!v) return fallback;
  if (v->kind != ArgVal::Kind::number || v->number != std::floor(v->number)) type_error(std::string("'") + name + "' must be an integer");
  if (!(v->number >= static_cast<double>(min) && v->number <= static_cast<double>(max)))
    range_error(std::string("'") + name + "' must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(v->number));
  return static_cast<int64_t>(v->number);
}

bool StepArgs::boolean(const char* name, bool fallback) const {
  const ArgVal* v = find(name);
  if (!v) return fallback;
  if (v->kind != ArgVal::Kind::boolean) type_error(std::string("'") + name + "' must be a boolean");
  return v->boolean;
}

std::string StepArgs::choice(const char* name, const char* fallback, std::initializer_list<const char*> allowed) const {
  const ArgVal* v = find(name);
  if (!v) return fallback;
  if (v->kind != ArgVal::Kind::string) type_error(std::string("'") + name + "' must be a string");
  std::string list;
  for (const char* a : allowed) {
    if (v->string == a) return v->string;
    list += (list.empty() ? "'" : ", '") + std::string(a) + "'";
  }
  range_error(std::string("'") + name + "' must be one of " + list + ", got '" + v->string + "'");
}

std::shared_ptr<const DeviceWeight> StepArgs::weight_ref(const char* name) const {
  const ArgVal* v = find(name);
  if (!v || v->kind != ArgVal::Kind::weight) type_error(std::string("'") + name + "' must be a weight packed by the cuda backend");
  return v->weight;
}

const DeviceWeight& StepArgs::weight(const char* name) const { return *weight_ref(name); }

void StepArgs::refuse(const char* name, const std::string& why) const {
  if (has(name)) type_error(std::string("'") + name + "' is not supported on CUDA: " + why);
}

void StepArgs::expect_shape(const char* name, const DevView& t, const std::vector<int64_t>& shape) const {
  if (t.shape != shape) {
    DevView want;
    want.shape = shape;
    range_error(std::string("'") + name + "' must have shape " + want.shape_str() + ", got " + t.shape_str());
  }
}

namespace {

using cuda::kGemvMaxRows;

// Contiguous device f32 memory of a view; paged views are only attention's K/V and cache writes.
float* f32p(const StepArgs& a, const char* name, const DevView& v) {
  if (v.paged) a.type_error(std::string("'") + name + "' may not be rows of sequence state here");
  return reinterpret_cast<float*>(v.data);
}

// Writes `rows` rows of `elems` f32 values (src rows `ld` apart) into `out`: contiguous f32, or
// rows of sequence state (f32 or f16).
void store_rows(const float* src, size_t ld, const DevView& out, size_t rows, size_t elems, cudaStream_t s) {
  if (out.paged) {
    cuda::write_rows(src, ld, out.rows, rows, elems, out.dtype == DType::f16, s);
    return;
  }
  if (src == reinterpret_cast<const float*>(out.data)) return;
  ATTNODE_CUDA_CHECK(cudaMemcpy2DAsync(out.data, elems * 4, src, ld * 4, elems * 4, rows, cudaMemcpyDeviceToDevice, s));
}

// ---- embedding: table (V, D) f32|f16|bf16, ids (...) i32 (written by JS: checked here) -> (..., D) ----
Launch prep_embedding(const StepArgs& a) {
  const DevView& table = a.tensor("table", {DType::f32, DType::f16, DType::bf16});
  const DevView& ids = a.tensor("ids", {DType::i32});
  const DevView& out = a.tensor("out", {DType::f32});
  if (table.rank() != 2) a.range_error("'table' must have shape [vocab, dim], got " + table.shape_str());
  const int64_t vocab = table.dim(0), dim = table.dim(1);
  std::vector<int64_t> want = ids.shape;
  want.push_back(dim);
  a.expect_shape("out", out, want);
  // The kernel reads table rows by id without bounds checks: ids are checked here, so they must
  // be values the host holds (the pass's inputs), not ones computed on the device.
  if (!ids.host) a.type_error("'ids' must be an input of the pass (the host checks every id before the device reads the table)");
  const int32_t* pid = static_cast<const int32_t*>(ids.host);
  std::vector<int32_t> copy(pid, pid + ids.numel);
  for (size_t i = 0; i < copy.size(); ++i)
    if (copy[i] < 0 || copy[i] >= vocab)
      a.range_error("'ids[" + std::to_string(i) + "]' = " + std::to_string(copy[i]) + " is outside [0, " + std::to_string(vocab) + ")");
  const cuda::TableType type = table.dtype == DType::f32 ? cuda::TableType::f32 : table.dtype == DType::f16 ? cuda::TableType::f16 : cuda::TableType::bf16;
  const void* tp = table.data;
  float* po = f32p(a, "out", out);
  const size_t n = ids.numel, d = static_cast<size_t>(dim);
  // The ids the host checked are the ids the device reads: a copy of them goes up with the launch
  // (JS could write the input slot again after this check, before the job runs).
  return [=, copy = std::move(copy)](Exec& ex) {
    int32_t* dids = ex.take<int32_t>(n);
    if (n > 0) ATTNODE_CUDA_CHECK(cudaMemcpyAsync(dids, copy.data(), n * 4, cudaMemcpyHostToDevice, ex.s));
    cuda::embedding(tp, type, dids, po, n, d, ex.s);
  };
}

// ---- add, mul: a (..., S), b (S) a suffix of a's shape -> (..., S) ----
template <bool kMul>
Launch prep_binary(const StepArgs& a) {
  const DevView& x = a.tensor("a", {DType::f32});
  const DevView& y = a.tensor("b", {DType::f32});
  const DevView& out = a.tensor("out", {DType::f32});
  if (y.rank() > x.rank() || !std::equal(y.shape.begin(), y.shape.end(), x.shape.end() - y.rank()))
    a.range_error("'b' shape " + y.shape_str() + " must be a suffix of 'a' shape " + x.shape_str());
  a.expect_shape("out", out, x.shape);
  const float *pa = f32p(a, "a", x), *pb = f32p(a, "b", y);
  float* po = f32p(a, "out", out);
  const size_t n = x.numel, nb = y.numel;
  return [=](Exec& ex) {
    if (nb == n) kMul ? cuda::mul_f32(pa, pb, po, n, ex.s) : cuda::add_f32(pa, pb, po, n, ex.s);
    else if (n > 0) kMul ? cuda::mul_bcast_f32(pa, pb, po, n, nb, ex.s) : cuda::add_bcast_f32(pa, pb, po, n, nb, ex.s);
  };
}

Launch prep_scale(const StepArgs& a) {
  const DevView& x = a.tensor("x", {DType::f32});
  const DevView& out = a.tensor("out", {DType::f32});
  a.expect_shape("out", out, x.shape);
  const float s = static_cast<float>(a.number("s", 1.0, -3.4e38, 3.4e38));
  const float* px = f32p(a, "x", x);
  float* po = f32p(a, "out", out);
  const size_t n = x.numel;
  return [=](Exec& ex) { cuda::scale_f32(px, s, po, n, ex.s); };
}

Launch prep_gelu(const StepArgs& a) {
  const DevView& x = a.tensor("x", {DType::f32});
  const DevView& out = a.tensor("out", {DType::f32});
  a.expect_shape("out", out, x.shape);
  const bool tanh_form = a.choice("approximate", "none", {"none", "tanh"}) == "tanh";
  const float* px = f32p(a, "x", x);
  float* po = f32p(a, "out", out);
  const size_t n = x.numel;
  return [=](Exec& ex) { tanh_form ? cuda::gelu_tanh_f32(px, po, n, ex.s) : cuda::gelu_erf_f32(px, po, n, ex.s); };
}

Launch prep_silu(const StepArgs& a) {
  const DevView& x = a.tensor("x", {DType::f32});
  const DevView& out = a.tensor("out", {DType::f32});
  a.expect_shape("out", out, x.shape);
  const float* px = f32p(a, "x", x);
  float* po = f32p(a, "out", out);
  const size_t n = x.numel;
  return [=](Exec& ex) { cuda::silu_f32(px, po, n, ex.s); };
}

Launch prep_softmax(const StepArgs& a) {
  const DevView& x = a.tensor("x", {DType::f32});
  const DevView& out = a.tensor("out", {DType::f32});
  a.expect_shape("out", out, x.shape);
  if (x.rank() < 1) a.range_error("'x' must have rank >= 1");
  const size_t n = static_cast<size_t>(x.dim(-1)), rows = n == 0 ? 0 : x.numel / n;
  const float* px = f32p(a, "x", x);
  float* po = f32p(a, "out", out);
  return [=](Exec& ex) {
    if (rows > 0) cuda::softmax_rows_f32(px, po, rows, n, ex.s);
  };
}

// ---- layerNorm, rmsNorm: x (..., C), weight (C) [, bias (C)] over the last axis ----
template <bool kLayer>
Launch prep_norm(const StepArgs& a) {
  const DevView& x = a.tensor("x", {DType::f32});
  const DevView& w = a.tensor("weight", {DType::f32});
  const DevView* b = kLayer ? a.optional_tensor("bias", {DType::f32}) : nullptr;
  if (!kLayer) a.refuse("bias", "rmsNorm has no bias");
  const DevView& out = a.tensor("out", {DType::f32});
  if (x.rank() < 1) a.range_error("'x' must have rank >= 1");
  const int64_t c = x.dim(-1);
  a.expect_shape("weight", w, {c});
  if (b) a.expect_shape("bias", *b, {c});
  a.expect_shape("out", out, x.shape);
  const float eps = static_cast<float>(a.number("eps", kLayer ? 1e-5 : 1e-6, 0.0, 1.0));
  const float *px = f32p(a, "x", x), *pw = f32p(a, "weight", w), *pb = b ? f32p(a, "bias", *b) : nullptr;
  float* po = f32p(a, "out", out);
  const size_t n = static_cast<size_t>(c), rows = n == 0 ? 0 : x.numel / n;
  return [=](Exec& ex) {
    if (rows == 0) return;
    if (kLayer) cuda::layernorm_rows_f32(px, pw, pb, eps, po, rows, n, ex.s);
    else cuda::rmsnorm_rows_f32(px, pw, eps, po, rows, n, ex.s);
  };
}

// ---- linear: x (..., K), weight (N, K) [, bias (N)], activation -> (..., N) ----
Launch prep_linear(const StepArgs& a) {
  const DevView& x = a.tensor("x", {DType::f32});
  std::shared_ptr<const DeviceWeight> w = a.weight_ref("weight");
  const DevView* b = a.optional_tensor("bias", {DType::f32});
  const DevView& out = a.tensor("out", {DType::f32});
  const std::string act = a.choice("activation", "none", {"none", "gelu", "gelu_tanh", "silu", "relu", "tanh"});
  if (x.rank() < 1 || x.dim(-1) != static_cast<int64_t>(w->k))
    a.range_error("'x' shape " + x.shape_str() + " must end in the weight's K = " + std::to_string(w->k));
  std::vector<int64_t> want = x.shape;
  want.back() = static_cast<int64_t>(w->n);
  a.expect_shape("out", out, want);
  if (b) a.expect_shape("bias", *b, {static_cast<int64_t>(w->n)});
  const float* px = f32p(a, "x", x);
  const float* pb = b ? f32p(a, "bias", *b) : nullptr;
  float* po = f32p(a, "out", out);
  const size_t m = x.numel / w->k, n = w->n;
  return [=](Exec& ex) {
    if (m == 0) return;
    const LinearScratch sc = w->scratch(m);
    uint16_t* halves = ex.take<uint16_t>(sc.halves);
    int8_t* quants = ex.take<int8_t>(sc.quants);
    float* scales = ex.take<float>(sc.scales);
    w->linear(px, m, po, pb, halves, quants, scales, ex.s);
    const size_t total = m * n;
    if (act == "gelu") cuda::gelu_erf_f32(po, po, total, ex.s);
    else if (act == "gelu_tanh") cuda::gelu_tanh_f32(po, po, total, ex.s);
    else if (act == "silu") cuda::silu_f32(po, po, total, ex.s);
    else if (act == "relu") cuda::relu_f32(po, po, total, ex.s);
    else if (act == "tanh") cuda::tanh_f32(po, po, total, ex.s);
  };
}

// ---- rope: x (T, H, D), positions (T) i32 -> (T, H, D), into a value or cache rows ----
// Frequencies as ops/position.cc: given ones (invFreq, LongRoPE's invFreqLong past longFrom),
// dynamic NTK's raised base, else 1 / theta^(2i / rotaryDim). The ones that depend on the
// pass's longest position read the positions on the host (they must be an input of the pass).
Launch prep_rope(const StepArgs& a) {
  const DevView& x = a.tensor("x", {DType::f32});
  const DevView& pos = a.tensor("positions", {DType::i32});
  const DevView& out = a.tensor("out", {DType::f32, DType::f16});
  if (x.rank() != 3) a.range_error("'x' must have shape [tokens, heads, headDim], got " + x.shape_str());
  const int64_t tokens = x.dim(0), heads = x.dim(1), hd = x.dim(2);
  a.expect_shape("positions", pos, {tokens});
  if (out.numel != x.numel || out.shape.empty() || out.dim(0) != tokens)
    a.range_error("'out' shape " + out.shape_str() + " must hold the rows of 'x' " + x.shape_str());
  if (out.dtype == DType::f16 && !out.paged) a.type_error("'out' must be f32");
  const double theta = a.number("theta", 10000.0, 1.0, 1e12);
  const int64_t rd = a.integer("rotaryDim", hd, 0, hd);
  if (rd % 2 != 0) a.range_error("'rotaryDim' must be even, got " + std::to_string(rd));
  const bool interleaved = a.boolean("interleaved", false);
  const size_t half = static_cast<size_t>(rd / 2);
  const DevView* inv_short = a.optional_tensor("invFreq", {DType::f32});
  const DevView* inv_long = a.optional_tensor("invFreqLong", {DType::f32});
  if (inv_short) a.expect_shape("invFreq", *inv_short, {static_cast<int64_t>(half)});
  if (inv_long) {
    a.expect_shape("invFreqLong", *inv_long, {static_cast<int64_t>(half)});
    if (!inv_short) a.range_error("'invFreqLong' needs 'invFreq' (the short factors) and 'longFrom'");
  }
  const int64_t long_from = a.integer("longFrom", 0, 1, int64_t{1} << 31);
  if (inv_long && long_from == 0) a.range_error("'invFreqLong' needs 'invFreq' (the short factors) and 'longFrom'");
  const float scale = static_cast<float>(a.number("scale", 1.0, 1e-6, 1e6));
  const double dyn_factor = a.number("dynamicFactor", 0.0, 1.0, 1e6);
  const int64_t dyn_original = a.integer("dynamicOriginal", 0, 1, int64_t{1} << 31);
  if ((dyn_factor == 0.0) != (dyn_original == 0)) a.range_error("'dynamicFactor' and 'dynamicOriginal' go together");
  if (dyn_factor != 0.0 && (inv_short || half < 2))
    a.range_error("'dynamicFactor' computes its own frequencies from 'theta' (no 'invFreq') and needs rotaryDim >= 4");
  const bool by_length = inv_long || dyn_factor != 0.0;
  std::vector<float> inv_freq;  // frequencies computed on the host, uploaded with the launch
  const float* dev_freq = inv_short && !inv_long ? reinterpret_cast<const float*>(inv_short->data) : nullptr;
  if (by_length) {
    if (!pos.host) a.type_error("'positions' must be an input of the pass when the frequencies depend on the longest position");
    const int32_t* pp = static_cast<const int32_t*>(pos.host);
    int64_t longest = 0;
    for (int64_t t = 0; t < tokens; ++t) {
      if (pp[t] < 0) a.range_error("'positions[" + std::to_string(t) + "]' must be >= 0, got " + std::to_string(pp[t]));
      longest = std::max<int64_t>(longest, int64_t{pp[t]} + 1);
    }
    if (inv_long) {
      const float* src = static_cast<const float*>(longest > long_from ? inv_long->host : inv_short->host);
      if (!src) a.type_error("'invFreq' and 'invFreqLong' must be parameters");
      inv_freq.assign(src, src + half);
    } else {
      float base = static_cast<float>(theta);
      if (longest > dyn_original) {
        const double f = dyn_factor, L = static_cast<double>(longest);
        base = static_cast<float>(theta * std::pow(f * L / static_cast<double>(dyn_original) - (f - 1.0),
                                                   static_cast<double>(rd) / static_cast<double>(rd - 2)));
      }
      for (size_t i = 0; i < half; ++i) inv_freq.push_back(1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(rd)));
    }
  } else if (!inv_short) {
    for (size_t i = 0; i < half; ++i)
      inv_freq.push_back(1.0f / std::pow(static_cast<float>(theta), static_cast<float>(2 * i) / static_cast<float>(rd)));
  }
  const float* px = f32p(a, "x", x);
  const int32_t* pp = reinterpret_cast<const int32_t*>(pos.data);
  if (pos.paged) a.type_error("'positions' may not be rows of sequence state");
  const DevView o = out;
  const size_t t = static_cast<size_t>(tokens), h = static_cast<size_t>(heads), d = static_cast<size_t>(hd);
  return [=, inv_freq = std::move(inv_freq)](Exec& ex) {
    const float* freq = dev_freq;
    if (!freq && half > 0) {
      float* f = ex.take<float>(half);
      ATTNODE_CUDA_CHECK(cudaMemcpyAsync(f, inv_freq.data(), half * 4, cudaMemcpyHostToDevice, ex.s));
      freq = f;
    }
    if (!o.paged) {
      cuda::rope_f32(px, pp, freq, scale, reinterpret_cast<float*>(o.data), t, h, d, static_cast<size_t>(rd), interleaved, ex.s);
      return;
    }
    float* tmp = ex.take<float>(t * h * d);
    cuda::rope_f32(px, pp, freq, scale, tmp, t, h, d, static_cast<size_t>(rd), interleaved, ex.s);
    store_rows(tmp, h * d, o, t, h * d, ex.s);
  };
}

// ---- cast: x f32 -> out of out's dtype (f32 values, or f16 rows of sequence state) ----
Launch prep_cast(const StepArgs& a) {
  const DevView& x = a.tensor("x", {DType::f32});
  const DevView& out = a.tensor("out", {DType::f32, DType::f16});
  if (out.numel != x.numel || x.rank() < 1 || out.shape.empty() || out.dim(0) != x.dim(0))
    a.range_error("'out' shape " + out.shape_str() + " must hold the rows of 'x' " + x.shape_str());
  if (out.dtype == DType::f16 && !out.paged) a.type_error("'out' must be f32 outside sequence state");
  const float* px = f32p(a, "x", x);
  const size_t rows = static_cast<size_t>(x.dim(0)), elems = rows == 0 ? 0 : x.numel / rows;
  const DevView o = out;
  return [=](Exec& ex) {
    if (rows > 0 && elems > 0) store_rows(px, elems, o, rows, elems, ex.s);
  };
}

// K or V rows as the attention kernel reads them: state pages or a contiguous f32 value.
cuda::DeviceRows kv_rows(const DevView& v, size_t row_bytes) {
  if (v.paged) return v.rows;
  cuda::DeviceRows r;
  r.base = v.data;
  r.row_bytes = row_bytes;
  return r;
}

// ---- attention: q (Tq, Hq, D), k, v (Tk, Hkv, D) f32|f16 -> (Tq, Hq, D) ----
Launch prep_attention(const StepArgs& a) {
  const DevView& q = a.tensor("q", {DType::f32});
  const DevView& k = a.tensor("k", {DType::f32, DType::f16});
  const DevView& v = a.tensor("v", {DType::f32, DType::f16});
  const DevView& out = a.tensor("out", {DType::f32});
  a.refuse("mask", "the CUDA kernel takes causal, window, softcap and position-bias masking only");
  if (q.rank() != 3) a.range_error("'q' must have shape [Tq, Hq, D] (no batch dimension on CUDA), got " + q.shape_str());
  if (k.rank() != 3 || v.shape != k.shape) a.range_error("'k' and 'v' must have one shape [Tk, Hkv, D], got " + k.shape_str() + " and " + v.shape_str());
  if (v.dtype != k.dtype) a.type_error("'v'.dtype must equal 'k'.dtype");
  const int64_t tq = q.dim(0), hq = q.dim(1), d = q.dim(2), tk = k.dim(0), hkv = k.dim(1);
  if (k.dim(2) != d) a.range_error("'k' head size " + std::to_string(k.dim(2)) + " must equal 'q' head size " + std::to_string(d));
  if (hkv == 0 || hq % hkv != 0) a.range_error("'q' heads (" + std::to_string(hq) + ") must be a multiple of 'k' heads (" + std::to_string(hkv) + ")");
  if (d < 1 || d > static_cast<int64_t>(cuda::kAttnMaxD))
    a.range_error("head size " + std::to_string(d) + " is outside what the CUDA kernel takes, [1, " + std::to_string(cuda::kAttnMaxD) + "]");
  a.expect_shape("out", out, q.shape);
  cuda::AttentionArgs p;
  p.causal = a.boolean("causal", false);
  p.q_offset = a.integer("qOffset", tk - tq, -(int64_t{1} << 40), int64_t{1} << 40);
  p.scale = static_cast<float>(a.number("scale", 1.0 / std::sqrt(static_cast<double>(d)), -3.4e38, 3.4e38));
  p.window = a.integer("window", 0, 1, int64_t{1} << 40);
  p.softcap = static_cast<float>(a.number("softcap", 0.0, 1e-6, 3.4e38));
  const std::string bias_kind = a.choice("positionBias", "", {"t5", "alibi"});
  cuda::PositionBiasArgs pb;
  bool has_bias = false;
  if (bias_kind.empty()) {
    for (const char* n : {"biasTable", "maxDistance", "bidirectional"})
      if (a.has(n)) a.type_error(std::string("'") + n + "' needs 'positionBias' ('t5' or 'alibi')");
  } else {
    has_bias = true;
    const DevView& table = a.tensor("biasTable", {DType::f32});
    pb.table = f32p(a, "biasTable", table);
    if (bias_kind == "alibi") {
      pb.kind = cuda::PositionBiasKind::alibi;
      a.expect_shape("biasTable", table, {hq});
      if (a.has("maxDistance") || a.has("bidirectional")) a.type_error("'maxDistance' and 'bidirectional' apply to positionBias 't5' only");
    } else {
      pb.kind = cuda::PositionBiasKind::t5;
      if (table.rank() != 2 || table.dim(1) != hq || table.dim(0) < 2)
        a.range_error("'biasTable' must have shape [numBuckets >= 2, " + std::to_string(hq) + "], got " + table.shape_str());
      pb.buckets = static_cast<size_t>(table.dim(0));
      pb.max_distance = a.integer("maxDistance", 128, 1, int64_t{1} << 30);
      pb.bidirectional = a.boolean("bidirectional", !p.causal);
      if (pb.bidirectional && pb.buckets < 4) a.range_error("'biasTable' needs at least 4 buckets when bidirectional");
    }
  }
  const size_t elem = k.dtype == DType::f16 ? 2 : 4;
  const size_t row_bytes = static_cast<size_t>(hkv * d) * elem;
  p.q = f32p(a, "q", q);
  p.k = kv_rows(k, row_bytes);
  p.v = kv_rows(v, row_bytes);
  p.kv_f16 = k.dtype == DType::f16;
  p.out = f32p(a, "out", out);
  p.tq = static_cast<size_t>(tq);
  p.tk = static_cast<size_t>(tk);
  p.hq = static_cast<size_t>(hq);
  p.hkv = static_cast<size_t>(hkv);
  p.d = static_cast<size_t>(d);
  return [=](Exec& ex) {
    cuda::AttentionArgs r = p;
    if (has_bias && r.tq > 0 && r.tk > 0) {
      float* table = ex.take<float>(r.hq * (r.tq + r.tk - 1));
      cuda::position_bias_table_f32(pb, table, r.hq, r.tq, r.tk, r.q_offset, ex.s);
      r.bias = table;
    }
    cuda::attention_f32(r, ex.take<float>(cuda::attention_workspace_floats(r)), ex.s);
  };
}

const std::map<std::string, Prepare>& table() {
  static const std::map<std::string, Prepare> t = {
      {"add", prep_binary<false>},   {"mul", prep_binary<true>},   {"scale", prep_scale},       {"gelu", prep_gelu},
      {"silu", prep_silu},           {"softmax", prep_softmax},    {"layerNorm", prep_norm<true>}, {"rmsNorm", prep_norm<false>},
      {"linear", prep_linear},       {"embedding", prep_embedding}, {"rope", prep_rope},        {"cast", prep_cast},
      {"attention", prep_attention},
  };
  return t;
}

}  // namespace

Prepare find_cuda_op(const std::string& name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : it->second;
}

std::vector<std::string> cuda_op_names() {
  std::vector<std::string> n;
  for (const auto& [k, v] : table()) n.push_back(k);
  return n;
}

}  // namespace attnode::cuda_js
