// MappedFile: mmap(2) on POSIX, MapViewOfFile on Windows; read-only and private, so nothing the
// process does can write through to the checkpoint on disk.
#include "mapped_file.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#if defined(_WIN32)
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace attnode {

#if defined(_WIN32)

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  HANDLE f = CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (f == INVALID_HANDLE_VALUE) throw std::runtime_error("cannot open '" + path + "'");
  LARGE_INTEGER sz;
  if (!GetFileSizeEx(f, &sz)) {
    CloseHandle(f);
    throw std::runtime_error("cannot stat '" + path + "'");
  }
  const uint8_t* data = nullptr;
  if (sz.QuadPart > 0) {
    HANDLE m = CreateFileMappingA(f, nullptr, PAGE_READONLY, 0, 0, nullptr);
    if (m) {
      data = static_cast<const uint8_t*>(MapViewOfFile(m, FILE_MAP_READ, 0, 0, 0));
      CloseHandle(m);
    }
    if (!data) {
      CloseHandle(f);
      throw std::runtime_error("cannot map '" + path + "'");
    }
  }
  CloseHandle(f);
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, static_cast<size_t>(sz.QuadPart)));
}

MappedFile::~MappedFile() {
  if (data_) UnmapViewOfFile(data_);
}

void MappedFile::release(const void*, size_t) const {}
void MappedFile::release_whole_pages(const void*, size_t) const {}

#else

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error("cannot stat '" + path + "': " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("'" + path + "' is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw std::runtime_error("cannot map '" + path + "': " + std::strerror(e));
    }
    data = static_cast<const uint8_t*>(p);
  }
  // The mapping stays valid after the descriptor is closed (POSIX mmap).
  ::close(fd);
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

void MappedFile::release(const void* p, size_t n) const {
  const auto* b = static_cast<const uint8_t*>(p);
  if (!data_ || n == 0 || b < data_ || b + n > data_ + size_) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(b) / page * page;
  const uintptr_t end = reinterpret_cast<uintptr_t>(b + n);
  // Whole pages only; the first may begin before the range (same file bytes, so harmless).
  madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
}

void MappedFile::release_whole_pages(const void* p, size_t n) const {
  const auto* b = static_cast<const uint8_t*>(p);
  if (!data_ || n == 0 || b < data_ || b + n > data_ + size_) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = (reinterpret_cast<uintptr_t>(b) + page - 1) / page * page;
  const uintptr_t end = reinterpret_cast<uintptr_t>(b + n) / page * page;
  if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
}

#endif

}  // namespace attnode
