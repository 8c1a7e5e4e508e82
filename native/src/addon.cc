// The Node-API surface: argument checks, typed-array views and async work only; no kernels.
// One Addon instance per JS environment (main thread or worker), each with its own thread
// pool and kernel choice, so the module is safe to load in many worker threads at once.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#if !defined(_WIN32)
#include <sys/resource.h>
#endif

#include "args.h"
#include "async_runner.h"
#include "cpu/dispatch.h"
#include "mapped_file.h"
#include "op.h"
#include "program.h"
#include "scratch.h"
#include "state_js.h"
#include "threadpool.h"
#include "format_info.h"
#include "formats.h"
#include "weights.h"
#include "cuda_bridge.h"

namespace attnode {


namespace {

constexpr int kMaxThreads = 1024;

int default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min<unsigned>(n, kMaxThreads));
}

// A read-only file mapping as JS sees it: size, path, read(offset, length) -> a Uint8Array copy
// (for headers and small tensors), and dispose(). No external ArrayBuffer ever points into the
// mapping (DESIGN.md, memory ownership); kernels reach its bytes through mapped tensors
// { dtype, shape, file, byteOffset }. Ops in flight hold their own reference to the mapping.
class MappedFileHandle : public Napi::ObjectWrap<MappedFileHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MappedFile",
                       {
                           InstanceAccessor("size", &MappedFileHandle::Size, nullptr),
                           InstanceAccessor("path", &MappedFileHandle::Path, nullptr),
                           InstanceAccessor("disposed", &MappedFileHandle::Disposed, nullptr),
                           InstanceMethod("read", &MappedFileHandle::Read),
                           InstanceMethod("dispose", &MappedFileHandle::Dispose),
                       });
  }

  explicit MappedFileHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MappedFileHandle>(info) {}

  void attach(std::shared_ptr<const MappedFile> f) { file_ = std::move(f); }
  std::shared_ptr<const MappedFile> file() const { return file_; }

 private:
  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), file_ ? static_cast<double>(file_->size()) : 0.0);
  }
  Napi::Value Path(const Napi::CallbackInfo& info) {
    return file_ ? Napi::String::New(info.Env(), file_->path()) : info.Env().Undefined();
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !file_); }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    file_.reset();
    return info.Env().Undefined();
  }

  // read(offset, length): a copy of bytes [offset, offset + length), which must lie in the file.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!file_) throw Napi::TypeError::New(env, "MappedFile.read: the mapping was disposed");
    double v[2];
    const char* names[2] = {"offset", "length"};
    for (int i = 0; i < 2; ++i) {
      if (info.Length() <= static_cast<size_t>(i) || !info[i].IsNumber())
        throw Napi::TypeError::New(env, std::string("MappedFile.read: '") + names[i] + "' must be an integer");
      v[i] = info[i].As<Napi::Number>().DoubleValue();
      if (!(v[i] >= 0) || v[i] != std::floor(v[i]) || v[i] > 9007199254740992.0)
        throw Napi::RangeError::New(env, std::string("MappedFile.read: '") + names[i] +
                                             "' must be a non-negative integer, got " + info[i].ToString().Utf8Value());
    }
    const auto off = static_cast<uint64_t>(v[0]), len = static_cast<uint64_t>(v[1]);
    if (!file_->contains(off, len))
      throw Napi::RangeError::New(env, "MappedFile.read: bytes [" + std::to_string(off) + ", " + std::to_string(off) +
                                           " + " + std::to_string(len) + ") are outside the file of " +
                                           std::to_string(file_->size()) + " bytes");
    Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(len));
    if (len > 0 && !MappedFile::guarded_copy(out.Data(), file_->data() + off, static_cast<size_t>(len)))
      throw Napi::Error::New(env, "MappedFile.read: '" + file_->path() + "' shrank under its mapping (truncated or rewritten on disk); reload the model");
    return out;
  }

  std::shared_ptr<const MappedFile> file_;
};

// A packed weight as JS sees it: shape, dtype and bytes, and dispose() to free the native
// memory now. Ops in flight keep their own reference, so dispose() never frees memory in use.
class WeightHandle : public Napi::ObjectWrap<WeightHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WeightHandle",
                       {
                           InstanceAccessor("shape", &WeightHandle::Shape, nullptr),
                           InstanceAccessor("dtype", &WeightHandle::DTypeName, nullptr),
                           InstanceAccessor("bytes", &WeightHandle::Bytes, nullptr),
                           InstanceAccessor("disposed", &WeightHandle::Disposed, nullptr),
                           InstanceMethod("variant", &WeightHandle::Variant),
                           InstanceMethod("dispose", &WeightHandle::Dispose),
                       });
  }

  explicit WeightHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WeightHandle>(info) {}
  ~WeightHandle() override { release(Env()); }

  void attach(Napi::Env env, std::unique_ptr<PackedWeight> w) {
    external_ = static_cast<int64_t>(w->bytes());
    weight_ = std::move(w);
    Napi::MemoryManagement::AdjustExternalMemory(env, external_);
  }

  std::shared_ptr<const PackedWeight> weight() const { return weight_; }

 private:
  void release(Napi::Env env) {
    if (!weight_) return;
    weight_.reset();
    Napi::MemoryManagement::AdjustExternalMemory(env, -external_);
    external_ = 0;
  }

  Napi::Value Shape(const Napi::CallbackInfo& info) {
    Napi::Array a = Napi::Array::New(info.Env(), 2);
    if (weight_) {
      a.Set(0u, static_cast<double>(weight_->n()));
      a.Set(1u, static_cast<double>(weight_->k()));
    }
    return a;
  }
  Napi::Value DTypeName(const Napi::CallbackInfo& info) {
    return weight_ ? Napi::String::New(info.Env(), dtype_name(weight_->dtype())) : info.Env().Undefined();
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), weight_ ? static_cast<double>(weight_->bytes()) : 0.0);
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !weight_); }
  Napi::Value Variant(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    release(info.Env());
    return info.Env().Undefined();
  }

  std::shared_ptr<const PackedWeight> weight_;
  int64_t external_ = 0;
};

class Attnode : public Napi::Addon<Attnode> {
 public:
  Attnode(Napi::Env env, Napi::Object exports)
      : pool_(std::make_shared<ThreadPool>(default_threads())), isa_(best_isa()) {
    weight_ctor_ = Napi::Persistent(WeightHandle::Define(env));
    mapped_ctor_ = Napi::Persistent(MappedFileHandle::Define(env));
    program_ctor_ = Napi::Persistent(define_program(env));
    state_classes_ = define_state_classes(env);
    cuda_ = make_cuda_addon(env);
    DefineAddon(exports, {
                             InstanceMethod("cudaPackWeight", &Attnode::CudaPackWeight),
                             InstanceMethod("cudaCompile", &Attnode::CudaCompile),
                             InstanceMethod("cudaStats", &Attnode::CudaStats),
                             InstanceMethod("compile", &Attnode::Compile),
                             InstanceMethod("statePool", &Attnode::StatePool),
                             InstanceMethod("packWeight", &Attnode::PackWeight),
                             InstanceMethod("mapFile", &Attnode::MapFile),
                             InstanceMethod("cpuInfo", &Attnode::CpuInfo),
                             InstanceMethod("cudaInfo", &Attnode::CudaInfo),
                             InstanceMethod("setThreads", &Attnode::SetThreads),
                             InstanceMethod("lowerThreadPriority", &Attnode::LowerThreadPriority),
                             InstanceMethod("raiseFileLimit", &Attnode::RaiseFileLimit),
                             InstanceMethod("getThreads", &Attnode::GetThreads),
                             InstanceMethod("setIsa", &Attnode::SetIsa),
                             InstanceMethod("opNames", &Attnode::OpNames),
                             InstanceMethod("op", &Attnode::Op),
                             InstanceMethod("opAsync", &Attnode::OpAsync),
                             InstanceMethod("opsAsync", &Attnode::OpsAsync),
                             InstanceMethod("peakScratchBytes", &Attnode::PeakScratchBytes),
                             InstanceMethod("kernelThreads", &Attnode::KernelThreads),
                             InstanceMethod("formats", &Attnode::Formats),
                             InstanceMethod("formatDequantize", &Attnode::FormatDequantize),
                         });
  }

 public:
  Isa isa() const { return isa_; }
  StateClasses& state_classes() { return state_classes_; }
  RunTarget run_target() { return {&runner_, pool_, isa_}; }

  std::shared_ptr<const PackedWeight> unwrap(Args& args, const char* name, Napi::Value v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(weight_ctor_.Value()))
      args.type_error(std::string("'") + name + "' must be a packed weight from packWeight()");
    std::shared_ptr<const PackedWeight> w = WeightHandle::Unwrap(v.As<Napi::Object>())->weight();
    if (!w) args.type_error(std::string("'") + name + "' was disposed");
    return w;
  }

  std::shared_ptr<const MappedFile> unwrap_mapped(Args& args, const std::string& what, Napi::Value v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(mapped_ctor_.Value()))
      args.type_error(what + " must be a mapped file from mapFile()");
    std::shared_ptr<const MappedFile> f = MappedFileHandle::Unwrap(v.As<Napi::Object>())->file();
    if (!f) args.type_error(what + " was disposed");
    return f;
  }

 private:
  // The cuda backend's entry points (cuda_bridge.h): device weights, programs, allocator counters.
  Napi::Value CudaPackWeight(const Napi::CallbackInfo& info) { return cuda_->pack_weight(info); }
  Napi::Value CudaCompile(const Napi::CallbackInfo& info) { return cuda_->compile(info); }
  Napi::Value CudaStats(const Napi::CallbackInfo& info) { return cuda_->stats(info); }

  // mapFile(path): maps a file read-only and returns a MappedFile handle.
  Napi::Value MapFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "mapFile: 'path' must be a string");
    std::shared_ptr<const MappedFile> f;
    try {
      f = MappedFile::open(info[0].As<Napi::String>().Utf8Value());
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("mapFile: ") + e.what());
    }
    Napi::Object handle = mapped_ctor_.New({});
    MappedFileHandle::Unwrap(handle)->attach(std::move(f));
    return handle;
  }

  // packWeight({ weight, transposed?, columnStart?, columnEnd?, ...format options }): copies W
  // into native memory in its format's layout and returns a WeightHandle. weight is (N, K), or
  // with transposed (K, Nt) (Conv1D storage) of which columns [columnStart, columnEnd) become
  // W (columnEnd - columnStart, K), read by strides. Mapped pages that were copied are then
  // released (MappedFile::release): the packed copy is what linear reads from now on.
  Napi::Value PackWeight(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args args(env, "packWeight", info.Length() > 0 ? info[0] : env.Undefined());
    const TensorView w = args.tensor("weight", {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_0, DType::q4_1,
                                                   DType::q5_0, DType::q5_1, DType::q2_k, DType::q3_k, DType::q4_k,
                                                   DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs});
    if (w.rank() != 2) args.range_error("'weight' must have shape [outFeatures, inFeatures], got " + w.shape_str());
    WeightFactory factory = find_weight_format(w.dtype);
    if (!factory)
      args.type_error(std::string("no weight format handles dtype ") + dtype_name(w.dtype) + "; supported: " +
                      weight_format_list());
    const bool transposed = args.boolean("transposed", false);
    WeightSource src{w.dtype, w.data, w.dim(0), w.dim(1), static_cast<size_t>(w.dim(1)), 1, nullptr};
    if (transposed) {
      if (format_traits(w.dtype).block_size > 1)
        args.type_error(std::string("'transposed' needs an element dtype; ") + dtype_name(w.dtype) + " stores blocks along K");
      const int64_t nt = w.dim(1);
      const int64_t c0 = args.integer("columnStart", 0, 0, nt);
      const int64_t c1 = args.integer("columnEnd", nt, 0, nt);
      if (c0 >= c1)
        args.range_error("'columnStart' " + std::to_string(c0) + " must be below 'columnEnd' " + std::to_string(c1));
      const size_t elem = format_traits(w.dtype).block_bytes;
      src = WeightSource{w.dtype, static_cast<const uint8_t*>(w.data) + static_cast<size_t>(c0) * elem, c1 - c0, w.dim(0), 1,
                         static_cast<size_t>(nt), nullptr};
    } else if (!args.raw("columnStart").IsUndefined() || !args.raw("columnEnd").IsUndefined()) {
      args.type_error("'columnStart' / 'columnEnd' need 'transposed': true");
    }
    // Mapped rows go as soon as the packer has read them (plain sources), the rest once it is done.
    const auto mappings = w.mapped ? args.take_mappings() : decltype(args.take_mappings()){};
    const size_t row_bytes = w.dim(0) > 0 ? w.nbytes / static_cast<size_t>(w.dim(0)) : 0;
    if (w.mapped && src.plain()) {
      src.rows_read = [&, done = size_t{0}](size_t rows) mutable {
        const auto* b = static_cast<const uint8_t*>(w.data);
        for (const auto& file : mappings) file->release_whole_pages(b + done, rows * row_bytes - done);
        done = rows * row_bytes;
      };
    }
    std::unique_ptr<PackedWeight> packed = factory(args, src);
    for (const auto& file : mappings) file->release(w.data, w.nbytes);
    Napi::Object handle = weight_ctor_.New({});
    WeightHandle::Unwrap(handle)->attach(env, std::move(packed));
    return handle;
  }

  // The format table and its reference dequantize, for tests (format_info.cc).
  Napi::Value Formats(const Napi::CallbackInfo& info) { return format_table(info); }
  Napi::Value FormatDequantize(const Napi::CallbackInfo& info) { return format_dequantize(info); }

  Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const CpuFeatures& f = cpu_features();
    Napi::Object o = Napi::Object::New(env);
    o.Set("arch",
#if defined(__x86_64__) || defined(_M_X64)
          "x64"
#elif defined(__aarch64__)
          "arm64"
#else
          "other"
#endif
    );
    o.Set("isa", isa_name(isa_));
    Napi::Array avail = Napi::Array::New(env);
    uint32_t k = 0;
    for (const char* const* n = available_isas(); *n; ++n) avail.Set(k++, *n);
    o.Set("available", avail);
    Napi::Object feat = Napi::Object::New(env);
    feat.Set("avx2", f.avx2);
    feat.Set("fma", f.fma);
    feat.Set("f16c", f.f16c);
    feat.Set("avx512f", f.avx512f);
    feat.Set("avx512bw", f.avx512bw);
    feat.Set("avx512dq", f.avx512dq);
    feat.Set("avx512vl", f.avx512vl);
    feat.Set("avx512vnni", f.avx512vnni);
    feat.Set("avx512bf16", f.avx512bf16);
    feat.Set("avxvnni", f.avxvnni);
    feat.Set("neon", f.neon);
    feat.Set("neonDotprod", f.neon_dotprod);
    o.Set("features", feat);
    o.Set("cores", static_cast<double>(default_threads()));
    o.Set("threads", static_cast<double>(pool_->size()));
    Napi::Object kernels = Napi::Object::New(env);
    size_t count = 0;
    const KernelFamily* fams = kernel_families(&count);
    for (size_t i = 0; i < count; ++i) kernels.Set(fams[i].name, fams[i].variant(isa_));
    o.Set("kernels", kernels);
    o.Set("cuda", cuda_compiled());
    return o;
  }

  // cudaInfo(): { compiled, devices, names, reason } — reason says why devices is 0 (not built,
  // no driver, no device). A CUDA error while naming a device becomes a JS Error naming the call.
  Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    std::string why;
    const int n = cuda_device_count(&why);
    o.Set("compiled", cuda_compiled());
    o.Set("devices", n);
    Napi::Array names = Napi::Array::New(env, static_cast<size_t>(n));
    try {
      for (int i = 0; i < n; ++i) names.Set(static_cast<uint32_t>(i), cuda_device_name(i));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("cudaInfo: ") + e.what());
    }
    o.Set("names", names);
    if (n == 0) o.Set("reason", why);
    return o;
  }

  // lowerThreadPriority(step): the calling JavaScript thread's nice value + step (1 to 19);
  // returns the new nice value, or null where threads have none of their own.
  Napi::Value LowerThreadPriority(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double step = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(step >= 1 && step <= 19) || step != static_cast<double>(static_cast<int>(step)))
      throw Napi::RangeError::New(env, "lowerThreadPriority: 'step' must be an integer in [1, 19]");
    const int nice = lower_thread_priority(static_cast<int>(step));
    return nice == -100 ? env.Null() : Napi::Number::New(env, nice);
  }

  // raiseFileLimit(): raises the soft limit on open file descriptors (RLIMIT_NOFILE) to the hard
  // one, as a server that holds a socket per connection wants; returns { soft, hard } after, or
  // null where there is no such limit. Node has no setrlimit of its own.
  Napi::Value RaiseFileLimit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
#if defined(_WIN32)
    return env.Null();
#else
    struct rlimit lim {};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return env.Null();
    if (lim.rlim_cur < lim.rlim_max) {
      struct rlimit want = lim;
      want.rlim_cur = lim.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
    }
    Napi::Object o = Napi::Object::New(env);
    const auto num = [&](rlim_t v) { return v == RLIM_INFINITY ? Napi::Number::New(env, INFINITY) : Napi::Number::New(env, static_cast<double>(v)); };
    o.Set("soft", num(lim.rlim_cur));
    o.Set("hard", num(lim.rlim_max));
    return o;
#endif
  }

  Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber())
      throw Napi::TypeError::New(env, "setThreads: 'threads' must be an integer");
    const double n = info[0].As<Napi::Number>().DoubleValue();
    if (!(n >= 1 && n <= kMaxThreads) || n != static_cast<double>(static_cast<int>(n)))
      throw Napi::RangeError::New(env, "setThreads: 'threads' must be an integer in [1, " +
                                           std::to_string(kMaxThreads) + "], got " + info[0].ToString().Utf8Value());
    // Ops already running keep their pool alive through their own shared_ptr.
    if (static_cast<int>(n) != pool_->size()) pool_ = std::make_shared<ThreadPool>(static_cast<int>(n));
    return env.Undefined();
  }

  Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pool_->size()); }

  Napi::Value SetIsa(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString())
      throw Napi::TypeError::New(env, "setIsa: 'isa' must be a string");
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    Isa isa;
    if (!isa_by_name(name.c_str(), &isa)) {
      std::string list;
      for (const char* const* n = available_isas(); *n; ++n) list += (list.empty() ? "'" : ", '") + std::string(*n) + "'";
      throw Napi::RangeError::New(env, "setIsa: '" + name + "' is not available on this machine; available: " + list);
    }
    isa_ = isa;
    return env.Undefined();
  }

  Napi::Value OpNames(const Napi::CallbackInfo& info) {
    Napi::Array a = Napi::Array::New(info.Env());
    uint32_t i = 0;
    for (const OpDef& d : op_registry()) a.Set(i++, d.name);
    return a;
  }

  const OpDef* lookup(const Napi::CallbackInfo& info, const char* fn) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString())
      throw Napi::TypeError::New(env, std::string(fn) + ": 'name' must be an op name string");
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    const OpDef* def = find_op(name);
    if (!def) throw Napi::RangeError::New(env, std::string(fn) + ": unknown op '" + name + "'");
    return def;
  }

  // op(name, args): runs synchronously on the calling thread (tests, tiny data).
  Napi::Value Op(const Napi::CallbackInfo& info) {
    const OpDef* def = lookup(info, "op");
    Args args(info.Env(), def->name, info.Length() > 1 ? info[1] : info.Env().Undefined());
    OpRun run = def->prepare(args);
    runner_.note_kernel_run();
    try {
      run(OpEnv{pool_.get(), isa_});
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string(def->name) + ": " + e.what());
    }
    return info.Env().Undefined();
  }

  // opAsync(name, args): validates now (throwing synchronously on bad input), then runs the
  // kernel on the addon's dispatch thread and its pool, and returns a Promise.
  Napi::Value OpAsync(const Napi::CallbackInfo& info) {
    const OpDef* def = lookup(info, "opAsync");
    Args args(info.Env(), def->name, info.Length() > 1 ? info[1] : info.Env().Undefined());
    auto staging = std::make_shared<AsyncStaging>();
    args.stage_into(staging.get());
    OpRun run = def->prepare(args);
    // The pool pointer is captured by value so setThreads() during the op is safe.
    std::shared_ptr<ThreadPool> pool = pool_;
    const Isa isa = isa_;
    return runner_.submit(
        info.Env(),
        [run = std::move(run), pool, isa, name = std::string(def->name), mappings = args.take_mappings()] {
          try {
            run(OpEnv{pool.get(), isa});
          } catch (const std::exception& e) {
            throw std::runtime_error(name + ": " + e.what());
          }
        },
        args.take_refs(), staging->empty() ? nullptr : staging);
  }

  // opsAsync([{ op, args }, ...]): validates every op now (throwing synchronously, naming the
  // op's index), then runs them in order in one async work item: a planned forward pass costs
  // one trip off the main thread instead of one per op. Later ops may read what earlier ones
  // wrote; validation only reads shapes, dtypes and inputs that exist before the batch runs.
  Napi::Value OpsAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "opsAsync: 'ops' must be an array of { op, args }");
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<NamedRun> runs;
    std::vector<Napi::Reference<Napi::Value>> refs;
    std::vector<std::shared_ptr<const MappedFile>> mappings;
    // One staging for the batch: a buffer an earlier op writes is the copy a later op reads.
    auto staging = std::make_shared<AsyncStaging>();
    runs.reserve(list.Length());
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value item = list.Get(i);
      const std::string where = "opsAsync: ops[" + std::to_string(i) + "]";
      if (!item.IsObject()) throw Napi::TypeError::New(env, where + " must be an object { op, args }");
      Napi::Value name = item.As<Napi::Object>().Get("op");
      if (!name.IsString()) throw Napi::TypeError::New(env, where + ".op must be an op name string");
      const OpDef* def = find_op(name.As<Napi::String>().Utf8Value());
      if (!def) throw Napi::RangeError::New(env, where + ": unknown op '" + name.As<Napi::String>().Utf8Value() + "'");
      Args args(env, def->name, item.As<Napi::Object>().Get("args"));
      args.stage_into(staging.get());
      runs.emplace_back(def->name, def->prepare(args));
      for (auto& r : args.take_refs()) refs.push_back(std::move(r));
      for (auto& m : args.take_mappings()) mappings.push_back(std::move(m));
    }
    std::shared_ptr<ThreadPool> pool = pool_;
    const Isa isa = isa_;
    // The closure owns the mappings, so a file stays mapped until the last op has run.
    return runner_.submit(
        env,
        [runs = std::move(runs), pool, isa, mappings = std::move(mappings)] {
          run_in_order(runs, OpEnv{pool.get(), isa});
        },
        std::move(refs), staging->empty() ? nullptr : staging);
  }

  // compile({ slots, layers, steps }): a Program for a planned forward pass (program.cc).
  Napi::Value Compile(const Napi::CallbackInfo& info) {
    return program_ctor_.New({info.Length() > 0 ? info[0] : info.Env().Undefined()});
  }

  // statePool({ layers, kvHeads, headDim, dtype, pageRows, budgetBytes }): a pool of pages for
  // sequence state (state_js.cc).
  Napi::Value StatePool(const Napi::CallbackInfo& info) {
    return state_classes_.pool.New({info.Length() > 0 ? info[0] : info.Env().Undefined()});
  }

  // peakScratchBytes(reset?: boolean): the most scratch memory ops held at once since the last
  // reset (process-wide); with reset, starts a new measurement.
  Napi::Value PeakScratchBytes(const Napi::CallbackInfo& info) {
    const double peak = static_cast<double>(scratch_peak_bytes());
    if (info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value()) scratch_reset_peak();
    return Napi::Number::New(info.Env(), peak);
  }

  // kernelThreads(): { jsThread, otherThreads }, this environment's kernel runs (ops, batches
  // and compiled passes) since it loaded the addon, by the thread each ran on.
  Napi::Value KernelThreads(const Napi::CallbackInfo& info) {
    const KernelThreadCounts c = runner_.kernel_thread_counts();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("jsThread", static_cast<double>(c.js_thread));
    o.Set("otherThreads", static_cast<double>(c.other_threads));
    return o;
  }

  std::shared_ptr<ThreadPool> pool_;
  Isa isa_;
  Napi::FunctionReference weight_ctor_;
  Napi::FunctionReference mapped_ctor_;
  Napi::FunctionReference program_ctor_;
  StateClasses state_classes_;
  std::unique_ptr<CudaAddon> cuda_;
  AsyncRunner runner_;  // declared last: destroyed first, so no job outlives the pool or handles
};

Napi::Value WeightHandle::Variant(const Napi::CallbackInfo& info) {
  if (!weight_) return info.Env().Undefined();
  return Napi::String::New(info.Env(), weight_->variant(info.Env().GetInstanceData<Attnode>()->isa()));
}

}  // namespace

std::shared_ptr<const MappedFile> unwrap_mapped_file(Args& args, const std::string& what, Napi::Value v) {
  return args.env().GetInstanceData<Attnode>()->unwrap_mapped(args, what, v);
}

StateClasses& state_classes(Napi::Env env) { return env.GetInstanceData<Attnode>()->state_classes(); }

RunTarget run_target(Napi::Env env) { return env.GetInstanceData<Attnode>()->run_target(); }

std::shared_ptr<const PackedWeight> unwrap_weight(Args& args, const char* name) {
  Napi::Env env = args.env();
  return env.GetInstanceData<Attnode>()->unwrap(args, name, args.raw(name));
}
}  // namespace attnode

using attnode::Attnode;
NODE_API_ADDON(Attnode)
