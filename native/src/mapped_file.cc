// MappedFile: mmap(2) on POSIX, MapViewOfFile on Windows; read-only and private, so nothing the
// process does can write through to the checkpoint on disk.
#include "mapped_file.h"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

#if defined(_WIN32)
#include <windows.h>
#else
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
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

bool MappedFile::guarded_copy(void* dst, const void* src, size_t n) {
  std::memcpy(dst, src, n);
  return true;
}

#else

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; it is
  // refused below as not a regular file. The flag means nothing for the regular file we map.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error("cannot stat '" + path + "': " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("'" + path + "' is not a regular file (a FIFO, device, socket or directory cannot be mapped)");
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

namespace {

// The SIGBUS guard of guarded_copy. A fault inside a guarded copy jumps back to it; any other
// SIGBUS goes to the handler that was installed before ours (by default: the process ends, as
// it would have without the guard). SA_NODEFER keeps SIGBUS unblocked after the jump, so the
// next guarded fault is delivered too; the jump skips only a memcpy, which holds no lock.
struct SigbusGuard {
  sigjmp_buf jump;
  volatile sig_atomic_t armed = 0;
};
// Set by guarded_copy before any read it guards, so on a thread that can take a guarded fault
// the variable's TLS block already exists when the handler reads it. (initial-exec TLS would
// avoid even that question, but a dlopen'd addon cannot count on static TLS room.)
thread_local SigbusGuard* t_guard = nullptr;
struct sigaction g_previous_sigbus;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  SigbusGuard* g = t_guard;
  if (g && g->armed) {
    g->armed = 0;
    siglongjmp(g->jump, 1);
  }
  if (g_previous_sigbus.sa_flags & SA_SIGINFO) {
    g_previous_sigbus.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous_sigbus.sa_handler != SIG_DFL && g_previous_sigbus.sa_handler != SIG_IGN) {
    g_previous_sigbus.sa_handler(sig);
    return;
  }
  // The default action: restore it; returning re-runs the faulting access, which now ends the process.
  sigaction(SIGBUS, &g_previous_sigbus, nullptr);
}

void install_sigbus_guard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous_sigbus);
  });
}

}  // namespace

bool MappedFile::guarded_copy(void* dst, const void* src, size_t n) {
  install_sigbus_guard();
  SigbusGuard g;
  t_guard = &g;
  if (sigsetjmp(g.jump, 0) != 0) {
    t_guard = nullptr;
    return false;
  }
  g.armed = 1;
  std::memcpy(dst, src, n);
  g.armed = 0;
  t_guard = nullptr;
  return true;
}

#endif

}  // namespace attnode
