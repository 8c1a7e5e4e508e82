// Storage for packed weights. Decode reads every weight from DRAM once per token; on 4 KiB pages
// the hardware prefetchers stop at each page boundary and every page costs a TLB miss. Buffers of
// 2 MiB and more are therefore mapped 2 MiB-aligned and offered to the kernel as transparent huge
// pages (Linux; with THP in 'madvise' mode nothing else would get them). Measured on the 2-core
// Zen 4 machine: reading 256 MiB went from 16-25 to 21-30 GB/s on one core; GPT-2-124M decode,
// both models in one process side by side, f32 43 -> 56 tokens/s on one thread and 55 -> 63 on
// two, q8_0 143 -> 165 and 188 -> 211. Elsewhere, and for smaller buffers, the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace attnode {

constexpr size_t kHugePageBytes = size_t{2} << 20;

template <class T>
struct WeightAllocator {
  using value_type = T;
  WeightAllocator() = default;
  template <class U>
  WeightAllocator(const WeightAllocator<U>&) {}

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
#if defined(__linux__)
    if (bytes >= kHugePageBytes) {
      // Over-map by one huge page, then unmap the unaligned head and the tail.
      const size_t span = bytes + kHugePageBytes;
      void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (raw == MAP_FAILED) throw std::bad_alloc();
      const auto base = reinterpret_cast<uintptr_t>(raw);
      const uintptr_t start = (base + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
      if (start > base) munmap(raw, start - base);
      const uintptr_t end = start + round_to_pages(bytes);
      if (end < base + span) munmap(reinterpret_cast<void*>(end), base + span - end);
      madvise(reinterpret_cast<void*>(start), round_to_pages(bytes), MADV_HUGEPAGE);  // advice only: may be refused
      return reinterpret_cast<T*>(start);
    }
#endif
    return static_cast<T*>(::operator new(bytes, std::align_val_t{64}));
  }

  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
#if defined(__linux__)
    if (bytes >= kHugePageBytes) {
      munmap(p, round_to_pages(bytes));
      return;
    }
#endif
    ::operator delete(p, std::align_val_t{64});
  }

  template <class U>
  bool operator==(const WeightAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const WeightAllocator<U>&) const { return false; }

 private:
  static size_t round_to_pages(size_t bytes) { return (bytes + 4095) & ~size_t{4095}; }
};

// A packed weight's bytes: a vector whose large allocations sit on huge pages.
template <class T>
using WeightVector = std::vector<T, WeightAllocator<T>>;

}  // namespace attnode
