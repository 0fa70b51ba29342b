#pragma once
/// Layer 1: the array type and shape helpers. No autograd here.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/detail/xtensor.hpp"

/// For the few accessors on every op's path, which GCC would otherwise call out of line from
/// the large functions that use them.
#if defined(__GNUC__)
#define TAPEGRAD_ALWAYS_INLINE __attribute__((always_inline))
#else
#define TAPEGRAD_ALWAYS_INLINE
#endif

namespace tapegrad {

/// The value type of every tensor: a row-major, dynamically-ranked xtensor array.
template <class T>
using Array = xt::xarray<T>;

/// Integer arrays: lookup indices, arg-max positions, labels. Not differentiated.
using IndexArray = xt::xarray<std::int64_t>;

/// A shape: a small vector of extents, stored inline for rank <= 4 (no heap allocation).
using Shape = xt::xarray<float>::shape_type;

/// Named arrays in a fixed order: a module's parameters or an optimizer's state, as saved in
/// checkpoints (".npz" keys are the names).
template <class T>
using StateDict = std::vector<std::pair<std::string, Array<T>>>;

/// An array with no elements, shape (0). Unlike a default-constructed xarray (a 0-d array
/// holding one element), it allocates nothing.
template <class T>
Array<T> empty_array() {
  // A named shape, not a temporary: g++ 12 warns (falsely) that a temporary svector copied
  // into the array "may be used uninitialized" when this is inlined at -O3.
  static const Shape kEmpty(1, 0);
  return Array<T>(kEmpty);
}

/// True when both shapes have the same rank and extents. A plain loop: `==` on shapes calls
/// memcmp, which costs more than the comparison itself at rank <= 4 (it is on every op's path).
TAPEGRAD_ALWAYS_INLINE inline bool same_shape(const Shape& a, const Shape& b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const std::size_t* pa = a.data();
  const std::size_t* pb = b.data();
  if (n == 2) return ((pa[0] ^ pb[0]) | (pa[1] ^ pb[1])) == 0;  // matrices: most shapes in a step
  for (std::size_t i = 0; i < n; ++i) {
    if (pa[i] != pb[i]) return false;
  }
  return true;
}

/// A column vector, shape (n, 1): `column({0.5f, -1.f})`. (A nested braced list such as
/// `Array<float>{{0.5f}, {-1.f}}` is ambiguous to xtensor's constructors; these are not.)
template <class T>
Array<T> column(std::initializer_list<T> values) {
  Array<T> a = Array<T>::from_shape({values.size(), std::size_t(1)});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}
/// A row vector, shape (1, n): `row({1.f, 2.f})`.
template <class T>
Array<T> row(std::initializer_list<T> values) {
  Array<T> a = Array<T>::from_shape({std::size_t(1), values.size()});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

/// "(4, 2)" — the one way shapes are written in messages.
std::string to_string(const Shape& shape);

/// Number of elements of a shape (1 for a 0-d shape). Unchecked: for the shape of an array that
/// exists. A shape made from sizes a caller gives goes through checked_numel first.
inline std::size_t numel(const Shape& shape) {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

/// The most elements an array may hold: 2^60. Its size in bytes (elements of at most 8 bytes)
/// and xtensor's signed strides then fit in std::ptrdiff_t.
inline constexpr std::size_t kMaxNumel = std::size_t(1) << 60;

/// The number of elements of `shape`, checked before an array of that shape is built from sizes
/// a caller gave (a layer's features, a random array's shape, a header read from a file).
/// Throws ValueError "<what>: shape (...) is too large: ..." when the product of its extents
/// exceeds kMaxNumel (an unchecked product wraps around: a (2, 2^63 + 1) weight would hold 2
/// elements). The product of the non-zero extents is bounded too, because xtensor multiplies
/// them into strides even when another extent is 0.
///
///     const std::size_t n = tapegrad::checked_numel("Linear", {in, out});
std::size_t checked_numel(const char* what, const Shape& shape);

/// A shape split around one axis into (outer, n, inner): element (o, k, i) of a row-major array
/// is at (o·n + k)·inner + i. Reductions and softmax along an axis walk arrays this way.
struct AxisSplit {
  std::size_t outer = 1, n = 1, inner = 1, axis = 0;
};
/// Splits `shape` around `axis` (negative counts from the end); throws ShapeError naming `op`
/// for an axis out of range.
AxisSplit split_axis(const char* op, const Shape& shape, int axis);

/// The NumPy broadcast of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// A list of integers an op takes (dims, sizes, paddings): a view of the caller's values, as
/// PyTorch's IntArrayRef. Braces `{0, -1}` or a std::vector convert to it without a copy, so a
/// call allocates nothing; the values need only outlive the call.
template <class I>
class ListRef {
 public:
  constexpr ListRef() noexcept = default;
  // The braces' array lives until the end of the call's full expression, as long as the list is
  // used: g++'s -Winit-list-lifetime cannot know the list is only a parameter.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  constexpr ListRef(std::initializer_list<I> values) noexcept : data_(values.begin()), size_(values.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  ListRef(const std::vector<I>& values) noexcept : data_(values.data()), size_(values.size()) {}
  constexpr ListRef(const I* data, std::size_t size) noexcept : data_(data), size_(size) {}
  constexpr const I* begin() const noexcept { return data_; }
  constexpr const I* end() const noexcept { return data_ + size_; }
  constexpr const I* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr I operator[](std::size_t i) const noexcept { return data_[i]; }

 protected:
  const I* data_ = nullptr;
  std::size_t size_ = 0;
};

/// The dims an op works along: `{0, 2}`, a std::vector<int>, or one dim (`sum(x, 1)`); negative
/// dims count from the end. An empty list means every dim where PyTorch says so (reductions).
class DimList : public ListRef<int> {
 public:
  using ListRef<int>::ListRef;
  DimList() noexcept = default;
  DimList(int dim) noexcept : ListRef<int>(&one_, 1), one_(dim) {}  // NOLINT: one dim is a list
  DimList(const DimList& o) noexcept : ListRef<int>(o), one_(o.one_) {
    if (o.data_ == &o.one_) data_ = &one_;
  }
  DimList& operator=(const DimList& o) noexcept {
    ListRef<int>::operator=(o);
    one_ = o.one_;
    if (o.data_ == &o.one_) data_ = &one_;
    return *this;
  }

 private:
  int one_ = 0;
};

/// Sizes given to an op (reshape, expand, pad, split): `{2, -1}`, a std::vector<std::int64_t>, or
/// a Shape.
class SizeList : public ListRef<std::int64_t> {
 public:
  using ListRef<std::int64_t>::ListRef;
  SizeList() noexcept = default;
  /// A shape's extents, read in place (std::size_t and std::int64_t have one representation).
  SizeList(const Shape& shape) noexcept  // NOLINT: a shape is a list of sizes
      : ListRef<std::int64_t>(reinterpret_cast<const std::int64_t*>(shape.data()), shape.size()) {}
};
static_assert(sizeof(std::size_t) == sizeof(std::int64_t), "SizeList reads a Shape's extents in place");

}  // namespace tapegrad
