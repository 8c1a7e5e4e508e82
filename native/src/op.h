// The op registry: each op validates its JS arguments into a closure that runs the kernel
// without touching any JS value, so it can run on the main thread or in async work.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "cpu/dispatch.h"
#include "threadpool.h"

namespace attnode {

struct OpEnv {
  ThreadPool* pool;
  Isa isa;  // kernel tables are looked up per family: elementwise_kernels(env.isa), ...
};

using OpRun = std::function<void(const OpEnv&)>;
using OpPrepare = OpRun (*)(Args& args);

struct OpDef {
  const char* name;
  OpPrepare prepare;
};

// Registered at static-initialization time by OpRegistrar objects in ops/*.cc; read-only after.
const std::vector<OpDef>& op_registry();
const OpDef* find_op(const std::string& name);

// Runs prepared ops in order (a batch, or a compiled pass); an exception gets the op's name.
using NamedRun = std::pair<const char*, OpRun>;
void run_in_order(const std::vector<NamedRun>& runs, const OpEnv& env);
void run_in_order(const std::vector<const NamedRun*>& runs, const OpEnv& env);

struct OpRegistrar {
  OpRegistrar(const char* name, OpPrepare prepare);
};

}  // namespace attnode
