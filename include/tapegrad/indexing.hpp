#pragma once
/// Ops that select by integer indices or boolean masks: each an op with its own backward rule
/// (src/indexing.cpp), gradchecked in tests/test_shape_ops.cpp. Names, argument orders and
/// semantics are PyTorch's. Indices (`IndexArray`, int64) and masks (`BoolArray`) are plain
/// arrays, not differentiated; the gradient flows to the values they select.
///
///     auto rows = tapegrad::index_select(x, 0, tapegrad::IndexArray{3, 1, 3});   // (4, 2) -> (3, 2)
///     auto picked = tapegrad::gather(x, 1, tapegrad::IndexArray{{1, 0}, {0, 0}});  // (2, 2)
///     auto masked = tapegrad::masked_fill(x, tapegrad::BoolArray{true, false}, -1e9f);
///
/// A dim out of range or shapes that do not fit is a ShapeError naming the op and the shapes; an
/// index out of range (negative ones included: PyTorch rejects them in these ops too) is a
/// ValueError naming the index, its position and the shape. Defined for float and double.
#include <cstdint>

#include "tapegrad/ops.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// Boolean masks: masked_fill's and where's condition. (PyTorch's masks are bool tensors too.)
using BoolArray = xt::xarray<bool>;

/// The slices of x at `index` (1-D; a 0-d index selects one slice and keeps the dim, of extent 1)
/// along `dim`; indices may repeat, and their gradients then add up. `torch.index_select`.
template <class T>
Var<T> index_select(const Var<T>& x, int dim, const IndexArray& index);
/// out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (and so on): index has x's rank and extents no
/// larger than x's outside `dim`; the result has index's shape. `torch.gather`.
template <class T>
Var<T> gather(const Var<T>& x, int dim, const IndexArray& index);
/// x with `value` where `mask` is true. mask and x broadcast together (NumPy rules, as PyTorch's
/// out-of-place masked_fill); the gradient flows to x where mask is false. `torch.masked_fill`.
template <class T>
Var<T> masked_fill(const Var<T>& x, const BoolArray& mask, detail::scalar_t<T> value);
/// a where `condition` is true, else b; all three broadcast together. The gradient flows to a
/// where the condition holds and to b elsewhere, summed back to each one's shape. `torch.where`.
template <class T>
Var<T> where(const BoolArray& condition, const Var<T>& a, const Var<T>& b);

}  // namespace tapegrad
