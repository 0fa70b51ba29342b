#include "tapegrad/array.hpp"

#include <algorithm>

#include "tapegrad/error.hpp"

namespace tapegrad {

std::string to_string(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::size_t checked_numel(const char* what, const Shape& shape) {
  // Each step divides first, so nothing overflows: extent <= kMaxNumel / d  <=>  extent * d <= kMaxNumel.
  std::size_t n = 1, extent = 1;
  for (const std::size_t d : shape) {
    TG_CHECK(ValueError, d == 0 || extent <= kMaxNumel / d, what, ": shape ", to_string(shape),
             " is too large: the product of its extents exceeds 2^60 elements");
    if (d != 0) extent *= d;
    n *= d;
  }
  return n;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    TG_CHECK(ShapeError, da == db || da == 1 || db == 1, op, ": shapes ", to_string(a), " and ",
             to_string(b), " do not broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

AxisSplit split_axis(const char* op, const Shape& s, int axis) {
  const int rank = int(s.size());
  TG_CHECK(ShapeError, axis >= -rank && axis < rank, op, ": axis ", axis, " is out of range for shape ",
           to_string(s));
  AxisSplit r;
  r.axis = std::size_t(axis < 0 ? axis + rank : axis);
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (d < r.axis) r.outer *= s[d];
    if (d > r.axis) r.inner *= s[d];
  }
  r.n = s[r.axis];
  return r;
}

}  // namespace tapegrad
