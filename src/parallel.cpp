// tapegrad's own worker threads (declared for users in tapegrad/parallel.hpp).
//
// Why not OpenBLAS's threads: OpenBLAS 0.3.21's threaded GEMM mallocs a job table on every call,
// so a training step could never be free of heap allocations at two threads. tapegrad instead
// runs OpenBLAS single-threaded (concurrent single-threaded calls are safe) and hands each slice
// of C to one thread of this pool. The workers are created once and then live for the process;
// a job is a function pointer and a context, so dispatching one allocates nothing.
#include "tapegrad/parallel.hpp"

#include <cblas.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tapegrad::detail {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// How long an idle worker spins before it sleeps. Between two products of a training step the
// caller runs elementwise kernels for microseconds; a sleeping worker takes tens of microseconds
// to wake, so it keeps watching for that long, and then gives the core back.
constexpr auto kSpinTime = std::chrono::microseconds(100);

// One worker and its mailbox. The caller writes a slice into the mailbox, then publishes it by
// bumping `posted`. Whoever first moves `claimed` from the previous ticket to the new one runs
// the slice: normally the worker, but the caller takes back a slice the worker has not started
// by the time the caller's own slice is done (the worker was asleep, or descheduled on a busy
// machine), so a job never waits for a thread that is not running. The caller posts the next
// slice only after this one is claimed and, if the worker claimed it, `finished`.
// Each mailbox has its own cache line, so workers don't share one.
struct alignas(64) Worker {
  std::atomic<std::uint64_t> posted{0};
  std::atomic<std::uint64_t> claimed{0};
  std::atomic<std::uint64_t> finished{0};
  std::atomic<bool> sleeping{false};
  SliceFn fn = nullptr;  // nullptr posted = stop
  const void* context = nullptr;
  int part = 0;
  std::mutex mutex;
  std::condition_variable wake;
  std::thread thread;
};

// Moves `claimed` from ticket - 1 to ticket; true for the one thread that did.
bool claim(Worker& w, std::uint64_t ticket) {
  std::uint64_t expected = ticket - 1;
  return w.claimed.compare_exchange_strong(expected, ticket, std::memory_order_acq_rel);
}

void worker_loop(Worker& w) {
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t ticket = w.posted.load(std::memory_order_acquire);
    auto deadline = std::chrono::steady_clock::now() + kSpinTime;
    for (unsigned spins = 0; ticket == seen; ticket = w.posted.load(std::memory_order_acquire)) {
      cpu_relax();
      if (++spins % 256 != 0 || std::chrono::steady_clock::now() < deadline) continue;
      // Sleep. `sleeping` is set before `posted` is read again, and the caller reads `sleeping`
      // after it sets `posted` (both sequentially consistent): one of the two sees the other.
      std::unique_lock<std::mutex> lock(w.mutex);
      w.sleeping.store(true);
      w.wake.wait(lock, [&] { return w.posted.load() != seen; });
      w.sleeping.store(false);
      deadline = std::chrono::steady_clock::now() + kSpinTime;
    }
    seen = ticket;
    if (!claim(w, ticket)) continue;  // the caller ran it
    if (w.fn == nullptr) return;
    w.fn(w.context, w.part);
    w.finished.store(ticket, std::memory_order_release);
  }
}

class Pool {
 public:
  // The pool takes OpenBLAS's thread count (OPENBLAS_NUM_THREADS, else one per core), and
  // OpenBLAS itself becomes single-threaded, so that the two never run threads at once.
  Pool() {
    const int n = openblas_get_num_threads();
    openblas_set_num_threads(1);
    resize_locked(n < 1 ? 1 : n);
  }
  ~Pool() { resize_locked(1); }

  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void resize(int n) {
    std::lock_guard<std::mutex> lock(busy_);
    resize_locked(n < 1 ? 1 : n);
  }

  void run(int parts, SliceFn fn, const void* context) {
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (!lock.owns_lock() || parts > int(workers_.size()) + 1) {
      for (int p = 0; p < parts; ++p) fn(context, p);
      return;
    }
    for (int p = 1; p < parts; ++p) post(*workers_[std::size_t(p - 1)], fn, context, p);
    fn(context, 0);
    for (int p = 1; p < parts; ++p) {
      Worker& w = *workers_[std::size_t(p - 1)];
      const std::uint64_t ticket = w.posted.load(std::memory_order_relaxed);
      if (claim(w, ticket)) {  // not started yet: run it here rather than wait
        fn(context, p);
        continue;
      }
      for (unsigned spins = 0; w.finished.load(std::memory_order_acquire) != ticket;) {
        if (++spins < 4096) {
          cpu_relax();
        } else {
          std::this_thread::yield();  // the worker was descheduled mid-slice: let it run
        }
      }
    }
  }

 private:
  static void post(Worker& w, SliceFn fn, const void* context, int part) {
    w.fn = fn;
    w.context = context;
    w.part = part;
    w.posted.fetch_add(1);  // sequentially consistent: see worker_loop
    if (w.sleeping.load()) {
      std::lock_guard<std::mutex> lock(w.mutex);
      w.wake.notify_one();
    }
  }

  void resize_locked(int n) {
    while (int(workers_.size()) + 1 > n) {
      Worker& w = *workers_.back();
      post(w, nullptr, nullptr, 0);  // the worker claims it and returns
      w.thread.join();
      workers_.pop_back();
    }
    while (int(workers_.size()) + 1 < n) {
      auto w = std::make_unique<Worker>();
      w->thread = std::thread(worker_loop, std::ref(*w));
      workers_.push_back(std::move(w));
    }
    threads_.store(n, std::memory_order_relaxed);
  }

  std::mutex busy_;  // held by the caller whose job runs, and while resizing
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<int> threads_{1};
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void run_parallel(int parts, SliceFn fn, const void* context) { pool().run(parts, fn, context); }

}  // namespace tapegrad::detail

namespace tapegrad {

void set_num_threads(int n) { detail::pool().resize(n); }

int num_threads() { return detail::pool().threads(); }

}  // namespace tapegrad

namespace tapegrad::kernels {

// MXCSR bit 15 (FTZ: subnormal results become zero) and bit 6 (DAZ: subnormal inputs read as
// zero). Every x86-64 processor has both.
#if defined(__x86_64__)
namespace {
constexpr unsigned kFlushToZero = 1u << 15, kDenormalsAreZero = 1u << 6;
}
FlushSubnormals::FlushSubnormals() noexcept : saved_(_mm_getcsr() & (kFlushToZero | kDenormalsAreZero)) {
  _mm_setcsr(_mm_getcsr() | kFlushToZero | kDenormalsAreZero);
}
// Only the two mode bits go back: the exception flags raised meanwhile stay raised.
FlushSubnormals::~FlushSubnormals() { _mm_setcsr((_mm_getcsr() & ~(kFlushToZero | kDenormalsAreZero)) | saved_); }
#else
FlushSubnormals::FlushSubnormals() noexcept : saved_(0) {}
FlushSubnormals::~FlushSubnormals() = default;
#endif

}  // namespace tapegrad::kernels
