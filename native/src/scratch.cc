// Scratch accounting: a process-wide live count and its high-water mark, updated atomically
// because op closures allocate on the pool's threads.
#include "scratch.h"

#include <atomic>

namespace attnode {
namespace {
std::atomic<size_t> g_live{0};
std::atomic<size_t> g_peak{0};
}  // namespace

size_t scratch_peak_bytes() { return g_peak.load(); }
void scratch_reset_peak() { g_peak.store(g_live.load()); }

ScratchBuffer::ScratchBuffer(size_t floats, bool zero)
    : data_(zero ? new float[floats > 0 ? floats : 1]() : new float[floats > 0 ? floats : 1]), bytes_(floats * sizeof(float)) {
  const size_t now = g_live.fetch_add(bytes_) + bytes_;
  size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

ScratchBuffer::~ScratchBuffer() { g_live.fetch_sub(bytes_); }

}  // namespace attnode
