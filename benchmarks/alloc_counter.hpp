#pragma once
// Counts every heap allocation of the process: operator new/delete and the whole malloc family
// (xtensor with XTENSOR_USE_XSIMD allocates through posix_memalign, not operator new). Linked
// into a benchmark binary, it replaces the allocator entry points and forwards to glibc.
#include <cstddef>
#include <cstdint>

namespace tapegrad_bench {

struct AllocStats {
  std::uint64_t count = 0;  ///< allocations (malloc, calloc, realloc, aligned, new)
  std::uint64_t bytes = 0;  ///< bytes requested by them
};

/// Totals since the program started (all threads).
AllocStats alloc_stats() noexcept;

/// Resident set size of the process, in KiB (from /proc/self/statm).
std::uint64_t rss_kib();

}  // namespace tapegrad_bench
