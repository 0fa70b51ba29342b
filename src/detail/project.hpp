#pragma once
// A linear map over the last dimension of a value of any rank, with the weight in either
// layout: y = x·W[r0 : r0 + n]ᵀ + b[r0 : r0 + n] for PyTorch's (out, in) weights (a block of
// rows: MultiheadAttention's q, k and v projections are blocks of in_proj_weight), or y = x·W + b
// for tapegrad's Linear (in, out). One GEMM forward; backward one GEMM for x, one for W and a
// column sum for b. Private to the library (src/detail/project.cpp).
#include <cstddef>

#include "tapegrad/tape.hpp"

namespace tapegrad::detail {

/// x (..., in) -> (..., n). `out_in`: w is (out, in) and rows r0 .. r0 + n are used (and b's
/// elements r0 .. r0 + n); else w is (in, n), r0 = 0. `b` may be undefined (no bias). `relu`
/// applies max(0, ·) to the result (fused: one pass less forward and backward).
/// Throws ShapeError naming `name` when x's last dimension does not fit.
template <class T>
Var<T> project(const char* name, const Var<T>& x, const Var<T>& w, const Var<T>& b, bool out_in, std::size_t r0,
               std::size_t n, bool relu = false);

}  // namespace tapegrad::detail
