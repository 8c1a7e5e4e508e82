// The Node-API classes of sequence state (state_js.cc): StatePool and SequenceState.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "state.h"

namespace attnode {

// The constructors, made once per environment and kept by the addon instance (addon.cc).
struct StateClasses {
  Napi::FunctionReference pool;
  Napi::FunctionReference state;
};
StateClasses define_state_classes(Napi::Env env);
// Implemented in addon.cc.
StateClasses& state_classes(Napi::Env env);

// The page table behind a SequenceState handle; a TypeError naming `what` for anything else,
// an Error when it was disposed.
std::shared_ptr<SeqTable> unwrap_state(Napi::Env env, Napi::Value v, const std::string& what);
Napi::Object wrap_state(Napi::Env env, std::shared_ptr<SeqTable> table);

}  // namespace attnode
