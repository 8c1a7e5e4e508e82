// Shared helpers for the native addon: the CHECK macro and overflow-safe size arithmetic.
// Nothing here knows about Node-API or models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace attnode {

// Thrown by CHECK on a broken internal invariant; the Node-API layer turns it into a JS Error.
// Input validation never relies on this: addon.cc checks every argument with a precise message.
class InternalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

#define ATTNODE_STR2(x) #x
#define ATTNODE_STR(x) ATTNODE_STR2(x)
#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond))                                                                             \
      throw ::attnode::InternalError(std::string(__FILE__ ":" ATTNODE_STR(__LINE__) ": check failed: ") + \
                                     #cond);                                                 \
  } while (0)

// a * b, or false on overflow of size_t.
inline bool mul_overflow(size_t a, size_t b, size_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

inline bool add_overflow(size_t a, size_t b, size_t* out) {
  return __builtin_add_overflow(a, b, out);
}

}  // namespace attnode
