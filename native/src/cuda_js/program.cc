// CudaProgram: a planned forward pass compiled once for the CUDA device, the twin of the CPU's
// Program (program.cc; same description and operands, see there), plus:
//   inputs, outputs: [{ slot, shape }] the slot views the host writes before a pass (uploaded at
//                    its start) and reads after it (copied back at its end), shapes as operands'.
// At compile every slot gets device memory, parameter tensors are uploaded once (shared by the
// programs of one model: the same host bytes map to the same device copy), and weights must be
// the cuda backend's. A pass checks every step on the JS thread as the CPU does, then one job on
// the addon's dispatch thread uploads the inputs and the states' page tables, enqueues every
// kernel on the context's stream, copies the outputs back and synchronizes once.
// Sequence states must come from a pool with device: 'cuda' (their pages are device memory).
#include <napi.h>

#include <cmath>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "cuda_bridge.h"
#include "formats.h"
#include "ops.h"
#include "program.h"
#include "program_parts.h"
#include "state_js.h"
#include "weight.h"

namespace attnode::cuda_js {
namespace {

using namespace program_detail;

// Parameter tensors on the device, shared by every program that names the same host bytes. A
// program keeps the host arrays it read alive (refs_), so while a device copy exists its host
// bytes cannot have been freed and reused for other values (parameters are never written).
struct Param {
  DeviceBytesRef dev;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  size_t numel = 0;
  const void* host = nullptr;    // the host values (f32 when converted), for ops that read them
  std::vector<float> converted;  // block formats and i8 widened to f32 on the host
};

std::mutex g_params_mu;
std::map<std::tuple<const void*, size_t, int>, std::weak_ptr<Param>> g_params;

std::shared_ptr<Param> upload_param(const TensorView& t) {
  const auto key = std::make_tuple(static_cast<const void*>(t.data), t.nbytes, static_cast<int>(t.dtype));
  std::lock_guard<std::mutex> lock(g_params_mu);
  if (auto p = g_params[key].lock()) return p;
  for (auto it = g_params.begin(); it != g_params.end();) it = it->second.expired() ? g_params.erase(it) : std::next(it);
  auto p = std::make_shared<Param>();
  p->shape = t.shape;
  p->numel = t.numel;
  if (t.dtype == DType::f32 || t.dtype == DType::f16 || t.dtype == DType::bf16 || t.dtype == DType::i32) {
    p->dtype = t.dtype;
    p->dev = upload(t.data, t.nbytes);
    p->host = t.data;
  } else {
    // Block formats (a GGUF token table): f32 values from the format table's reference.
    p->dtype = DType::f32;
    p->converted = to_f32(t.dtype, t.data, t.numel);
    p->dev = upload(p->converted.data(), p->converted.size() * 4);
    p->host = p->converted.data();
  }
  g_params[key] = p;
  return p;
}

struct DeviceSlot {
  napi_typedarray_type type;
  size_t elements = 0;
  DeviceBytesRef dev;
};

struct CStep {
  std::string op;
  Prepare prepare = nullptr;
  bool per_segment = false;
  std::vector<Operand> args;
};

// One host <-> device copy of a pass.
struct Copy {
  void* dst;
  const void* src;
  size_t bytes;
};

class CudaProgram : public Napi::ObjectWrap<CudaProgram> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaProgram",
                       {
                           InstanceMethod("run", &CudaProgram::Run),
                           InstanceMethod("dispose", &CudaProgram::Dispose),
                           InstanceAccessor("steps", &CudaProgram::Steps, nullptr),
                           InstanceAccessor("deviceBytes", &CudaProgram::DeviceBytesHeld, nullptr),
                       });
  }

  explicit CudaProgram(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaProgram>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "CudaProgram: 'desc' must be an object");
    Napi::Object desc = info[0].As<Napi::Object>();
    try {
      context();
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("CudaProgram: ") + e.what());
    }
    Napi::Value sv = desc.Get("slots");
    if (!sv.IsArray()) throw Napi::TypeError::New(env, "CudaProgram: 'slots' must be an array of typed arrays");
    Napi::Array slots = sv.As<Napi::Array>();
    for (uint32_t i = 0; i < slots.Length(); ++i) {
      Napi::Value s = slots.Get(i);
      const std::string what = "CudaProgram: slots[" + std::to_string(i) + "]";
      if (!s.IsTypedArray()) throw Napi::TypeError::New(env, what + " must be a Float32Array or Int32Array");
      const napi_typedarray_type t = s.As<Napi::TypedArray>().TypedArrayType();
      if (t != napi_float32_array && t != napi_int32_array) throw Napi::TypeError::New(env, what + " must be a Float32Array or Int32Array");
      const Buffer b = typed_array(env, s, t, [&] { return what; });
      require_shared(env, s, what);
      DeviceSlot d;
      d.type = t;
      d.elements = b.elements;
      try {
        d.dev = std::make_shared<DeviceBytes>(b.elements * 4);
      } catch (const std::exception& e) {
        throw Napi::Error::New(env, what + ": " + e.what());
      }
      dev_slots_.push_back(std::move(d));
      slots_.push_back(Napi::Persistent(s));
    }
    Napi::Value lv = desc.Get("layers");
    const double layers = lv.IsNumber() ? lv.As<Napi::Number>().DoubleValue() : -1;
    if (!(layers >= 0 && layers <= 65536) || layers != std::floor(layers))
      throw Napi::RangeError::New(env, "CudaProgram: 'layers' must be an integer in [0, 65536]");
    layers_ = static_cast<int>(layers);
    for (const char* part : {"inputs", "outputs"}) {
      Napi::Value v = desc.Get(part);
      if (!v.IsArray()) throw Napi::TypeError::New(env, std::string("CudaProgram: '") + part + "' must be an array of { slot, shape }");
      Napi::Array a = v.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        const std::string at = std::string("CudaProgram: ") + part + "[" + std::to_string(i) + "]";
        if (!a.Get(i).IsObject()) throw Napi::TypeError::New(env, at + " must be { slot, shape }");
        Napi::Object o = a.Get(i).As<Napi::Object>();
        Operand op;
        op.kind = Kind::slot;
        op.index = read_index(env, at + ".slot", o.Get("slot"), dev_slots_.size());
        op.shape = read_shape(env, at + ".shape", o.Get("shape"), false);
        (part[0] == 'i' ? inputs_ : outputs_).push_back(op);
      }
    }
    input_slot_.assign(dev_slots_.size(), false);
    for (const Operand& op : inputs_) input_slot_[static_cast<size_t>(op.index)] = true;
    Napi::Value stv = desc.Get("steps");
    if (!stv.IsArray()) throw Napi::TypeError::New(env, "CudaProgram: 'steps' must be an array");
    Napi::Array steps = stv.As<Napi::Array>();
    for (uint32_t i = 0; i < steps.Length(); ++i) steps_.push_back(read_step(env, i, steps.Get(i)));
  }

 private:
  CStep read_step(Napi::Env env, uint32_t index, Napi::Value v) {
    const std::string at = "CudaProgram: steps[" + std::to_string(index) + "]";
    if (!v.IsObject()) throw Napi::TypeError::New(env, at + " must be an object { op, perSegment, args }");
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value name = o.Get("op");
    if (!name.IsString()) throw Napi::TypeError::New(env, at + ".op must be an op name string");
    CStep step;
    step.op = name.As<Napi::String>().Utf8Value();
    step.prepare = find_cuda_op(step.op);
    if (!step.prepare) {
      std::string list;
      for (const std::string& n : cuda_op_names()) list += (list.empty() ? "" : ", ") + n;
      throw Napi::TypeError::New(env, at + ": op '" + step.op + "' does not run on the cuda backend (it runs " + list + ")");
    }
    step.per_segment = o.Get("perSegment").ToBoolean().Value();
    Napi::Value av = o.Get("args");
    if (!av.IsObject()) throw Napi::TypeError::New(env, at + ".args must be an object");
    Napi::Object args = av.As<Napi::Object>();
    Napi::Array keys = args.GetPropertyNames();
    for (uint32_t k = 0; k < keys.Length(); ++k) {
      Operand op;
      op.name = keys.Get(k).ToString().Utf8Value();
      read_operand(env, at + ".args." + op.name, step, args, op);
      step.args.push_back(std::move(op));
    }
    return step;
  }

  void read_operand(Napi::Env env, const std::string& at, const CStep& step, Napi::Object args, Operand& op) {
    Napi::Value v = args.Get(op.name);
    ArgVal val;
    if (v.IsNumber()) {
      val.kind = ArgVal::Kind::number;
      val.number = v.As<Napi::Number>().DoubleValue();
    } else if (v.IsString()) {
      val.kind = ArgVal::Kind::string;
      val.string = v.As<Napi::String>().Utf8Value();
    } else if (v.IsBoolean()) {
      val.kind = ArgVal::Kind::boolean;
      val.boolean = v.As<Napi::Boolean>().Value();
    } else if (v.IsUndefined() || v.IsNull()) {
      val.kind = ArgVal::Kind::none;
    } else if (v.IsObject() && !v.IsArray() && !v.IsTypedArray()) {
      Napi::Object o = v.As<Napi::Object>();
      if (o.Has("slot")) {
        op.kind = Kind::slot;
        op.index = read_index(env, at + ".slot", o.Get("slot"), dev_slots_.size());
        op.shape = read_shape(env, at + ".shape", o.Get("shape"), step.per_segment);
        return;
      }
      if (o.Has("cache")) {
        read_cache(env, at, step, o, op);
        return;
      }
      if (o.Has("data") || o.Has("file")) {
        Args a(env, step.op, args);
        const TensorView t = a.tensor(op.name.c_str(), {DType::f32, DType::f16, DType::bf16, DType::i32, DType::q8_0, DType::q4_0, DType::q4_1,
                                                         DType::q5_0, DType::q5_1, DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k,
                                                         DType::q6_k, DType::iq4_nl, DType::iq4_xs});
        for (auto& m : a.take_mappings()) mappings_.push_back(std::move(m));
        for (auto& r : a.take_refs()) refs_.push_back(std::move(r));
        try {
          params_.push_back(upload_param(t));
        } catch (const std::exception& e) {
          throw Napi::Error::New(env, at + ": " + e.what());
        }
        op.kind = Kind::fixed;
        op.index = static_cast<int>(params_.size() - 1);
        return;
      }
      val.kind = ArgVal::Kind::weight;
      val.weight = unwrap_weight(env, v, cuda_weight_ctor(env), at);
    } else {
      throw Napi::TypeError::New(env, at + " must be a number, string, boolean, tensor, slot or cache operand, or a cuda weight");
    }
    op.kind = Kind::value;
    op.value = static_cast<uint32_t>(values_.size());
    values_.push_back(std::move(val));
  }

  void read_cache(Napi::Env env, const std::string& at, const CStep& step, Napi::Object o, Operand& op) {
    if (!step.per_segment) throw Napi::RangeError::New(env, at + ": cache operands need a per-segment step");
    op.kind = Kind::cache;
    const std::string which = o.Get("cache").ToString().Utf8Value();
    const std::string rows = o.Get("rows").ToString().Utf8Value();
    if (which != "k" && which != "v") throw Napi::RangeError::New(env, at + ".cache must be 'k' or 'v'");
    if (rows != "new" && rows != "all") throw Napi::RangeError::New(env, at + ".rows must be 'new' or 'all'");
    op.v_cache = which == "v";
    op.all_rows = rows == "all";
    const Napi::Value pv = o.Get("part");
    const std::string part = pv.IsUndefined() ? std::string("self") : pv.ToString().Utf8Value();
    if (part != "self" && part != "static") throw Napi::RangeError::New(env, at + ".part must be 'self' or 'static'");
    op.static_part = part == "static";
    if (!op.all_rows) {
      (op.static_part ? writes_static_ : writes_self_) = true;
      if (writes_static_ && writes_self_)
        throw Napi::RangeError::New(env, at + ": a program appends rows to one part of the state, 'self' or 'static', not both");
    }
    const Napi::Value dv = o.Get("dtype");
    const std::string dt = dv.IsUndefined() ? std::string("f32") : dv.ToString().Utf8Value();
    if (dt != "f32" && dt != "f16") throw Napi::RangeError::New(env, at + ".dtype must be 'f32' or 'f16'");
    const DType ct = dt == "f16" ? DType::f16 : DType::f32;
    if (has_cache_type_ && ct != cache_type_) throw Napi::RangeError::New(env, at + ".dtype is '" + dt + "' but an earlier cache operand has the other dtype");
    cache_type_ = ct;
    has_cache_type_ = true;
    op.index = read_index(env, at + ".layer", o.Get("layer"), static_cast<size_t>(layers_));
    op.shape = read_shape(env, at + ".shape", o.Get("shape"), true);
    if (op.shape.empty() || (op.shape[0].sym != 'T' && op.shape[0].sym != 'S' && op.shape[0].sym != 'E'))
      throw Napi::RangeError::New(env, at + ".shape must start with 'T', 'S' or 'E' (rows)");
    size_t row = 1;
    for (size_t i = 1; i < op.shape.size(); ++i) {
      if (op.shape[i].sym != 0) throw Napi::RangeError::New(env, at + ".shape must be constant after its rows");
      row *= static_cast<size_t>(op.shape[i].value);
    }
    if (cache_row_ != 0 && row != cache_row_)
      throw Napi::RangeError::New(env, at + ": rows of " + std::to_string(row) + " elements, but an earlier cache operand has " + std::to_string(cache_row_));
    cache_row_ = row;
  }

  // One segment's state in a pass: its table and the device copies of its page tables.
  struct SegState {
    std::shared_ptr<SeqTable> table;
    std::vector<PageRef> pages;            // both parts, held by the job
    std::vector<char*> self_host, static_host;
    DeviceBytesRef self_dev, static_dev;  // device arrays of page pointers
  };

  std::vector<SegState> read_states(Napi::Env env, Napi::Value v, std::vector<Lengths>& segs) {
    const size_t B = segs.size();
    if (!v.IsArray() || v.As<Napi::Array>().Length() != B)
      throw Napi::TypeError::New(env, "CudaProgram.run: 'states' must be an array with one SequenceState (or null) per segment");
    std::vector<SegState> out(B);
    for (uint32_t i = 0; i < B; ++i) {
      const std::string at = "CudaProgram.run: states[" + std::to_string(i) + "]";
      Napi::Value sv = v.As<Napi::Array>().Get(i);
      if (sv.IsNull() || sv.IsUndefined()) {
        if (has_cache_type_) throw Napi::TypeError::New(env, at + " is missing: this program reads and writes sequence state");
        continue;
      }
      std::shared_ptr<SeqTable> t = unwrap_state(env, sv, at);
      if (!t->pool->memory().device())
        throw Napi::TypeError::New(env, at + " holds its rows in host memory; the cuda backend needs state from its own pool (device pages)");
      const StateLayout& L = t->pool->layout();
      const size_t elem = L.dtype == DType::f16 ? 2 : 4;
      if (L.layers < layers_ || (has_cache_type_ && (L.dtype != cache_type_ || L.row_bytes != cache_row_ * elem)))
        throw Napi::TypeError::New(env, at + " has " + std::to_string(L.layers) + " layers of " + std::to_string(L.row_bytes / elem) + " " +
                                            dtype_name(L.dtype) + " per row; this program needs " + std::to_string(layers_) + " of " +
                                            std::to_string(cache_row_) + " " + dtype_name(cache_type_));
      if (t->busy.load() > 0) throw Napi::Error::New(env, at + " is used by a pass that has not settled; await it first");
      const size_t held = writes_static_ ? t->static_length : t->length;
      if (static_cast<size_t>(segs[i].p) != held)
        throw Napi::RangeError::New(env, at + " holds " + std::to_string(held) + (writes_static_ ? " static" : "") + " rows, but the segment says " +
                                            std::to_string(segs[i].p) + " are cached");
      for (uint32_t j = 0; j < i; ++j)
        if (out[j].table == t) throw Napi::RangeError::New(env, at + " is also states[" + std::to_string(j) + "]: a pass takes each state once");
      out[i].table = std::move(t);
    }
    for (size_t i = 0; i < B; ++i) {
      SeqTable* t = out[i].table.get();
      if (!t) continue;
      try {
        const size_t from = static_cast<size_t>(segs[i].p), to = static_cast<size_t>(segs[i].p + segs[i].t);
        if (writes_static_) t->prepare_static_write(from, to);
        else if (writes_self_) t->prepare_write(from, to);
        segs[i].e = static_cast<int64_t>(t->static_length) + (writes_static_ ? segs[i].t : 0);
        out[i].pages = t->pages;
        out[i].pages.insert(out[i].pages.end(), t->static_pages.begin(), t->static_pages.end());
        for (const PageRef& pg : t->pages) out[i].self_host.push_back(pg ? pg->data : nullptr);
        for (const PageRef& pg : t->static_pages) out[i].static_host.push_back(pg->data);
        out[i].self_dev = std::make_shared<DeviceBytes>(std::max<size_t>(1, out[i].self_host.size()) * sizeof(char*));
        out[i].static_dev = std::make_shared<DeviceBytes>(std::max<size_t>(1, out[i].static_host.size()) * sizeof(char*));
      } catch (const StateBudgetError& e) {
        throw Napi::RangeError::New(env, "CudaProgram.run: states[" + std::to_string(i) + "]: " + e.what() +
                                             "; dispose finished sequences or raise the state budget");
      } catch (const std::exception& e) {
        throw Napi::Error::New(env, "CudaProgram.run: states[" + std::to_string(i) + "]: " + e.what());
      }
    }
    return out;
  }

  // A slot view for lengths n from row first_row (bounds-checked), with its host copy for inputs.
  DevView slot_view(Napi::Env env, const std::string& at, const Operand& op, const Lengths& n, size_t first_row,
                    const std::vector<Buffer>& host) const {
    TensorView tv;
    const DeviceSlot& s = dev_slots_[static_cast<size_t>(op.index)];
    const DType dt = s.type == napi_int32_array ? DType::i32 : DType::f32;
    view_of(env, [&] { return at; }, op, n, first_row, dt, Buffer{s.dev->p, s.elements}, tv);
    DevView v;
    v.dtype = dt;
    v.shape = tv.shape;
    v.numel = tv.numel;
    v.data = static_cast<char*>(tv.data);
    if (input_slot_[static_cast<size_t>(op.index)])
      v.host = static_cast<const char*>(host[static_cast<size_t>(op.index)].data) + (v.data - static_cast<char*>(s.dev->p));
    return v;
  }

  DevView cache_view(const Operand& op, const Lengths& n, const SegState& st) const {
    const StateLayout& L = st.table->pool->layout();
    DevView v;
    v.dtype = cache_type_;
    const int64_t rows = op.all_rows ? (op.static_part ? n.e : n.p + n.t) : n.t;
    v.shape.push_back(rows);
    for (size_t i = 1; i < op.shape.size(); ++i) v.shape.push_back(op.shape[i].value);
    v.numel = static_cast<size_t>(rows) * cache_row_;
    v.paged = true;
    v.rows.pages = (op.static_part ? st.static_dev : st.self_dev)->as<const char* const>();
    v.rows.page_rows = L.page_rows;
    v.rows.shift = L.page_shift;
    v.rows.row_bytes = L.row_bytes;
    v.rows.offset = L.part_offset(op.index, op.v_cache);
    v.rows.first = op.all_rows ? 0 : static_cast<size_t>(n.p);
    return v;
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) throw Napi::Error::New(env, "CudaProgram.run: the program was disposed");
    try {
      cuda::throw_if_lost();
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("CudaProgram.run: ") + e.what());
    }
    int64_t T = 0;
    std::vector<Lengths> segs = read_segments(env, info.Length() > 0 ? info[0] : env.Undefined(), &T);
    const size_t B = segs.size();
    std::vector<Napi::Reference<Napi::Value>> keep;
    keep.push_back(Napi::Persistent(static_cast<Napi::Value>(Value())));
    std::vector<Buffer> host(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) {
      host[i] = typed_array(env, slots_[i].Value(), dev_slots_[i].type, [&] { return "CudaProgram.run: slot " + std::to_string(i); });
      if (host[i].elements != dev_slots_[i].elements) throw Napi::RangeError::New(env, "CudaProgram.run: slot " + std::to_string(i) + " changed size");
    }
    std::vector<SegState> states = read_states(env, info.Length() > 1 ? info[1] : env.Undefined(), segs);
    const Lengths whole{T, 0, static_cast<int64_t>(B)};

    // The pass's copies: inputs up, outputs down (their views for this pass's T and B).
    std::vector<Copy> ups, downs;
    for (size_t i = 0; i < inputs_.size() + outputs_.size(); ++i) {
      const bool in = i < inputs_.size();
      const Operand& op = in ? inputs_[i] : outputs_[i - inputs_.size()];
      const DevView v = slot_view(env, std::string("CudaProgram.run: ") + (in ? "input " : "output ") + std::to_string(i), op, whole, 0, host);
      char* h = static_cast<char*>(host[static_cast<size_t>(op.index)].data) + (v.data - static_cast<char*>(dev_slots_[static_cast<size_t>(op.index)].dev->p));
      if (in) ups.push_back({v.data, h, v.numel * 4});
      else downs.push_back({h, v.data, v.numel * 4});
    }

    std::vector<Launch> launches;
    std::vector<ArgVal> resolved;
    auto prepare = [&](size_t si, const Lengths& n, int64_t row, const SegState* st) {
      const CStep& s = steps_[si];
      resolved.assign(s.args.size(), ArgVal{});
      std::vector<std::pair<std::string, const ArgVal*>> named;
      for (size_t a = 0; a < s.args.size(); ++a) {
        const Operand& op = s.args[a];
        const std::string at = "cuda program step " + std::to_string(si) + " (" + s.op + ") '" + op.name + "'";
        ArgVal& r = resolved[a];
        switch (op.kind) {
          case Kind::slot:
            r.kind = ArgVal::Kind::view;
            r.view = slot_view(env, at, op, n, s.per_segment && !op.shape.empty() && op.shape[0].sym == 'T' ? static_cast<size_t>(row) : 0, host);
            break;
          case Kind::cache:
            if (!st || !st->table) throw Napi::TypeError::New(env, at + ": the segment has no sequence state");
            r.kind = ArgVal::Kind::view;
            r.view = cache_view(op, n, *st);
            break;
          case Kind::fixed: {
            const Param& p = *params_[static_cast<size_t>(op.index)];
            r.kind = ArgVal::Kind::view;
            r.view.dtype = p.dtype;
            r.view.shape = p.shape;
            r.view.numel = p.numel;
            r.view.data = static_cast<char*>(p.dev->p);
            r.view.host = p.host;
            break;
          }
          case Kind::value:
            r = values_[op.value];
            break;
        }
        named.emplace_back(op.name, &r);
      }
      try {
        launches.push_back(s.prepare(StepArgs("cuda " + s.op + " (step " + std::to_string(si) + ")", std::move(named))));
      } catch (const OpError& e) {
        if (e.type) throw Napi::TypeError::New(env, e.what());
        throw Napi::RangeError::New(env, e.what());
      }
    };
    for (size_t si = 0; si < steps_.size(); ++si) {
      const CStep& s = steps_[si];
      if (!s.per_segment) {
        prepare(si, whole, 0, nullptr);
        continue;
      }
      int64_t row = 0;
      for (size_t k = 0; k < B; ++k) {
        prepare(si, segs[k], row, &states[k]);
        row += segs[k].t;
      }
    }

    std::vector<std::shared_ptr<BusyGuard>> busy;
    for (size_t k = 0; k < B; ++k) {
      if (!states[k].table) continue;
      if (writes_static_) states[k].table->static_length = static_cast<size_t>(segs[k].p + segs[k].t);
      else if (writes_self_) states[k].table->length = static_cast<size_t>(segs[k].p + segs[k].t);
      busy.push_back(std::make_shared<BusyGuard>(states[k].table));
    }
    const RunTarget target = run_target(env);
    return target.runner->submit(
        env,
        [launches = std::move(launches), ups = std::move(ups), downs = std::move(downs), states = std::move(states),
         busy = std::move(busy), slots = dev_slots_, params = params_] {
          CudaContext& c = context();
          cuda::throw_if_lost();
          ATTNODE_CUDA_CHECK(cudaSetDevice(0));
          for (const Copy& u : ups)
            if (u.bytes) ATTNODE_CUDA_CHECK(cudaMemcpyAsync(u.dst, u.src, u.bytes, cudaMemcpyHostToDevice, c.s()));
          for (const SegState& st : states) {
            if (!st.table) continue;
            if (!st.self_host.empty())
              ATTNODE_CUDA_CHECK(cudaMemcpyAsync(st.self_dev->p, st.self_host.data(), st.self_host.size() * sizeof(char*), cudaMemcpyHostToDevice, c.s()));
            if (!st.static_host.empty())
              ATTNODE_CUDA_CHECK(cudaMemcpyAsync(st.static_dev->p, st.static_host.data(), st.static_host.size() * sizeof(char*), cudaMemcpyHostToDevice, c.s()));
          }
          Exec ex{c.s(), {}};
          for (const Launch& l : launches) {
            l(ex);
            ex.scratch.clear();  // back to the cache: later launches on this stream may reuse it
          }
          for (const Copy& d : downs)
            if (d.bytes) ATTNODE_CUDA_CHECK(cudaMemcpyAsync(d.dst, d.src, d.bytes, cudaMemcpyDeviceToHost, c.s()));
          c.stream.synchronize();  // the pass's one synchronization: kernel faults surface here
        },
        std::move(keep));
  }

  // Device slots and this program's hold on its parameters go now; a pass in flight keeps its own.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    disposed_ = true;
    dev_slots_.clear();
    params_.clear();
    values_.clear();
    return info.Env().Undefined();
  }
  Napi::Value Steps(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(steps_.size())); }
  Napi::Value DeviceBytesHeld(const Napi::CallbackInfo& info) {
    size_t b = 0;
    for (const DeviceSlot& s : dev_slots_) b += s.dev->bytes;
    return Napi::Number::New(info.Env(), static_cast<double>(b));
  }

  std::vector<Napi::Reference<Napi::Value>> slots_;
  std::vector<DeviceSlot> dev_slots_;
  std::vector<bool> input_slot_;
  std::vector<Operand> inputs_, outputs_;
  std::vector<std::shared_ptr<Param>> params_;
  std::vector<ArgVal> values_;
  std::vector<CStep> steps_;
  std::vector<Napi::Reference<Napi::Value>> refs_;
  std::vector<std::shared_ptr<const MappedFile>> mappings_;
  DType cache_type_ = DType::f32;
  size_t cache_row_ = 0;
  bool writes_self_ = false, writes_static_ = false, has_cache_type_ = false;
  int layers_ = 0;
  bool disposed_ = false;
};

}  // namespace

Napi::Function define_cuda_program(Napi::Env env) { return CudaProgram::Define(env); }

}  // namespace attnode::cuda_js
