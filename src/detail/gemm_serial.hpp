#pragma once
// The products of ops that cut their own work over the thread pool (convolutions: one slice of
// the batch per thread): C = alpha op(A) op(B) + beta C on raw row-major pointers with leading
// dimensions, on the calling thread only. The same kernels as kernels::gemm picks for one slice:
// plain loops up to 4096 multiply-adds, gemv for one row or column, tapegrad's float kernel (or
// BLAS on CPUs without AVX2+FMA), OpenBLAS for double. beta == 0 overwrites C without reading it.
// Defined in src/kernels.cpp. Private to the library.
#include <cstddef>

namespace tapegrad::detail {

template <class T>
void gemm_serial(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                 const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/// The same product cut over tapegrad's pool as kernels::gemm cuts it (for an op whose work is a
/// single product too large for one thread: a convolution of one image). Called from a slice of
/// a parallel job, it runs on the calling thread (the pool is busy).
template <class T>
void gemm_pooled(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                 const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

}  // namespace tapegrad::detail
