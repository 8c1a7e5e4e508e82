// Program: a planned forward pass compiled once (program.h).
//
// new Program({ slots, layers, steps }):
//   slots:  the plan's buffers, Float32Array or Int32Array over SharedArrayBuffers (which cannot
//           be detached while a pass reads them), each holding a slot's elements.
//   layers: how many K and V buffers every cache passed to run() has.
//   steps:  [{ op, perSegment, args: { name: operand } }] in execution order, where an operand is
//     { slot, shape }                 a view of slot `slot` (elements from 0, or from the
//                                     segment's first row in per-segment steps when shape[0] is 'T')
//     { cache: 'k'|'v', layer, rows: 'new'|'all', shape, dtype?: 'f32'|'f16', part?: 'self'|'static' }
//                                     rows [P, P+T) or [0, P+T) of layer `layer`'s K or V in the
//                                     segment's sequence state (state.h; one dtype for all); with
//                                     part 'static', of its static part (cross-attention K/V),
//                                     whose 'all' rows are [0, E). A program appends to one part:
//                                     P is that part's rows.
//                                     A step that writes 'new' rows runs once per page the rows
//                                     fall in, on contiguous views; 'all' rows reach the op as a
//                                     paged view, which only attention's k and v take
//     { dtype, shape, data }          a fixed tensor (parameters) over a SharedArrayBuffer, checked once here
//     anything else                   passed to the op as it is (numbers, strings, weight
//                                     handles, mapped tensors), checked by the op on every pass
//   Shapes hold integers and the symbols 'T' (new tokens: all segments, or the segment's in a
//   per-segment step), 'S' (the segment's cached + new tokens), 'B' (segments in the pass) and
//   'E' (the segment's static rows, after this pass).
//
// run(segments: Int32Array [t0, p0, t1, p1, ...], states: [SequenceState | null, ...])
//   runs every step for one pass off the main thread and returns a Promise. Each segment's P
//   must be its state's length; the pass takes the pages its new rows need (copying shared
//   ones: copy-on-write), and the states' lengths grow by T at once. A state is busy until the
//   pass settles (fork, truncate and another pass refuse it). The caller writes the pass's
//   inputs into their slots first and leaves the slots alone until it settles.
//   Every view is bounds-checked against its buffer before anything runs, and each op checks
//   its arguments as it does when called alone, so a wrong plan is an error, never a bad write.
//   Steps that are not per segment depend only on T, B and the buffers: what they prepared is
//   reused by the next pass with the same T and B over the same buffers (a run of decode steps),
//   so those passes check and prepare only the per-segment steps.
#include "program.h"

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "common.h"
#include "mapped_file.h"
#include "op.h"
#include "program_parts.h"
#include "state_js.h"

namespace attnode {
namespace {

using namespace program_detail;

class Program : public Napi::ObjectWrap<Program> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Program",
                       {
                           InstanceMethod("run", &Program::Run),
                           InstanceMethod("dispose", &Program::Dispose),
                           InstanceAccessor("steps", &Program::Steps, nullptr),
                       });
  }

  explicit Program(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Program>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Program: 'desc' must be an object");
    Napi::Object desc = info[0].As<Napi::Object>();

    Napi::Value sv = desc.Get("slots");
    if (!sv.IsArray()) throw Napi::TypeError::New(env, "Program: 'slots' must be an array of typed arrays");
    Napi::Array slots = sv.As<Napi::Array>();
    for (uint32_t i = 0; i < slots.Length(); ++i) {
      Napi::Value s = slots.Get(i);
      const std::string what = "Program: slots[" + std::to_string(i) + "]";
      if (!s.IsTypedArray()) throw Napi::TypeError::New(env, what + " must be a Float32Array or Int32Array");
      const napi_typedarray_type t = s.As<Napi::TypedArray>().TypedArrayType();
      if (t != napi_float32_array && t != napi_int32_array)
        throw Napi::TypeError::New(env, what + " must be a Float32Array or Int32Array");
      typed_array(env, s, t, [&] { return what; });
      require_shared(env, s, what);
      slot_types_.push_back(t);
      slots_.push_back(Napi::Persistent(s));
    }

    Napi::Value lv = desc.Get("layers");
    if (!lv.IsNumber()) throw Napi::TypeError::New(env, "Program: 'layers' must be an integer");
    const double layers = lv.As<Napi::Number>().DoubleValue();
    if (!(layers >= 0 && layers <= 65536) || layers != std::floor(layers))
      throw Napi::RangeError::New(env, "Program: 'layers' must be an integer in [0, 65536]");
    layers_ = static_cast<int>(layers);

    Napi::Value stv = desc.Get("steps");
    if (!stv.IsArray()) throw Napi::TypeError::New(env, "Program: 'steps' must be an array");
    Napi::Array steps = stv.As<Napi::Array>();
    for (uint32_t i = 0; i < steps.Length(); ++i) steps_.push_back(read_step(env, i, steps.Get(i)));
  }

  // A step writes (or reads) 'new' cache rows: it runs once per page those rows fall in.
  static bool per_page(const Step& s) {
    for (const Operand& op : s.args)
      if (op.kind == Kind::cache && !op.all_rows) return true;
    return false;
  }

 private:
  Step read_step(Napi::Env env, uint32_t index, Napi::Value v) {
    const std::string at = "Program: steps[" + std::to_string(index) + "]";
    if (!v.IsObject()) throw Napi::TypeError::New(env, at + " must be an object { op, perSegment, args }");
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value name = o.Get("op");
    if (!name.IsString()) throw Napi::TypeError::New(env, at + ".op must be an op name string");
    Step step;
    step.def = find_op(name.As<Napi::String>().Utf8Value());
    if (!step.def) throw Napi::RangeError::New(env, at + ": unknown op '" + name.As<Napi::String>().Utf8Value() + "'");
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

  void read_operand(Napi::Env env, const std::string& at, const Step& step, Napi::Object args, Operand& op) {
    Napi::Value v = args.Get(op.name);
    if (!v.IsObject() || v.IsArray() || v.IsTypedArray()) {
      keep_value(op, v);
      return;
    }
    Napi::Object o = v.As<Napi::Object>();
    if (o.Has("slot")) {
      op.kind = Kind::slot;
      op.index = read_index(env, at + ".slot", o.Get("slot"), slots_.size());
      op.shape = read_shape(env, at + ".shape", o.Get("shape"), step.per_segment);
    } else if (o.Has("cache")) {
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
      if (has_cache_type_ && ct != cache_type_)
        throw Napi::RangeError::New(env, at + ".dtype is '" + dt + "' but an earlier cache operand has the other dtype");
      cache_type_ = ct;
      has_cache_type_ = true;
      op.index = read_index(env, at + ".layer", o.Get("layer"), static_cast<size_t>(layers_));
      for (const Operand& other : step.args)
        if (other.kind == Kind::cache && other.all_rows != (rows == "all"))
          throw Napi::RangeError::New(env, at + ": a step may not mix 'new' and 'all' cache rows");
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
    } else if (o.Has("data")) {
      // A parameter tensor: checked once, like any op argument, then only re-read for its pointer.
      Args a(env, step.def->name, args);
      Fixed f;
      f.view = a.tensor(op.name.c_str(), {DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32, DType::q8_0, DType::q4_0,
                                            DType::q4_1, DType::q5_0, DType::q5_1, DType::q2_k, DType::q3_k,
                                            DType::q4_k, DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs});
      require_shared(env, o.Get("data"), at + ".data");
      f.data = Napi::Persistent(o.Get("data"));
      f.type = o.Get("data").As<Napi::TypedArray>().TypedArrayType();
      op.kind = Kind::fixed;
      op.index = static_cast<int>(fixed_.size());
      fixed_.push_back(std::move(f));
    } else {
      keep_value(op, v);
    }
  }

  // Node-API references hold objects only (before Node 22), so plain values live in one array.
  void keep_value(Operand& op, Napi::Value v) {
    if (values_.IsEmpty()) values_ = Napi::Persistent(Napi::Array::New(v.Env()));
    Napi::Array a = values_.Value();
    op.kind = Kind::value;
    op.value = a.Length();
    a.Set(op.value, v);
  }

  // states: one SequenceState (or null, in programs without cache operands) per segment. Each
  // must fit the cache operands, hold P rows and not be busy; then its new rows are made
  // writable (pages taken, shared ones copied). Nothing changes a state before every check passed
  // except pages taken for rows past its length, which later passes use.
  std::vector<SegmentState> read_states(Napi::Env env, Napi::Value v, std::vector<Lengths>& segs) {
    const size_t B = segs.size();
    if (!v.IsArray() || v.As<Napi::Array>().Length() != B)
      throw Napi::TypeError::New(env, "Program.run: 'states' must be an array with one SequenceState (or null) per segment");
    std::vector<SegmentState> out(B);
    for (uint32_t i = 0; i < B; ++i) {
      const std::string at = "Program.run: states[" + std::to_string(i) + "]";
      Napi::Value sv = v.As<Napi::Array>().Get(i);
      if (sv.IsNull() || sv.IsUndefined()) {
        if (has_cache_type_) throw Napi::TypeError::New(env, at + " is missing: this program reads and writes sequence state");
        continue;
      }
      std::shared_ptr<SeqTable> t = unwrap_state(env, sv, at);
      if (t->pool->memory().device())
        throw Napi::TypeError::New(env, at + " is sequence state of the cuda backend (device pages); this program runs on the CPU");
      const StateLayout& L = t->pool->layout();
      const size_t elem = L.dtype == DType::f16 ? 2 : 4;
      if (L.layers < layers_ || (has_cache_type_ && (L.dtype != cache_type_ || L.row_bytes != cache_row_ * elem)))
        throw Napi::TypeError::New(env, at + " has " + std::to_string(L.layers) + " layers of " + std::to_string(L.row_bytes / elem) + " " +
                                            dtype_name(L.dtype) + " per row; this program needs " + std::to_string(layers_) + " of " +
                                            std::to_string(cache_row_) + " " + dtype_name(cache_type_));
      if (t->busy.load() > 0) throw Napi::Error::New(env, at + " is used by a pass that has not settled; await it first");
      // P counts the rows of the part this program appends to.
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
      } catch (const StateBudgetError& e) {
        throw Napi::RangeError::New(env, "Program.run: states[" + std::to_string(i) + "]: " + e.what() +
                                             "; dispose finished sequences or raise the state budget");
      }
      segs[i].e = static_cast<int64_t>(t->static_length) + (writes_static_ ? segs[i].t : 0);
      out[i].pages = t->pages;
      out[i].pages.insert(out[i].pages.end(), t->static_pages.begin(), t->static_pages.end());
      // Forgotten pages are null: a sliding window never reads them.
      for (const PageRef& pg : t->pages) out[i].page_data.push_back(pg ? pg->data : nullptr);
      for (const PageRef& pg : t->static_pages) out[i].static_data.push_back(pg->data);
    }
    return out;
  }

  // The paged view of rows [0, P+T) of a cache operand: attention's k or v.
  void paged_view(const Operand& op, const Lengths& n, const SegmentState& st, TensorView& view) const {
    const StateLayout& L = st.table->pool->layout();
    view = TensorView{};
    view.dtype = cache_type_;
    // Self rows [0, P+T), or static rows [0, E).
    const int64_t rows = op.static_part ? n.e : n.p + n.t;
    view.shape.push_back(rows);
    for (size_t i = 1; i < op.shape.size(); ++i) view.shape.push_back(op.shape[i].value);
    view.numel = static_cast<size_t>(rows) * cache_row_;
    view.nbytes = view.numel * (cache_type_ == DType::f16 ? 2 : 4);
    view.present = true;
    view.paged = true;
    const std::vector<char*>& table = op.static_part ? st.static_data : st.page_data;
    view.rows = PagedRows{table.data(), L.page_rows, L.page_shift, L.row_bytes, L.part_offset(op.index, op.v_cache), 0};
  }

  // The contiguous view of rows [a, a + n.t) of a cache operand, all in one page.
  void page_rows_view(const Operand& op, const Lengths& n, const SegmentState& st, TensorView& view) const {
    const StateLayout& L = st.table->pool->layout();
    const size_t a = static_cast<size_t>(n.p);
    view = TensorView{};
    view.dtype = cache_type_;
    view.shape.push_back(n.t);
    for (size_t i = 1; i < op.shape.size(); ++i) view.shape.push_back(op.shape[i].value);
    view.numel = static_cast<size_t>(n.t) * cache_row_;
    view.nbytes = view.numel * (cache_type_ == DType::f16 ? 2 : 4);
    const std::vector<char*>& table = op.static_part ? st.static_data : st.page_data;
    view.data = table[a >> L.page_shift] + L.part_offset(op.index, op.v_cache) + (a & (L.page_rows - 1)) * L.row_bytes;
    view.present = true;
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) throw Napi::Error::New(env, "Program.run: the program was disposed");
    int64_t T = 0;
    std::vector<Lengths> segs = read_segments(env, info.Length() > 0 ? info[0] : env.Undefined(), &T);
    const size_t B = segs.size();
    std::vector<Napi::Reference<Napi::Value>> keep;
    keep.push_back(Napi::Persistent(static_cast<Napi::Value>(Value())));

    // Slots and fixed tensors may have been detached since the program was built.
    std::vector<Buffer> slots(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i)
      slots[i] = typed_array(env, slots_[i].Value(), slot_types_[i], [&] { return "Program.run: slot " + std::to_string(i); });
    for (Fixed& f : fixed_) {
      const Buffer b = typed_array(env, f.data.Value(), f.type, [] { return std::string("Program.run: a parameter tensor"); });
      if (b.elements * element_bytes(f.type) != f.view.nbytes)
        throw Napi::RangeError::New(env, "Program.run: a parameter tensor changed size or was detached");
      f.view.data = b.data;
    }
    std::vector<SegmentState> states = read_states(env, info.Length() > 1 ? info[1] : env.Undefined(), segs);

    // Steps that are not per segment see only T and B: reuse the last pass's prepared runs when
    // those and every buffer match (decode steps), prepare them again otherwise.
    std::vector<const void*> buffers;
    buffers.reserve(slots.size() + fixed_.size());
    for (const Buffer& b : slots) buffers.push_back(b.data);
    for (const Fixed& f : fixed_) buffers.push_back(f.view.data);
    std::vector<size_t> sizes;
    sizes.reserve(slots.size());
    for (const Buffer& b : slots) sizes.push_back(b.elements);
    const bool reuse = shared_ && shared_t_ == T && shared_b_ == static_cast<int64_t>(B) && shared_buffers_ == buffers &&
                       shared_sizes_ == sizes;
    std::shared_ptr<SharedRuns> shared = reuse ? shared_ : std::make_shared<SharedRuns>();
    if (!reuse) {
      shared->runs.resize(steps_.size());
      // The refs of runs being replaced go with this pass: released after it, so after every
      // earlier pass that may still use those runs (the dispatch thread takes passes in order).
      for (auto& r : shared_refs_) keep.push_back(std::move(r));
      shared_refs_.clear();
    }

    Napi::Array values = values_.IsEmpty() ? Napi::Array::New(env) : values_.Value();
    std::vector<NamedRun> runs;  // this pass's per-segment runs, in execution order
    std::vector<size_t> runs_of_step(steps_.size(), 0);
    std::vector<std::shared_ptr<const MappedFile>> mappings;
    std::vector<TensorView> views;
    std::vector<BoundArg> bound;
    // Prepares step `si` for lengths `n` (n.p: the first state row it touches), its T-row
    // slot views from pass row `row`.
    auto prepare = [&](size_t si, const Lengths& n, int64_t row, const SegmentState* st) {
      const Step& s = steps_[si];
      views.assign(s.args.size(), TensorView{});
      bound.clear();
      for (size_t a = 0; a < s.args.size(); ++a) {
        const Operand& op = s.args[a];
        auto at = [&] { return where(si, s, op.name); };
        switch (op.kind) {
          case Kind::slot: {
            const size_t first = s.per_segment && op.shape[0].sym == 'T' ? static_cast<size_t>(row) : 0;
            view_of(env, at, op, n, first, slot_types_[op.index] == napi_int32_array ? DType::i32 : DType::f32, slots[op.index], views[a]);
            bound.push_back({op.name.c_str(), &views[a], Napi::Value()});
            break;
          }
          case Kind::cache:
            if (!st || !st->table) throw Napi::TypeError::New(env, at() + ": the segment has no sequence state");
            if (op.all_rows) paged_view(op, n, *st, views[a]);
            else page_rows_view(op, n, *st, views[a]);
            bound.push_back({op.name.c_str(), &views[a], Napi::Value()});
            break;
          case Kind::fixed:
            bound.push_back({op.name.c_str(), &fixed_[op.index].view, Napi::Value()});
            break;
          case Kind::value:
            bound.push_back({op.name.c_str(), nullptr, values.Get(op.value)});
            break;
        }
      }
      Args args(env, s.def->name, &bound);
      OpRun r = s.def->prepare(args);
      if (s.per_segment) {
        runs.emplace_back(s.def->name, std::move(r));
        ++runs_of_step[si];
        for (auto& ref : args.take_refs()) keep.push_back(std::move(ref));
        for (auto& m : args.take_mappings()) mappings.push_back(std::move(m));
      } else {
        shared->runs[si] = NamedRun(s.def->name, std::move(r));
        for (auto& ref : args.take_refs()) shared_refs_.push_back(std::move(ref));
        for (auto& m : args.take_mappings()) shared->mappings.push_back(std::move(m));
      }
    };
    for (size_t si = 0; si < steps_.size(); ++si) {
      const Step& s = steps_[si];
      if (!s.per_segment) {
        if (!reuse) prepare(si, Lengths{T, 0, static_cast<int64_t>(B)}, 0, nullptr);
        continue;
      }
      const bool paged_write = per_page(s);
      int64_t row = 0;
      for (size_t k = 0; k < B; ++k) {
        const Lengths& n = segs[k];
        if (!paged_write) {
          prepare(si, n, row, &states[k]);
        } else {
          // Rows [P, P+T) cut at page ends: each piece is contiguous in one page.
          const StateLayout* L = states[k].table ? &states[k].table->pool->layout() : nullptr;
          for (int64_t a = n.p; a < n.p + n.t;) {
            const int64_t end = L ? std::min<int64_t>(n.p + n.t, (a / static_cast<int64_t>(L->page_rows) + 1) * static_cast<int64_t>(L->page_rows)) : n.p + n.t;
            prepare(si, Lengths{end - a, a, n.b, n.e}, row + (a - n.p), &states[k]);
            a = end;
          }
        }
        row += n.t;
      }
    }
    // Execution order: per-segment runs were appended in step order; moving `runs` into the job
    // keeps its elements where they are.
    std::vector<const NamedRun*> order;
    order.reserve(steps_.size() + runs.size());
    for (size_t si = 0, next = 0; si < steps_.size(); ++si) {
      if (!steps_[si].per_segment) {
        order.push_back(&shared->runs[si]);
        continue;
      }
      for (size_t r = 0; r < runs_of_step[si]; ++r) order.push_back(&runs[next++]);
    }
    if (!reuse) {
      shared_ = shared;
      shared_t_ = T;
      shared_b_ = static_cast<int64_t>(B);
      shared_buffers_ = std::move(buffers);
      shared_sizes_ = std::move(sizes);
    }
    // Every check passed: the states hold their new rows from now on, and stay busy until the
    // job is gone (it keeps their pages, so a state disposed meanwhile frees them after).
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
        [runs = std::move(runs), order = std::move(order), shared = std::move(shared), pool = target.pool, isa = target.isa,
         mappings = std::move(mappings), states = std::move(states), busy = std::move(busy)] { run_in_order(order, OpEnv{pool.get(), isa}); },
        std::move(keep));
  }

  // Further runs throw; buffers are let go when the program is collected (a pass in flight
  // holds the program itself).
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    disposed_ = true;
    shared_.reset();  // its weights are freed with the model's, not at collection (a pass in flight keeps its own)
    return info.Env().Undefined();
  }

  Napi::Value Steps(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(steps_.size())); }

  // The prepared runs of the steps that are not per segment, for passes of shared_t_ tokens in
  // shared_b_ segments over these slot and parameter buffers. The job of every pass that uses
  // them holds them; their Node-API references live here, on the main thread.
  struct SharedRuns {
    std::vector<NamedRun> runs;  // by step; empty for per-segment steps
    std::vector<std::shared_ptr<const MappedFile>> mappings;
  };
  std::shared_ptr<SharedRuns> shared_;
  int64_t shared_t_ = -1, shared_b_ = -1;
  std::vector<const void*> shared_buffers_;
  std::vector<size_t> shared_sizes_;
  std::vector<Napi::Reference<Napi::Value>> shared_refs_;

  std::vector<Napi::Reference<Napi::Value>> slots_;
  std::vector<napi_typedarray_type> slot_types_;
  DType cache_type_ = DType::f32;  // every cache operand's element type: f32 or f16
  size_t cache_row_ = 0;           // elements of one cache row (Hkv * D), the same for every operand
  bool writes_self_ = false;       // some step appends 'new' rows to the self part
  bool writes_static_ = false;     // ... or to the static part (never both)
  bool has_cache_type_ = false;
  std::vector<Fixed> fixed_;
  Napi::Reference<Napi::Array> values_;
  std::vector<Step> steps_;
  int layers_ = 0;
  bool disposed_ = false;
};

}  // namespace

Napi::Function define_program(Napi::Env env) { return Program::Define(env); }

}  // namespace attnode
