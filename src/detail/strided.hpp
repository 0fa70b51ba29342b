#pragma once
// N-d data movement for the shape, join, select and indexing ops (private; no autograd): dims given
// by users, and one loop nest that copies between two strided layouts of the same extents. Every
// op that only moves data (permute, expand, slice, cat, pad, ...) describes its copy as such a
// pair of layouts; the loop drops extents of 1, merges dims that are contiguous in both layouts,
// and then copies whole rows (memcpy speed), tiles a transpose (both sides stay in L1), or walks
// the strides. Arrays are row-major and contiguous: an element's offset is the dot product of its
// index with the strides.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "tapegrad/array.hpp"
#include "tapegrad/error.hpp"

namespace tapegrad::detail {

/// The most dims the shape, indexing and reduction ops take (PyTorch's limit is 64 too).
inline constexpr std::size_t kMaxDims = 64;

/// Throws ShapeError naming `op` for a shape of more than kMaxDims dims.
inline void check_rank(const char* op, const Shape& s) {
  TG_CHECK(ShapeError, s.size() <= kMaxDims, op, ": shape ", to_string(s), " has more than ", kMaxDims, " dims");
}

/// Wraps a dim given to `op` into [0, rank): negative dims count from the end. A 0-d value accepts
/// 0 and -1, as PyTorch's scalars do (the caller decides what they mean). `rank` is the rank the
/// dim indexes: shape's, or one more for ops that insert a dim (unsqueeze, stack).
inline std::size_t wrap_dim(const char* op, std::int64_t dim, std::size_t rank, const Shape& shape) {
  const auto r = std::int64_t(std::max<std::size_t>(rank, 1));
  TG_CHECK(ShapeError, dim >= -r && dim < r, op, ": dim ", dim, " is out of range for shape ", to_string(shape),
           " (expected a dim in [", -r, ", ", r - 1, "])");
  return std::size_t(dim < 0 ? dim + r : dim);
}

/// "[2, -1]": a list of dims or sizes, as messages write it.
template <class V>
std::string list_string(const V& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

/// Row-major strides of a contiguous array of shape `s`, in elements.
inline void contiguous_strides(const Shape& s, std::ptrdiff_t* strides) {
  std::ptrdiff_t st = 1;
  for (std::size_t d = s.size(); d-- > 0;) {
    strides[d] = st;
    st *= std::ptrdiff_t(s[d]);
  }
}

/// A copy dst[i] (+)= src[i] over every index i of an N-d box, each side with its own strides
/// (in elements; 0 repeats an element, as a broadcast does). Dims are pushed outermost first.
struct StridedCopy {
  std::size_t rank = 0;
  bool empty = false;  // some extent is 0: nothing to copy
  std::size_t size[kMaxDims] = {};
  std::ptrdiff_t src[kMaxDims] = {}, dst[kMaxDims] = {};

  /// Adds the next inner dim. Extents of 1 are dropped; a dim that continues the previous one in
  /// both layouts is merged into it (a contiguous block stays one long row).
  void push(std::size_t n, std::ptrdiff_t s, std::ptrdiff_t d) {
    if (n == 0) empty = true;
    if (n <= 1) return;
    if (rank > 0 && src[rank - 1] == s * std::ptrdiff_t(n) && dst[rank - 1] == d * std::ptrdiff_t(n)) {
      size[rank - 1] *= n;
      src[rank - 1] = s;
      dst[rank - 1] = d;
      return;
    }
    TG_ASSERT(rank < kMaxDims, "strided copy of more than ", kMaxDims, " dims that cannot be merged");
    size[rank] = n;
    src[rank] = s;
    dst[rank] = d;
    ++rank;
  }
  /// The same copy in the other direction (the backward of a forward copy).
  StridedCopy reversed() const {
    StridedCopy r = *this;
    std::swap(r.src, r.dst);
    return r;
  }
};

namespace strided {

// Calls f(src_offset, dst_offset) for every index of the dims `dims[0..n)` of p (an odometer; the
// last listed dim moves fastest).
template <class F>
void for_each_index(const StridedCopy& p, const std::size_t* dims, std::size_t n, F&& f) {
  std::size_t total = 1;
  for (std::size_t k = 0; k < n; ++k) total *= p.size[dims[k]];
  std::size_t idx[kMaxDims] = {};
  std::ptrdiff_t so = 0, dof = 0;
  for (std::size_t it = 0; it < total; ++it) {
    f(so, dof);
    for (std::size_t k = n; k-- > 0;) {
      const std::size_t d = dims[k];
      so += p.src[d];
      dof += p.dst[d];
      if (++idx[k] < p.size[d]) break;
      so -= p.src[d] * std::ptrdiff_t(p.size[d]);
      dof -= p.dst[d] * std::ptrdiff_t(p.size[d]);
      idx[k] = 0;
    }
  }
}

// One contiguous row of n elements.
template <class T>
inline void row(const T* s, T* d, std::size_t n, bool add) {
  if (add) {
    for (std::size_t i = 0; i < n; ++i) d[i] += s[i];
  } else {
    std::memcpy(d, s, n * sizeof(T));
  }
}

// A strided row: d[i * dd] (+)= s[i * ss]. A broadcast element (ss == 0) into a contiguous row
// is a fill.
template <class T>
inline void strided_row(const T* s, std::ptrdiff_t ss, T* d, std::ptrdiff_t dd, std::size_t n, bool add) {
  if (ss == 0 && dd == 1) {
    const T v = *s;
    if (add) {
      for (std::size_t i = 0; i < n; ++i) d[i] += v;
    } else {
      std::fill(d, d + n, v);
    }
    return;
  }
  if (add) {
    for (std::size_t i = 0; i < n; ++i) d[std::ptrdiff_t(i) * dd] += s[std::ptrdiff_t(i) * ss];
  } else {
    for (std::size_t i = 0; i < n; ++i) d[std::ptrdiff_t(i) * dd] = s[std::ptrdiff_t(i) * ss];
  }
}

// The tile of a transpose: 32 x 32 elements, 4 KB of floats on each side, so that the rows of
// both layouts a tile touches stay in L1 while it is copied.
inline constexpr std::size_t kTile = 32;

// d[a * da + b * db] (+)= s[a * sa + b * sb] over an na x nb block, tile by tile. b is the dim that
// is contiguous in the destination (db == 1) and a the dim contiguous in the source, or the
// other way round: within a tile, each cache line read or written is used whole.
template <class T>
void tiled(const T* s, std::ptrdiff_t sa, std::ptrdiff_t sb, T* d, std::ptrdiff_t da, std::ptrdiff_t db,
           std::size_t na, std::size_t nb, bool add) {
  for (std::size_t a0 = 0; a0 < na; a0 += kTile) {
    const std::size_t a1 = std::min(na, a0 + kTile);
    for (std::size_t b0 = 0; b0 < nb; b0 += kTile) {
      const std::size_t b1 = std::min(nb, b0 + kTile);
      for (std::size_t a = a0; a < a1; ++a) {
        const T* sr = s + std::ptrdiff_t(a) * sa;
        T* dr = d + std::ptrdiff_t(a) * da;
        if (add) {
          for (std::size_t b = b0; b < b1; ++b) dr[std::ptrdiff_t(b) * db] += sr[std::ptrdiff_t(b) * sb];
        } else {
          for (std::size_t b = b0; b < b1; ++b) dr[std::ptrdiff_t(b) * db] = sr[std::ptrdiff_t(b) * sb];
        }
      }
    }
  }
}

}  // namespace strided

/// Runs the copy p from `src` to `dst`: dst[i] = src[i], or += when `add`.
template <class T>
void strided_copy(const StridedCopy& p, const T* src, T* dst, bool add) {
  if (p.empty) return;
  if (p.rank == 0) {  // one element
    *dst = add ? *dst + *src : *src;
    return;
  }
  const std::size_t last = p.rank - 1;
  std::size_t outer[kMaxDims];
  // Rows contiguous on both sides: memcpy (or a vectorised add) per row.
  if (p.src[last] == 1 && p.dst[last] == 1) {
    for (std::size_t k = 0; k < last; ++k) outer[k] = k;
    const std::size_t n = p.size[last];
    strided::for_each_index(p, outer, last, [&](std::ptrdiff_t so, std::ptrdiff_t dof) {
      strided::row(src + so, dst + dof, n, add);
    });
    return;
  }
  // A transpose: the innermost dim is contiguous on one side only, and another dim j is
  // contiguous on the other side. Tile over (j, last); walk the rest.
  std::size_t j = last;
  for (std::size_t k = 0; k < last; ++k) {
    if ((p.dst[last] == 1 && p.src[k] == 1) || (p.src[last] == 1 && p.dst[k] == 1)) j = k;
  }
  if (j != last && p.size[j] >= 4 && p.size[last] >= 4) {
    std::size_t n = 0;
    for (std::size_t k = 0; k < last; ++k) {
      if (k != j) outer[n++] = k;
    }
    strided::for_each_index(p, outer, n, [&](std::ptrdiff_t so, std::ptrdiff_t dof) {
      strided::tiled(src + so, p.src[j], p.src[last], dst + dof, p.dst[j], p.dst[last], p.size[j], p.size[last], add);
    });
    return;
  }
  // Anything else (a broadcast, a step): strided rows.
  for (std::size_t k = 0; k < last; ++k) outer[k] = k;
  strided::for_each_index(p, outer, last, [&](std::ptrdiff_t so, std::ptrdiff_t dof) {
    strided::strided_row(src + so, p.src[last], dst + dof, p.dst[last], p.size[last], add);
  });
}

}  // namespace tapegrad::detail
