// Huge-page storage for packed weights (weight_buffer.h).
#include "weight_buffer.h"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace attnode {

#if defined(__linux__)
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kArenaBytes = size_t{32} << 20;
// At least this much: a mapping of its own, unmapped the moment the weight is freed (a 50257 x
// 128 q8_0 unembedding, 6.8 MiB, included), where an arena keeps its pages until all its weights go.
constexpr size_t kOwnMappingBytes = size_t{4} << 20;
constexpr size_t kAlign = 64;

size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

// A 2 MiB-aligned anonymous mapping of `bytes` (a multiple of 4 KiB), advised as huge pages.
void* map_huge(size_t bytes) {
  const size_t span = bytes + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = round_up(base, kHugePage);
  if (start > base) munmap(raw, start - base);
  if (start + bytes < base + span) munmap(reinterpret_cast<void*>(start + bytes), base + span - start - bytes);
  madvise(reinterpret_cast<void*>(start), bytes, MADV_HUGEPAGE);  // advice: the kernel may decline
  return reinterpret_cast<void*>(start);
}

struct Arena {
  uintptr_t base = 0;
  size_t used = 0;  // bump offset
  size_t live = 0;  // buffers not yet freed
};

struct Arenas {
  std::mutex mutex;
  std::map<uintptr_t, Arena> by_base;  // every arena, by its first byte
  uintptr_t current = 0;               // where new buffers are carved; 0: none yet
};

Arenas& arenas() {
  static Arenas* a = new Arenas();  // never destroyed: weights may outlive static destructors
  return *a;
}

}  // namespace

void* alloc_weight_bytes(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes >= kOwnMappingBytes) return map_huge(round_up(bytes, 4096));
  Arenas& a = arenas();
  std::lock_guard<std::mutex> lock(a.mutex);
  const size_t need = round_up(bytes, kAlign);
  Arena* cur = a.current ? &a.by_base[a.current] : nullptr;
  if (!cur || cur->used + need > kArenaBytes) {
    const auto base = reinterpret_cast<uintptr_t>(map_huge(kArenaBytes));
    // The old arena stays until its last buffer goes; an empty one goes now.
    if (cur && cur->live == 0) {
      munmap(reinterpret_cast<void*>(cur->base), kArenaBytes);
      a.by_base.erase(cur->base);
    }
    a.current = base;
    cur = &a.by_base[base];
    cur->base = base;
  }
  void* p = reinterpret_cast<void*>(cur->base + cur->used);
  cur->used += need;
  ++cur->live;
  return p;
}

void free_weight_bytes(void* p, size_t bytes) {
  if (!p) return;
  if (bytes == 0) bytes = 1;
  if (bytes >= kOwnMappingBytes) {
    munmap(p, round_up(bytes, 4096));
    return;
  }
  Arenas& a = arenas();
  std::lock_guard<std::mutex> lock(a.mutex);
  const auto at = reinterpret_cast<uintptr_t>(p);
  auto it = a.by_base.upper_bound(at);
  if (it == a.by_base.begin()) std::abort();  // not from an arena: a bug, not bad input
  --it;
  Arena& arena = it->second;
  if (--arena.live > 0) return;
  if (arena.base == a.current) {
    // The current arena is reused from its start; its pages go back to the OS now, so that
    // dispose() lowers RSS at once (it used to be the checkpoint's mapped pages that did, and
    // packWeight releases those as soon as they are copied).
    madvise(reinterpret_cast<void*>(arena.base), round_up(arena.used, 4096), MADV_DONTNEED);
    arena.used = 0;
    return;
  }
  munmap(reinterpret_cast<void*>(arena.base), kArenaBytes);
  a.by_base.erase(it);
}

#else

void* alloc_weight_bytes(size_t bytes) { return ::operator new(bytes ? bytes : 1, std::align_val_t{64}); }
void free_weight_bytes(void* p, size_t) { ::operator delete(p, std::align_val_t{64}); }

#endif

}  // namespace attnode
