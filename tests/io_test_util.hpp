#pragma once
// Helpers shared by the io/data tests: a scratch directory, raw file access, running numpy, a
// probe of the largest heap allocation (to show that a hostile header allocates nothing big),
// and failing allocations on purpose (to show that running out of memory is an IoError).
// Include from exactly one source file per test program: it replaces operator new.
#include <dirent.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>
// Before the replacement posix_memalign below, whatever the include order of the test: clang's
// <mm_malloc.h> (reached through xsimd) redeclares it without noexcept, which is an error after
// a user's declaration but fine after the C library's (and before ours).
#if __has_include(<mm_malloc.h>)
#include <mm_malloc.h>
#endif

namespace tg_test {

inline std::atomic<bool> g_track{false};
inline std::atomic<std::size_t> g_largest{0};
inline std::atomic<std::size_t> g_count{0};
inline std::atomic<std::size_t> g_fail_above{~std::size_t(0)};

/// While alive, every heap allocation larger than `bytes` fails (std::bad_alloc from new,
/// ENOMEM from posix_memalign, as when memory runs out), without asking the system for it.
struct FailAllocationsAbove {
  explicit FailAllocationsAbove(std::size_t bytes) { g_fail_above = bytes; }
  ~FailAllocationsAbove() { g_fail_above = ~std::size_t(0); }
};

/// Records the largest single allocation, and the number of allocations, made while alive.
struct LargestAllocation {
  LargestAllocation() {
    g_largest = 0;
    g_count = 0;
    g_track = true;
  }
  ~LargestAllocation() { g_track = false; }
  std::size_t bytes() const { return g_largest.load(); }
  std::size_t count() const { return g_count.load(); }
};

/// A fresh directory under $TMPDIR (or /tmp), removed with its files at the end.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/tapegrad-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    for (const auto& f : files()) ::unlink((path_ + "/" + f).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  /// The names of the files in the directory, sorted.
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
      }
      ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs a Python script with the system interpreter and numpy; returns its exit status.
inline int run_python(const std::string& dir, const std::string& script) {
  const std::string file = dir + "/script.py";
  write_bytes(file, script);
  const int status = std::system(("/usr/bin/python3 " + file).c_str());
  ::unlink(file.c_str());
  return status;
}

}  // namespace tg_test

namespace tg_test {
inline void record_allocation(std::size_t n) {
  if (!g_track.load(std::memory_order_relaxed)) return;
  ++g_count;
  std::size_t prev = g_largest.load();
  while (n > prev && !g_largest.compare_exchange_weak(prev, n)) {
  }
}
}  // namespace tg_test

// Replacement allocation functions: record the largest request while tracking is on. Arrays
// allocate through xsimd's aligned allocator (posix_memalign), everything else through new.
extern "C" int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  tg_test::record_allocation(n);
  if (n > tg_test::g_fail_above.load(std::memory_order_relaxed)) return ENOMEM;
  // memalign does not go through posix_memalign (no recursion), and sanitizers intercept it.
  void* p = ::memalign(alignment, n ? n : 1);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void* operator new(std::size_t n) {
  tg_test::record_allocation(n);
  if (n > tg_test::g_fail_above.load(std::memory_order_relaxed)) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
// GCC cannot see that operator new above is malloc-based, hence the pragma.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
