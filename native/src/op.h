// The op registry: each op validates its JS arguments into a closure that runs the kernel
// without touching any JS value, so it can run on the main thread or in async work.
#pragma once

#include <functional>
#include <string>
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

struct OpRegistrar {
  OpRegistrar(const char* name, OpPrepare prepare);
};

}  // namespace attnode
