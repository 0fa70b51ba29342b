#pragma once
/// tapegrad's own worker threads: how many it computes on, and the loops that use them
/// (`parallel_for`, and `run_parallel` underneath). No autograd here; usable from custom ops.
/// Implemented in src/parallel.cpp.
#include <algorithm>
#include <cstddef>

namespace tapegrad {

/// Sets the number of threads tapegrad computes on, the calling thread included: large matrix
/// products are cut into that many slices, and large elementwise loops (`parallel_for`) into
/// that many ranges. The default is OpenBLAS's: the OPENBLAS_NUM_THREADS environment variable,
/// else one per core. Each slice runs single-threaded: tapegrad's float kernel starts no thread,
/// and tapegrad sets OpenBLAS's own pool to one thread before its first product, so `n` = the
/// number of cores uses the machine without oversubscription. `n` < 1 means 1.
void set_num_threads(int n);
/// The number of threads tapegrad computes on.
int num_threads();

namespace detail {
/// A slice of a parallel job: `part` in [0, parts). It must not throw.
using SliceFn = void (*)(const void* context, int part) noexcept;
/// Runs fn(context, p) for p in [0, parts), parts <= num_threads(): part 0 on the calling thread,
/// the others on tapegrad's workers; returns when all are done. While another caller's job holds
/// the workers, every part runs on the calling thread (same results, no waiting on each other).
void run_parallel(int parts, SliceFn fn, const void* context);
/// Where slice p of `parts` starts in [0, len): the even cut rounded up to a multiple of
/// `align`, so slices are whole tiles (and two threads never write one cache line); len for
/// p >= parts. Trailing slices may be empty.
inline std::size_t slice_begin(std::size_t len, std::size_t p, std::size_t parts, std::size_t align) {
  if (p >= parts) return len;
  return std::min(len, (len * p / parts + align - 1) / align * align);
}
}  // namespace detail

namespace kernels {

/// The `grain` for memory-bound loops of a few operations per item: below ~16k items, waking
/// a second thread costs about what it saves.
inline constexpr std::size_t kParallelGrain = std::size_t(1) << 14;

/// While alive, the calling thread treats subnormal numbers (below 1.2e-38 in float, 2.2e-308 in
/// double) as zero, both as inputs and as results (x86-64: MXCSR's FTZ and DAZ); the destructor
/// restores those two bits as they were and leaves any exception flags raised meanwhile. Subnormal
/// arithmetic is slow on x86 (microcode assists), and values that small move nothing a network
/// computes. Elsewhere it does nothing. The optimizers' updates run under it (see
/// Optimizer::update_slices).
class FlushSubnormals {
 public:
  FlushSubnormals() noexcept;
  ~FlushSubnormals();
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;

 private:
  [[maybe_unused]] unsigned saved_;  // the two mode bits as they were
};

/// Runs f(begin, end) over [0, n) cut into at most num_threads() contiguous ranges of at least
/// `grain` items each (one range, on the calling thread, when n < 2 * grain). For memory-bound
/// loops over large arrays, such as an optimizer's update; `f` must not throw, and must write
/// only inside its range.
template <class F>
void parallel_for(std::size_t n, std::size_t grain, const F& f) {
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t parts = std::min<std::size_t>(std::size_t(num_threads()), n / grain);
  if (parts <= 1) {
    f(std::size_t(0), n);
    return;
  }
  struct Job {
    const F* f;
    std::size_t n, parts;
  };
  const Job job{&f, n, parts};
  detail::run_parallel(int(parts), [](const void* context, int part) noexcept {
    const Job& j = *static_cast<const Job*>(context);
    const std::size_t p = std::size_t(part);
    // 16 items: two threads never write one cache line.
    const std::size_t begin = detail::slice_begin(j.n, p, j.parts, 16);
    const std::size_t end = detail::slice_begin(j.n, p + 1, j.parts, 16);
    if (begin < end) (*j.f)(begin, end);
  }, &job);
}

/// parallel_for over `rows` rows of `row_size` items each: f(begin_row, end_row) gets ranges of
/// whole rows of at least kParallelGrain items, starting at multiples of 16 rows (where gemm
/// cuts a matrix's rows).
template <class F>
void parallel_for_rows(std::size_t rows, std::size_t row_size, const F& f) {
  parallel_for(rows, std::max<std::size_t>(1, kParallelGrain / std::max<std::size_t>(row_size, 1)), f);
}

}  // namespace kernels

}  // namespace tapegrad
