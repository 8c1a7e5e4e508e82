// The op registry (see op.h).
#include "op.h"

#include <stdexcept>

namespace attnode {

namespace {
std::vector<OpDef>& registry() {
  static std::vector<OpDef> ops;
  return ops;
}
}  // namespace

OpRegistrar::OpRegistrar(const char* name, OpPrepare prepare) { registry().push_back({name, prepare}); }

const std::vector<OpDef>& op_registry() { return registry(); }

const OpDef* find_op(const std::string& name) {
  for (const OpDef& d : registry())
    if (name == d.name) return &d;
  return nullptr;
}

void run_in_order(const std::vector<const NamedRun*>& runs, const OpEnv& env) {
  for (const NamedRun* r : runs) {
    try {
      r->second(env);
    } catch (const std::exception& ex) {
      throw std::runtime_error(std::string(r->first) + ": " + ex.what());
    }
  }
}

void run_in_order(const std::vector<NamedRun>& runs, const OpEnv& env) {
  std::vector<const NamedRun*> order;
  order.reserve(runs.size());
  for (const NamedRun& r : runs) order.push_back(&r);
  run_in_order(order, env);
}

}  // namespace attnode
