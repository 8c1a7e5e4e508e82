// Storage for packed weights. Decode reads every weight from DRAM once per token; on 4 KiB pages
// the hardware prefetchers stop at each page boundary and every page costs a TLB miss. Packed
// weights therefore live in 2 MiB-aligned mappings offered to the kernel as transparent huge
// pages (Linux; with THP in 'madvise' mode nothing else would get them): a weight of 4 MiB or
// more gets a mapping of its own, smaller ones are carved from shared 32 MiB arenas, so a model's
// many small matrices sit on huge pages too. An arena is unmapped when its last weight is freed.
// Measured on the 2-core Zen 4 machine: reading 256 MiB went from 16-25 to 21-30 GB/s on one
// core; GPT-2-124M decode, both models in one process side by side, f32 43 -> 56 tokens/s on one
// thread and 55 -> 63 on two, q8_0 143 -> 165 and 188 -> 211. Elsewhere, the heap.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace attnode {

// Bytes for packed weights, 64-byte aligned; release with free_weight_bytes(p, bytes).
void* alloc_weight_bytes(size_t bytes);
void free_weight_bytes(void* p, size_t bytes);

template <class T>
struct WeightAllocator {
  using value_type = T;
  WeightAllocator() = default;
  template <class U>
  WeightAllocator(const WeightAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(alloc_weight_bytes(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { free_weight_bytes(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const WeightAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const WeightAllocator<U>&) const { return false; }
};

// A packed weight's bytes: a vector whose storage sits on huge pages where the OS offers them.
template <class T>
using WeightVector = std::vector<T, WeightAllocator<T>>;

}  // namespace attnode
