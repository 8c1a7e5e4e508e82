// Scratch buffers for op closures, counted so benchmarks can read the peak extra memory an op
// used (addon.peakScratchBytes). Not an allocator: one new[] per buffer, freed on scope exit.
#pragma once

#include <cstddef>
#include <memory>

namespace attnode {

// Bytes of scratch alive now in this process, and the most seen since the last reset.
size_t scratch_peak_bytes();
void scratch_reset_peak();

class ScratchBuffer {
 public:
  // Zero-filled unless `zero` is false (for kernels that write before they read: filling a
  // workspace on every call costs as much as a small attention call itself).
  // Throws std::bad_alloc when memory runs out.
  explicit ScratchBuffer(size_t floats, bool zero = true);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  float* data() { return data_.get(); }

 private:
  std::unique_ptr<float[]> data_;
  size_t bytes_;
};

}  // namespace attnode
