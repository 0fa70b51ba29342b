#pragma once
// tapegrad's own worker threads (declared for users in tapegrad/kernels.hpp: run_parallel,
// parallel_for, set_num_threads). This header adds what only the library calls.
//
// Why not OpenBLAS's threads: OpenBLAS 0.3.21's threaded GEMM mallocs a job table on every call,
// so a training step could never be free of heap allocations at two threads. tapegrad instead
// runs OpenBLAS single-threaded (concurrent single-threaded calls are safe) and hands each slice
// of C to one thread of this pool. The workers are created once and then live for the process;
// a job is a function pointer and a context, so dispatching one allocates nothing.
#include "tapegrad/kernels.hpp"

namespace tapegrad::detail {

/// The number of threads parallel jobs use, the caller's included (>= 1).
int pool_threads();

/// Sets the number of threads parallel jobs use, the caller's included; values < 1 mean 1.
/// Starts or stops workers as needed; waits for a running job to finish first.
void set_pool_threads(int n);

}  // namespace tapegrad::detail
