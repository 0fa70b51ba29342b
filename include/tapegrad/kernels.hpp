#pragma once
/// Layer 1: the array kernels the ops are built from: matrix products and reductions. No
/// autograd here; usable from custom ops. The thread API they run on is in parallel.hpp
/// (included here, so existing callers of kernels::parallel_for keep compiling).
#include <cstddef>
#include <string>

#include "tapegrad/array.hpp"
#include "tapegrad/parallel.hpp"

namespace tapegrad::kernels {

/// C = alpha * op(A) * op(B) + beta * C for 2-D row-major arrays; `ta`/`tb` transpose A/B
/// without copying them. C must already have its shape; beta == 0 overwrites it (NaNs in the old
/// C do not propagate). Products of up to 4096 multiply-adds run as plain loops; larger ones are
/// cut into one slice per thread (see parallel.hpp). Each slice runs, for float, on tapegrad's
/// own kernel when the CPU has AVX2+FMA or AVX-512 (chosen by instruction set at run time, not by
/// CPU model), else on BLAS; for double, on BLAS (OpenBLAS). `runtime_info()` says which.
/// After its first product a thread allocates nothing here.
template <class T>
void gemm(bool ta, bool tb, T alpha, const Array<T>& a, const Array<T>& b, T beta, Array<T>& c);

/// The same product on row-major matrices given by pointer and leading dimension (the distance
/// between the starts of two rows): op(A) is m x k, op(B) k x n, C m x n with rows `ldc` apart.
/// For sub-matrices without copies: one time step of a sequence whose rows are strided, one
/// head's columns of a projection, a block of columns of a weight. No shape checks: the caller
/// guarantees lda >= (ta ? m : k), ldb >= (tb ? k : n), ldc >= n and that the memory exists.
template <class T>
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
          const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/// out (+)= g summed over the axes along which `out`'s shape was broadcast to g's shape
/// (the adjoint of NumPy broadcasting). `out` must already have its shape; `add` chooses
/// between accumulating and overwriting.
template <class T>
void sum_to(const Array<T>& g, Array<T>& out, bool add);

/// out[j] (+)= sum_i g[i * cols + j] over `rows` rows: the bias gradient, in one pass over
/// memory (xt::sum over axis 0 takes several).
template <class T>
void column_sums(const T* g, std::size_t rows, std::size_t cols, T* out, bool add);

}  // namespace tapegrad::kernels

namespace tapegrad {

/// What runs tapegrad's products on this machine, one fact per line: the library version, the
/// float kernel and the instruction set it runs (e.g. "tapegrad sgemm, AVX-512 micro-kernels"),
/// the BLAS behind double products (OpenBLAS's version and the kernels it picked for this CPU),
/// the thread count, and OPENBLAS_CORETYPE when it is set. Print it when a machine is slower than
/// expected: e.g. OpenBLAS 0.3.21 runs SSE3 kernels on a CPU it does not know.
std::string runtime_info();

}  // namespace tapegrad
