// A compiled forward pass: the planned graph's ops with their arguments resolved once (slot
// buffers, parameters, packed weights, KV-cache operands), so that a pass costs one native call
// whose per-op work is filling in views for this pass's lengths and rows. See program.cc.
#pragma once

#include <napi.h>

#include <memory>

#include "async_runner.h"
#include "cpu/dispatch.h"
#include "threadpool.h"

namespace attnode {

// Where a program's passes run: the calling environment's dispatch thread, pool and kernel set.
struct RunTarget {
  AsyncRunner* runner;
  std::shared_ptr<ThreadPool> pool;
  Isa isa;
};

// Implemented in addon.cc, which owns them.
RunTarget run_target(Napi::Env env);

// The Program class for this environment (`new Program(desc)`; see program.cc for desc).
Napi::Function define_program(Napi::Env env);

}  // namespace attnode
