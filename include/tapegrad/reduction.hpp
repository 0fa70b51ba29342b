#pragma once
/// Reductions, each an op with its own backward rule (src/reduction.cpp), gradchecked in
/// tests/test_ops.cpp and tests/test_reduction.cpp. A reduction over everything returns a 0-d
/// value. Names, argument orders, defaults and gradients follow PyTorch (`torch.sum`,
/// `torch.amax`, `torch.var`, ...): dims (a DimList: one int, braces or a std::vector<int>) may be
/// negative, an empty list of dims means every dim,
/// a dim listed twice or out of range is a ShapeError naming the op and the shape, and `keepdim`
/// keeps the reduced dims with extent 1. Defined for float and double.
///
///     auto loss = tapegrad::mean(tapegrad::mul(err, err));
///     auto per_row = tapegrad::logsumexp(x, {-1}, true);        // (4, 2) -> (4, 1)
///     auto [values, indices] = tapegrad::max(x, 1);             // values (4,), indices (4,)
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// Sum of all elements: a 0-d value (accumulated in double).
template <class T>
Var<T> sum(const Var<T>& x);
/// Sum over `dims`: one dim (`sum(x, 1)`), a list (`sum(x, {0, 2})`), or `{}` for every dim (as
/// PyTorch's `dim=[]`); `keepdim` keeps them with extent 1. `torch.sum(x, dims, keepdim)`.
template <class T>
Var<T> sum(const Var<T>& x, DimList dims, bool keepdim = false);
/// Mean of all elements: a 0-d value. Throws ValueError for an empty value.
template <class T>
Var<T> mean(const Var<T>& x);
/// Mean over `dims`, as sum. ValueError when they hold no element.
template <class T>
Var<T> mean(const Var<T>& x, DimList dims, bool keepdim = false);

/// The largest element over `dims` (default: all). NaN if any is NaN. The gradient is split
/// evenly among the elements equal to the maximum (as PyTorch). ValueError for an empty
/// reduction (nothing to take the maximum of). `torch.amax`.
template <class T>
Var<T> amax(const Var<T>& x, DimList dims = {}, bool keepdim = false);
/// The smallest element; as amax. `torch.amin`.
template <class T>
Var<T> amin(const Var<T>& x, DimList dims = {}, bool keepdim = false);

/// What max and min along a dim return, as PyTorch's (values, indices).
template <class T>
struct ValuesIndices {
  Var<T> values;
  /// The position of each value along the dim: the first one at ties, the first NaN if any.
  /// A copy the caller owns (one allocation per call); the op keeps its own for backward.
  IndexArray indices;
};
/// The maximum along `dim` and where it is. The gradient flows to that one element (unlike amax,
/// which splits it among ties). `torch.max(x, dim, keepdim)`.
template <class T>
ValuesIndices<T> max(const Var<T>& x, int dim, bool keepdim = false);
/// The minimum along `dim` and where it is. `torch.min(x, dim, keepdim)`.
template <class T>
ValuesIndices<T> min(const Var<T>& x, int dim, bool keepdim = false);
/// The largest element of x: a 0-d value; `amax(x)` (the gradient is split among ties, as
/// PyTorch's `torch.max(x)`).
template <class T>
Var<T> max(const Var<T>& x) {
  return amax(x);
}
/// The smallest element of x: `amin(x)`.
template <class T>
Var<T> min(const Var<T>& x) {
  return amin(x);
}

/// log Σ exp(x) over `dims`, stable for any finite x (the maximum is subtracted first; an
/// infinite maximum is not). −inf over an empty reduction. `torch.logsumexp`.
template <class T>
Var<T> logsumexp(const Var<T>& x, DimList dims, bool keepdim = false);

/// The variance over `dims` (default: all): Σ (x − mean)² / max(0, N − correction), with
/// Bessel's correction 1 by default (NaN or inf when N <= correction, as PyTorch).
/// `torch.var(x, dims, correction=1, keepdim)`.
template <class T>
Var<T> var(const Var<T>& x, DimList dims = {}, double correction = 1, bool keepdim = false);
/// √var; the gradient where the deviation is 0 is 0 (as PyTorch). `torch.std`.
template <class T>
Var<T> std(const Var<T>& x, DimList dims = {}, double correction = 1, bool keepdim = false);

/// The vector p-norm over `dims` (default: all): (Σ |x|^p)^(1/p); p = ±inf is max/min |x|, p = 0
/// counts the non-zero elements (its gradient is 0). At a zero norm the gradient is 0; for
/// p = ±inf it is split among the elements of largest (smallest) magnitude. ValueError for p =
/// ±inf over an empty reduction. `torch.norm(x, p, dims, keepdim)` (`torch.linalg.vector_norm`).
template <class T>
Var<T> norm(const Var<T>& x, double p = 2, DimList dims = {}, bool keepdim = false);

}  // namespace tapegrad
