#pragma once
/// Shape, join/split and slicing ops: each an op with its own backward rule (src/shape_ops.cpp),
/// gradchecked in tests/test_shape_ops.cpp. Names, argument orders, defaults and semantics are
/// PyTorch's (`torch.reshape`, `torch.cat`, `torch.nn.functional.pad`, ...); dims may be negative
/// (counting from the end).
///
///     auto flat = tapegrad::reshape(x, {-1});                                  // (4, 2) -> (8,)
///     auto heads = tapegrad::transpose(tapegrad::reshape(x, {2, 2, 2}), 0, 1);
///     std::vector<tapegrad::Var<float>> halves = tapegrad::chunk(x, 2, -1);   // two of (4, 1)
///
/// Where tapegrad differs from PyTorch: every result is a new array, never a view of its input
/// (arrays here are contiguous and own their memory), so `reshape`, `transpose`, `narrow` and
/// the others copy; the copy runs at memory speed (benchmarks/bench_ops.cpp), and nothing written
/// to a result changes its input. Dims that are out of range, and shapes that do not fit, are a
/// ShapeError naming the op and the shapes; a bad count, size, start, length or step is a
/// ValueError. Defined for float and double.
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tapegrad/ops.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

// -- shape -------------------------------------------------------------------------------------

/// The elements of x in a new shape with the same number of elements; one size may be -1 (inferred).
/// `torch.reshape`.
template <class T>
Var<T> reshape(const Var<T>& x, SizeList shape);
/// Merges dims start_dim..end_dim into one. A 0-d x becomes (1,). `torch.flatten`.
template <class T>
Var<T> flatten(const Var<T>& x, int start_dim = 0, int end_dim = -1);
/// Swaps two dims. `torch.transpose`.
template <class T>
Var<T> transpose(const Var<T>& x, int dim0, int dim1);
/// Reorders the dims: result dim i is x's dim `dims[i]`. `torch.permute`.
template <class T>
Var<T> permute(const Var<T>& x, DimList dims);
/// Inserts a dim of extent 1 at `dim`, in [-rank - 1, rank]. `torch.unsqueeze`.
template <class T>
Var<T> unsqueeze(const Var<T>& x, int dim);
/// Removes every dim of extent 1. `torch.squeeze`.
template <class T>
Var<T> squeeze(const Var<T>& x);
/// Removes `dim` if its extent is 1; otherwise returns x's values unchanged (as PyTorch).
template <class T>
Var<T> squeeze(const Var<T>& x, int dim);
/// Broadcasts x to `shape` (new dims in front; -1 keeps x's extent; only extents of 1 grow). The
/// gradient is summed back to x's shape. `torch.Tensor.expand`.
template <class T>
Var<T> expand(const Var<T>& x, SizeList shape);

// -- join / split ------------------------------------------------------------------------------

/// Concatenates along `dim`; every input has the same shape except along `dim`. As in PyTorch,
/// 1-D inputs with no elements (shape (0,)) are skipped whatever the others' shapes. `torch.cat`.
template <class T>
Var<T> cat(const std::vector<Var<T>>& xs, int dim = 0);
/// `cat({a, b, c}, dim)` with the inputs in braces (no vector is made).
template <class T>
Var<T> cat(std::initializer_list<Var<T>> xs, int dim = 0);
/// Joins inputs of one shape along a new dim at `dim`, in [-rank - 1, rank]. `torch.stack`.
template <class T>
Var<T> stack(const std::vector<Var<T>>& xs, int dim = 0);
template <class T>
Var<T> stack(std::initializer_list<Var<T>> xs, int dim = 0);
/// Pieces of `split_size` along `dim` (the last one smaller when it does not divide). Each piece is
/// its own op whose gradient flows into its slice of x. `torch.split`.
template <class T>
std::vector<Var<T>> split(const Var<T>& x, std::int64_t split_size, int dim = 0);
/// Pieces of the given sizes, which must add up to x's extent along `dim`.
template <class T>
std::vector<Var<T>> split(const Var<T>& x, SizeList split_sizes, int dim = 0);
/// `split(x, {2, 3})`: sizes in braces, also `{2}` (one piece of 2, not pieces of 2).
template <class T>
std::vector<Var<T>> split(const Var<T>& x, std::initializer_list<std::int64_t> split_sizes, int dim = 0) {
  return split(x, SizeList(split_sizes), dim);
}
/// `chunks` pieces of ceil(n / chunks) along `dim` (fewer when n runs out first, as PyTorch).
/// `torch.chunk`.
template <class T>
std::vector<Var<T>> chunk(const Var<T>& x, std::int64_t chunks, int dim = 0);

// -- slicing -----------------------------------------------------------------------------------

/// Elements start .. start + length - 1 along `dim`; a negative start counts from the end.
/// `torch.narrow`.
template <class T>
Var<T> narrow(const Var<T>& x, int dim, std::int64_t start, std::int64_t length);
/// x[start:end:step] along `dim`, with Python's rules: negative start/end count from the end, both
/// are clamped to the extent, and end <= start gives an empty dim. `step` must be positive (as in
/// PyTorch). For an open end pass INT64_MAX. `aten::slice`, i.e. `x[..., start:end:step]`.
template <class T>
Var<T> slice(const Var<T>& x, int dim, std::int64_t start, std::int64_t end, std::int64_t step = 1);
/// Constant padding. `pads` holds (before, after) pairs starting from the LAST dim:
/// {left, right} pads the last dim, {left, right, top, bottom} the last two, and so on; negative
/// values crop. `torch.nn.functional.pad(x, pads, "constant", value)`.
template <class T>
Var<T> pad(const Var<T>& x, SizeList pads, detail::scalar_t<T> value = T(0));

}  // namespace tapegrad
