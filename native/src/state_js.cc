// The Node-API surface of sequence state (state.h): StatePool and SequenceState handles.
// JavaScript holds handles only; the rows stay in native pages that no JS buffer views.
//
//   new StatePool({ layers, kvHeads, headDim, dtype: 'f32'|'f16', pageRows, budgetBytes, device?: 'host'|'cuda' })
//     ('cuda': pages in device memory, for the cuda backend's programs; host code never reads them)
//     .create()                 a new, empty SequenceState
//     .reorder(states, parents) states[i] takes parents[i]'s page table (beam selection):
//                               page tables move, no row is copied now
//     .attachPrefix(state, ids) attaches the cached pages of ids' longest cached prefix to an
//                               empty state (leaving at least one id to run); returns the rows
//     .publishPrefix(state, ids) caches the state's full pages that ids cover
//     .clearPrefix(), .stats(), .dispose()
//   SequenceState: .length, .pages, .bytes, .fork(), .truncate(n), .dispose(), .disposed
#include "state_js.h"

#include <cmath>
#include <string>

#include "args.h"
#include "cuda_bridge.h"

namespace attnode {
namespace {

double read_positive(Napi::Env env, Napi::Object o, const char* name, double max) {
  Napi::Value v = o.Get(name);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 1 && d <= max) || d != std::floor(d))
    throw Napi::RangeError::New(env, std::string("StatePool: '") + name + "' must be an integer in [1, " + std::to_string(static_cast<uint64_t>(max)) + "]");
  return d;
}

}  // namespace

class SequenceStateJS : public Napi::ObjectWrap<SequenceStateJS> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SequenceState",
                       {
                           InstanceAccessor("length", &SequenceStateJS::Length, nullptr),
                           InstanceAccessor("staticLength", &SequenceStateJS::StaticLength, nullptr),
                           InstanceAccessor("pages", &SequenceStateJS::Pages, nullptr),
                           InstanceAccessor("bytes", &SequenceStateJS::Bytes, nullptr),
                           InstanceAccessor("capacity", &SequenceStateJS::Capacity, nullptr),
                           InstanceAccessor("disposed", &SequenceStateJS::Disposed, nullptr),
                           InstanceAccessor("busy", &SequenceStateJS::Busy, nullptr),
                           InstanceMethod("fork", &SequenceStateJS::Fork),
                           InstanceMethod("truncate", &SequenceStateJS::Truncate),
                           InstanceMethod("forget", &SequenceStateJS::Forget),
                           InstanceAccessor("forgotten", &SequenceStateJS::Forgotten, nullptr),
                           InstanceMethod("dispose", &SequenceStateJS::Dispose),
                       });
  }
  explicit SequenceStateJS(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SequenceStateJS>(info) {}

  std::shared_ptr<SeqTable> table;

  // The table, or an Error naming `fn` when disposed or (for changes) busy.
  SeqTable& usable(Napi::Env env, const char* fn, bool change) {
    if (!table) throw Napi::Error::New(env, std::string("SequenceState.") + fn + ": the state was disposed");
    if (change && table->busy.load() > 0)
      throw Napi::Error::New(env, std::string("SequenceState.") + fn + ": a pass that uses this state has not settled; await it first");
    return *table;
  }

 private:
  Napi::Value Length(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), table ? static_cast<double>(table->length) : 0.0); }
  Napi::Value StaticLength(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), table ? static_cast<double>(table->static_length) : 0.0);
  }
  Napi::Value Pages(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), table ? static_cast<double>(table->page_count()) : 0.0); }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), table ? static_cast<double>(table->page_count() * table->pool->layout().page_bytes) : 0.0);
  }
  Napi::Value Capacity(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), table ? static_cast<double>(table->capacity()) : 0.0); }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !table); }
  Napi::Value Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), table && table->busy.load() > 0); }

  Napi::Value Fork(const Napi::CallbackInfo& info);

  Napi::Value Truncate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SeqTable& t = usable(env, "truncate", true);
    const double n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(n >= 0 && n <= static_cast<double>(t.length)) || n != std::floor(n))
      throw Napi::RangeError::New(env, "SequenceState.truncate: 'length' must be an integer in [0, " + std::to_string(t.length) + "]");
    if (static_cast<size_t>(n) < t.forgotten)
      throw Napi::RangeError::New(env, "SequenceState.truncate: rows before " + std::to_string(t.forgotten) +
                                           " were forgotten (a sliding window's past); truncate to at least that");
    t.truncate(static_cast<size_t>(n));
    return env.Undefined();
  }

  // forget(rows): lets go of the whole pages before row `rows` (a model whose every layer
  // attends over a sliding window never reads them again). The rows count on; the pages return.
  Napi::Value Forget(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SeqTable& t = usable(env, "forget", true);
    const double n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(n >= 0 && n <= static_cast<double>(t.length)) || n != std::floor(n))
      throw Napi::RangeError::New(env, "SequenceState.forget: 'rows' must be an integer in [0, " + std::to_string(t.length) + "]");
    t.forget(static_cast<size_t>(n));
    return env.Undefined();
  }

  Napi::Value Forgotten(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), table ? static_cast<double>(table->forgotten) : 0.0); }

  // Pages go back to the pool now; a pass in flight keeps its own references until it settles.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    table.reset();
    return info.Env().Undefined();
  }
};

class StatePoolJS : public Napi::ObjectWrap<StatePoolJS> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "StatePool",
                       {
                           InstanceMethod("create", &StatePoolJS::Create),
                           InstanceMethod("reorder", &StatePoolJS::Reorder),
                           InstanceMethod("attachPrefix", &StatePoolJS::AttachPrefix),
                           InstanceMethod("publishPrefix", &StatePoolJS::PublishPrefix),
                           InstanceMethod("clearPrefix", &StatePoolJS::ClearPrefix),
                           InstanceMethod("stats", &StatePoolJS::Stats),
                           InstanceMethod("dispose", &StatePoolJS::Dispose),
                       });
  }

  explicit StatePoolJS(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StatePoolJS>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "StatePool: 'desc' must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    StateLayout L;
    L.layers = static_cast<int>(read_positive(env, o, "layers", 65536));
    const double kv = read_positive(env, o, "kvHeads", 65536), d = read_positive(env, o, "headDim", 65536);
    const std::string dt = o.Get("dtype").IsString() ? o.Get("dtype").As<Napi::String>().Utf8Value() : "";
    if (dt != "f32" && dt != "f16") throw Napi::RangeError::New(env, "StatePool: 'dtype' must be 'f32' or 'f16'");
    L.dtype = dt == "f16" ? DType::f16 : DType::f32;
    L.row_bytes = static_cast<size_t>(kv * d) * (dt == "f16" ? 2 : 4);
    L.page_rows = static_cast<size_t>(read_positive(env, o, "pageRows", 4096));
    if ((L.page_rows & (L.page_rows - 1)) != 0) throw Napi::RangeError::New(env, "StatePool: 'pageRows' must be a power of two");
    while ((size_t{1} << L.page_shift) < L.page_rows) ++L.page_shift;
    const double page = static_cast<double>(L.layers) * 2 * static_cast<double>(L.page_rows) * static_cast<double>(L.row_bytes);
    if (page > 1e12) throw Napi::RangeError::New(env, "StatePool: one page would exceed 1 TB");
    L.page_bytes = (static_cast<size_t>(page) + 4095) / 4096 * 4096;  // whole system pages (mmap)
    const double budget = read_positive(env, o, "budgetBytes", 9.0e15);
    if (budget < static_cast<double>(L.page_bytes))
      throw Napi::RangeError::New(env, "StatePool: 'budgetBytes' (" + std::to_string(static_cast<uint64_t>(budget)) +
                                           ") is less than one page (" + std::to_string(L.page_bytes) + " bytes)");
    // device: 'cuda' keeps the pages in device memory (the cuda backend's state); default host.
    std::shared_ptr<PageMemory> memory;
    const Napi::Value dv = o.Get("device");
    if (!dv.IsUndefined()) {
      const std::string dev = dv.IsString() ? dv.As<Napi::String>().Utf8Value() : "";
      if (dev != "host" && dev != "cuda") throw Napi::RangeError::New(env, "StatePool: 'device' must be 'host' or 'cuda'");
      if (dev == "cuda") {
        try {
          memory = cuda_page_memory();
        } catch (const std::exception& e) {
          throw Napi::Error::New(env, std::string("StatePool: ") + e.what());
        }
      }
    }
    pool_ = std::make_shared<PagePool>(L, static_cast<size_t>(budget / static_cast<double>(L.page_bytes)), std::move(memory));
  }

  const std::shared_ptr<PagePool>& pool(Napi::Env env, const char* fn) {
    if (!pool_) throw Napi::Error::New(env, std::string("StatePool.") + fn + ": the pool was disposed");
    return pool_;
  }

 private:
  Napi::Value Create(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return wrap_state(env, std::make_shared<SeqTable>(pool(env, "create")));
  }

  // A state of this pool, or a TypeError naming `what`.
  SeqTable& state_arg(Napi::Env env, Napi::Value v, const std::string& what, bool change) {
    std::shared_ptr<SeqTable> t = unwrap_state(env, v, what);
    if (t->pool != pool_) throw Napi::TypeError::New(env, what + " belongs to another StatePool");
    if (change && t->busy.load() > 0) throw Napi::Error::New(env, what + " is used by a pass that has not settled; await it first");
    return *t;
  }

  // reorder(states, parents): beam selection. Every state takes the page table its parent had
  // before the call (a parent may be chosen by several beams, or by none).
  Napi::Value Reorder(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    pool(env, "reorder");
    if (info.Length() < 2 || !info[0].IsArray()) throw Napi::TypeError::New(env, "StatePool.reorder: 'states' must be an array of SequenceStates");
    Napi::Array states = info[0].As<Napi::Array>();
    const uint32_t n = states.Length();
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        info[1].As<Napi::TypedArray>().ElementLength() != n)
      throw Napi::TypeError::New(env, "StatePool.reorder: 'parents' must be an Int32Array with one index per state");
    Napi::Int32Array parents = info[1].As<Napi::Int32Array>();
    std::vector<SeqTable*> tables(n);
    for (uint32_t i = 0; i < n; ++i) {
      tables[i] = &state_arg(env, states.Get(i), "StatePool.reorder: states[" + std::to_string(i) + "]", true);
      for (uint32_t j = 0; j < i; ++j)
        if (tables[j] == tables[i]) throw Napi::RangeError::New(env, "StatePool.reorder: states[" + std::to_string(i) + "] repeats states[" + std::to_string(j) + "]");
    }
    std::vector<std::vector<PageRef>> pages(n), statics(n);
    std::vector<size_t> lengths(n), static_lengths(n);
    for (uint32_t i = 0; i < n; ++i) {
      const int32_t p = parents[i];
      if (p < 0 || static_cast<uint32_t>(p) >= n)
        throw Napi::RangeError::New(env, "StatePool.reorder: parents[" + std::to_string(i) + "] = " + std::to_string(p) + " is outside [0, " + std::to_string(n) + ")");
      const SeqTable& parent = *tables[static_cast<size_t>(p)];
      pages[i] = parent.pages;
      lengths[i] = parent.length;
      statics[i] = parent.static_pages;
      static_lengths[i] = parent.static_length;
    }
    for (uint32_t i = 0; i < n; ++i) {
      tables[i]->pages = std::move(pages[i]);
      tables[i]->length = lengths[i];
      tables[i]->static_pages = std::move(statics[i]);
      tables[i]->static_length = static_lengths[i];
    }
    return env.Undefined();
  }

  static const int32_t* ids_arg(Napi::Env env, const Napi::CallbackInfo& info, const char* fn, size_t* n) {
    if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, std::string("StatePool.") + fn + ": 'ids' must be an Int32Array");
    Napi::Int32Array a = info[1].As<Napi::Int32Array>();
    *n = a.ElementLength();
    return a.Data();
  }

  Napi::Value AttachPrefix(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& p = pool(env, "attachPrefix");
    SeqTable& t = state_arg(env, info.Length() > 0 ? info[0] : env.Undefined(), "StatePool.attachPrefix: 'state'", true);
    if (t.length != 0 || !t.pages.empty()) throw Napi::RangeError::New(env, "StatePool.attachPrefix: 'state' must be empty");
    size_t n = 0;
    const int32_t* ids = ids_arg(env, info, "attachPrefix", &n);
    t.pages = p->attach_prefix(ids, n, 1);
    t.length = t.pages.size() * p->layout().page_rows;
    return Napi::Number::New(env, static_cast<double>(t.length));
  }

  Napi::Value PublishPrefix(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& p = pool(env, "publishPrefix");
    SeqTable& t = state_arg(env, info.Length() > 0 ? info[0] : env.Undefined(), "StatePool.publishPrefix: 'state'", true);
    size_t n = 0;
    const int32_t* ids = ids_arg(env, info, "publishPrefix", &n);
    if (n > t.length)
      throw Napi::RangeError::New(env, "StatePool.publishPrefix: 'ids' (" + std::to_string(n) + ") are more than the state's rows (" + std::to_string(t.length) + ")");
    p->publish_prefix(ids, n, t.pages);
    return env.Undefined();
  }

  Napi::Value ClearPrefix(const Napi::CallbackInfo& info) {
    pool(info.Env(), "clearPrefix")->clear_prefix();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& p = pool(env, "stats");
    const PoolCounters c = p->counters();
    const StateLayout& L = p->layout();
    const size_t used = p->pages_in_use();
    Napi::Object o = Napi::Object::New(env);
    o.Set("pageRows", static_cast<double>(L.page_rows));
    o.Set("pageBytes", static_cast<double>(L.page_bytes));
    o.Set("budgetPages", static_cast<double>(p->budget_pages()));
    o.Set("pagesInUse", static_cast<double>(used));
    o.Set("bytesInUse", static_cast<double>(used * L.page_bytes));
    o.Set("peakPages", static_cast<double>(c.peak_pages));
    o.Set("pagesTaken", static_cast<double>(c.pages_taken));
    o.Set("pagesCopied", static_cast<double>(c.pages_copied));
    o.Set("fullPagesCopied", static_cast<double>(c.full_pages_copied));
    o.Set("prefixPages", static_cast<double>(p->prefix_pages()));
    o.Set("prefixLookups", static_cast<double>(c.prefix_lookups));
    o.Set("prefixTokensReused", static_cast<double>(c.prefix_tokens_reused));
    return o;
  }

  // The pool's own references go; pages that states still hold return when they are disposed.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (pool_) pool_->clear_prefix();
    pool_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<PagePool> pool_;
};

Napi::Value SequenceStateJS::Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SeqTable& t = usable(env, "fork", true);
  return wrap_state(env, std::shared_ptr<SeqTable>(t.fork()));
}

StateClasses define_state_classes(Napi::Env env) {
  return {Napi::Persistent(StatePoolJS::Define(env)), Napi::Persistent(SequenceStateJS::Define(env))};
}

std::shared_ptr<SeqTable> unwrap_state(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(state_classes(env).state.Value()))
    throw Napi::TypeError::New(env, what + " must be a SequenceState from StatePool.create()");
  std::shared_ptr<SeqTable> t = SequenceStateJS::Unwrap(v.As<Napi::Object>())->table;
  if (!t) throw Napi::Error::New(env, what + " was disposed");
  return t;
}

Napi::Object wrap_state(Napi::Env env, std::shared_ptr<SeqTable> table) {
  Napi::Object o = state_classes(env).state.New({});
  SequenceStateJS::Unwrap(o)->table = std::move(table);
  return o;
}

}  // namespace attnode
