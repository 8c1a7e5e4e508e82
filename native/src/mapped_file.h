// A read-only memory mapping of a checkpoint file (PROT_READ, MAP_PRIVATE), shared by every
// tensor view into it. Not a parser: safetensors and GGUF headers are read in TypeScript.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace attnode {

class MappedFile {
 public:
  // Maps the whole file; throws std::runtime_error naming the path and errno on failure.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // True when [offset, offset + length) lies inside the file (overflow-safe).
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= size_ && length <= size_ - offset;
  }
  // Drops the resident pages of [p, p + n) (a range of this mapping that was copied elsewhere):
  // madvise(MADV_DONTNEED) on the pages it touches. The mapping stays valid; a later read faults
  // the same bytes back in from the file (read-only and private, so no page was ever modified).
  // A no-op on Windows and for ranges outside the mapping.
  void release(const void* p, size_t n) const;
  // As release, but only the pages that lie wholly inside [p, p + n): for releasing a range in
  // pieces while the bytes next to it are still to be read.
  void release_whole_pages(const void* p, size_t n) const;
  // Copies [src, src + n) of this mapping to dst and returns true, or returns false when the
  // read faulted because the file shrank under the mapping (SIGBUS on POSIX: someone truncated
  // or rewrote the checkpoint). Kernels that read weights in place after load (embedding gathers)
  // read through this, so a replaced file fails the requests that touch it, not the process.
  static bool guarded_copy(void* dst, const void* src, size_t n);

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;  // null for an empty file
  size_t size_;
};

}  // namespace attnode
