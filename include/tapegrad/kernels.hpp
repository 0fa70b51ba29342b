#pragma once
/// Layer 1: the array kernels the ops are built from: matrix products and reductions. No
/// autograd here; usable from custom ops. The thread API they run on is in parallel.hpp
/// (included here, so existing callers of kernels::parallel_for keep compiling).
#include <cstddef>

#include "tapegrad/array.hpp"
#include "tapegrad/parallel.hpp"

namespace tapegrad::kernels {

/// C = alpha * op(A) * op(B) + beta * C for 2-D row-major arrays, through CBLAS; `ta`/`tb`
/// transpose A/B without copying them. C must already have its shape.
template <class T>
void gemm(bool ta, bool tb, T alpha, const Array<T>& a, const Array<T>& b, T beta, Array<T>& c);

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
