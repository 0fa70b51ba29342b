// Shape, join/split and slicing ops: each computes its value and records one rule. Every one of
// them only moves data; the moves are strided copies (detail/strided.hpp), and each backward is
// the same copy in the other direction, accumulated.
#include "tapegrad/shape_ops.hpp"

#include <algorithm>
#include <cstring>

#include "detail/strided.hpp"
#include "instantiate.hpp"
#include "tapegrad/kernels.hpp"

namespace tapegrad {

using detail::list_string;
using detail::StridedCopy;
using detail::wrap_dim;

namespace {

// (+)= of two contiguous buffers of the same size: the backward of every op that keeps the
// order of the elements (reshape and its relatives).
template <class T>
void accumulate_flat(Backward<T>& b) {
  if (!b.needs_grad(0)) return;
  auto t = b.grad_target(0);
  detail::strided::row(b.grad_out().data(), t.grad.data(), t.grad.size(), t.add);
}

// `s` with a dim of extent n inserted at d (svector::insert draws a false -Warray-bounds from g++).
inline Shape inserted(const Shape& s, std::size_t d, std::size_t n) {
  Shape out(s.size() + 1, n);
  for (std::size_t k = 0; k < s.size(); ++k) out[k < d ? k : k + 1] = s[k];
  return out;
}

// The elements of x, in order, under a new shape: reshape, flatten, unsqueeze, squeeze.
template <class T>
Var<T> relabel(Op<T>& op, const Shape& shape) {
  const Array<T>& xv = op.input(0);
  Array<T>& y = op.output(shape);
  if (xv.size() > 0) std::memcpy(y.data(), xv.data(), xv.size() * sizeof(T));
  return op.finish(accumulate_flat<T>);
}

}  // namespace

// ---- reshape, flatten, unsqueeze, squeeze ----------------------------------------------------------

template <class T>
Var<T> reshape(const Var<T>& x, SizeList sizes) {
  Op<T> op("reshape", {x});
  const Shape& in = op.input(0).shape();
  const std::size_t n = op.input(0).size();
  Shape shape(sizes.size(), 0);
  std::size_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    TG_CHECK(ValueError, sizes[i] >= -1, "reshape: size ", sizes[i], " in ", list_string(sizes), " for shape ",
             to_string(in), " is negative (only one -1, for an inferred size, is allowed)");
    if (sizes[i] == -1) {
      TG_CHECK(ValueError, inferred < 0, "reshape: more than one -1 in ", list_string(sizes), " for shape ",
               to_string(in));
      inferred = int(i);
    } else {
      shape[i] = std::size_t(sizes[i]);
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    TG_CHECK(ShapeError, known != 0 && n % known == 0, "reshape: ", list_string(sizes),
             " does not fit a value of shape ", to_string(in), " (", n, " elements)");
    shape[std::size_t(inferred)] = n / known;
  }
  TG_CHECK(ShapeError, numel(shape) == n, "reshape: shape ", list_string(sizes), " holds ", numel(shape),
           " elements, but the value of shape ", to_string(in), " has ", n);
  return relabel(op, shape);
}

template <class T>
Var<T> flatten(const Var<T>& x, int start_dim, int end_dim) {
  Op<T> op("flatten", {x});
  const Shape& in = op.input(0).shape();
  const std::size_t s = wrap_dim("flatten", start_dim, in.size(), in);
  const std::size_t e = wrap_dim("flatten", end_dim, in.size(), in);
  TG_CHECK(ValueError, s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim, " in shape ",
           to_string(in));
  if (in.empty()) return relabel(op, Shape{1});
  Shape shape;
  for (std::size_t d = 0; d < in.size(); ++d) {
    if (d <= s || d > e) {
      shape.push_back(in[d]);
    } else {
      shape.back() *= in[d];
    }
  }
  return relabel(op, shape);
}

template <class T>
Var<T> unsqueeze(const Var<T>& x, int dim) {
  Op<T> op("unsqueeze", {x});
  const Shape& in = op.input(0).shape();
  return relabel(op, inserted(in, wrap_dim("unsqueeze", dim, in.size() + 1, in), 1));
}

template <class T>
Var<T> squeeze(const Var<T>& x) {
  Op<T> op("squeeze", {x});
  Shape shape;
  for (std::size_t e : op.input(0).shape()) {
    if (e != 1) shape.push_back(e);
  }
  return relabel(op, shape);
}

template <class T>
Var<T> squeeze(const Var<T>& x, int dim) {
  Op<T> op("squeeze", {x});
  Shape shape = op.input(0).shape();
  const std::size_t d = wrap_dim("squeeze", dim, shape.size(), shape);
  if (!shape.empty() && shape[d] == 1) shape.erase(shape.begin() + std::ptrdiff_t(d));
  return relabel(op, shape);
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> reshape(const Var<T>&, SizeList); \
  template Var<T> flatten(const Var<T>&, int, int); \
  template Var<T> unsqueeze(const Var<T>&, int); \
  template Var<T> squeeze(const Var<T>&); \
  template Var<T> squeeze(const Var<T>&, int);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- permute, transpose ----------------------------------------------------------------------------

namespace {

// The copy from x (shape `in`) to its permutation (result dim i = x's dim perm[i]), walked in the
// result's order. scalar(i) holds perm[i].
inline StridedCopy permute_copy(const Shape& in, const std::size_t* perm) {
  std::ptrdiff_t xs[detail::kMaxDims], ys[detail::kMaxDims];
  Shape out(in.size(), 0);
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[perm[i]];
  detail::contiguous_strides(in, xs);
  detail::contiguous_strides(out, ys);
  StridedCopy p;
  for (std::size_t i = 0; i < in.size(); ++i) p.push(out[i], xs[perm[i]], ys[i]);
  return p;
}

template <class T>
void permute_backward(Backward<T>& b) {
  if (!b.needs_grad(0)) return;
  const Shape& in = b.input(0).shape();
  std::size_t perm[detail::kMaxDims];
  for (std::size_t i = 0; i < in.size(); ++i) perm[i] = std::size_t(b.scalar(i));
  auto t = b.grad_target(0);
  detail::strided_copy(permute_copy(in, perm).reversed(), b.grad_out().data(), t.grad.data(), t.add);
}

template <class T>
Var<T> permute_impl(Op<T>& op, const std::size_t* perm) {
  const Array<T>& xv = op.input(0);
  const Shape& in = xv.shape();
  Shape out(in.size(), 0);
  for (std::size_t i = 0; i < in.size(); ++i) {
    out[i] = in[perm[i]];
    op.save_scalar(i, double(perm[i]));
  }
  Array<T>& y = op.output(out);
  detail::strided_copy(permute_copy(in, perm), xv.data(), y.data(), false);
  return op.finish(permute_backward<T>);
}

}  // namespace

template <class T>
Var<T> permute(const Var<T>& x, DimList dims) {
  Op<T> op("permute", {x});
  const Shape& in = op.input(0).shape();
  TG_CHECK(ShapeError, dims.size() == in.size(), "permute: ", dims.size(), " dims ", list_string(dims),
           " for shape ", to_string(in), " of ", in.size(), " dims");
  detail::check_rank("permute", in);
  std::size_t perm[detail::kMaxDims];
  bool seen[detail::kMaxDims] = {};
  for (std::size_t i = 0; i < dims.size(); ++i) {
    perm[i] = wrap_dim("permute", dims[i], in.size(), in);
    TG_CHECK(ShapeError, !seen[perm[i]], "permute: dim ", dims[i], " appears twice in ", list_string(dims),
             " for shape ", to_string(in));
    seen[perm[i]] = true;
  }
  return permute_impl(op, perm);
}

template <class T>
Var<T> transpose(const Var<T>& x, int dim0, int dim1) {
  Op<T> op("transpose", {x});
  const Shape& in = op.input(0).shape();
  const std::size_t a = wrap_dim("transpose", dim0, in.size(), in);
  const std::size_t c = wrap_dim("transpose", dim1, in.size(), in);
  detail::check_rank("transpose", in);
  std::size_t perm[detail::kMaxDims];
  for (std::size_t i = 0; i < in.size(); ++i) perm[i] = i;
  if (!in.empty()) std::swap(perm[a], perm[c]);
  return permute_impl(op, perm);
}

// ---- expand ----------------------------------------------------------------------------------------

template <class T>
Var<T> expand(const Var<T>& x, SizeList sizes) {
  Op<T> op("expand", {x});
  const Array<T>& xv = op.input(0);
  const Shape& in = xv.shape();
  TG_CHECK(ShapeError, sizes.size() >= in.size(), "expand: the new shape ", list_string(sizes), " has fewer dims than ",
           to_string(in));
  const std::size_t lead = sizes.size() - in.size();
  Shape out(sizes.size(), 0);
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    const std::int64_t s = sizes[d];
    if (d < lead) {
      TG_CHECK(ValueError, s >= 0, "expand: size ", s, " for the new leading dim ", d, " in ", list_string(sizes),
               " (of shape ", to_string(in), ") must be non-negative");
      out[d] = std::size_t(s);
      continue;
    }
    const std::size_t e = in[d - lead];
    TG_CHECK(ShapeError, s == -1 || std::size_t(s) == e || (e == 1 && s >= 0), "expand: shape ", to_string(in),
             " cannot be expanded to ", list_string(sizes), " (dim ", d, ": ", e, " vs ", s,
             "; only extents of 1 grow)");
    out[d] = s == -1 ? e : std::size_t(s);
  }
  std::ptrdiff_t xs[detail::kMaxDims], ys[detail::kMaxDims];
  detail::check_rank("expand", out);
  Array<T>& y = op.output(out);
  detail::contiguous_strides(in, xs);
  detail::contiguous_strides(out, ys);
  StridedCopy p;
  for (std::size_t d = 0; d < out.size(); ++d) {
    const bool broadcast = d < lead || in[d - lead] != out[d];
    p.push(out[d], broadcast ? 0 : xs[d - lead], ys[d]);
  }
  detail::strided_copy(p, xv.data(), y.data(), false);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    auto t = b.grad_target(0);
    kernels::sum_to(b.grad_out(), t.grad, t.add);
  });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> permute(const Var<T>&, DimList); \
  template Var<T> transpose(const Var<T>&, int, int); \
  template Var<T> expand(const Var<T>&, SizeList);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- cat, stack ------------------------------------------------------------------------------------

namespace {

// PyTorch's legacy rule: a 1-D input with no elements joins anything (it is skipped).
inline bool skipped(const Shape& s) { return s.size() == 1 && s[0] == 0; }

// Joins the inputs along `dim` of the result: input i fills `size_i / outer` consecutive
// elements of each of the result's `outer` rows (cat and stack alike). scalar(0) holds `outer`.
template <class T>
Var<T> join(Op<T>& op, const Shape& out, std::size_t dim) {
  std::size_t outer = 1;
  for (std::size_t d = 0; d < dim; ++d) outer *= out[d];
  Array<T>& y = op.output(out);
  op.save_scalar(0, double(outer));
  if (y.size() > 0) {
    const std::size_t row = y.size() / outer;
    std::size_t offset = 0;
    for (std::size_t i = 0; i < op.n_inputs(); ++i) {
      const Array<T>& xi = op.input(i);
      const std::size_t chunk = xi.size() / outer;
      StridedCopy p;
      p.push(outer, std::ptrdiff_t(chunk), std::ptrdiff_t(row));
      p.push(chunk, 1, 1);
      detail::strided_copy(p, xi.data(), y.data() + offset, false);
      offset += chunk;
    }
  }
  return op.finish([](Backward<T>& b) {
    const Array<T>& g = b.grad_out();
    const auto outer = std::size_t(b.scalar(0));
    const std::size_t row = outer > 0 ? g.size() / outer : 0;
    std::size_t offset = 0;
    for (std::size_t i = 0; i < b.n_inputs(); ++i) {
      const std::size_t chunk = outer > 0 ? b.input(i).size() / outer : 0;
      if (b.needs_grad(i)) {
        auto t = b.grad_target(i);
        StridedCopy p;
        p.push(outer, std::ptrdiff_t(row), std::ptrdiff_t(chunk));
        p.push(chunk, 1, 1);
        detail::strided_copy(p, g.data() + offset, t.grad.data(), t.add);
      }
      offset += chunk;
    }
  });
}

template <class T>
Var<T> cat_impl(Op<T>& op, int dim) {
  const std::size_t n = op.n_inputs();
  std::size_t ref = 0;  // the first input that is not skipped
  while (ref + 1 < n && skipped(op.input(ref).shape())) ++ref;
  const Shape& rs = op.input(ref).shape();
  TG_CHECK(ShapeError, !rs.empty(), "cat: input ", ref, " is 0-d (shape ()); cat needs at least 1 dim");
  const std::size_t d = wrap_dim("cat", dim, rs.size(), rs);
  Shape out = rs;
  out[d] = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Shape& s = op.input(i).shape();
    if (skipped(s) && !skipped(rs)) continue;
    bool fits = s.size() == out.size();
    for (std::size_t k = 0; fits && k < s.size(); ++k) fits = k == d || s[k] == rs[k];
    TG_CHECK(ShapeError, fits, "cat: input ", i, " has shape ", to_string(s), " but input ", ref, " has shape ",
             to_string(rs), "; shapes must match except in dim ", d);
    out[d] += s[d];
  }
  return join(op, out, d);
}

template <class T>
Var<T> stack_impl(Op<T>& op, int dim) {
  const Shape& s0 = op.input(0).shape();
  for (std::size_t i = 1; i < op.n_inputs(); ++i) {
    TG_CHECK(ShapeError, same_shape(op.input(i).shape(), s0), "stack: input ", i, " has shape ",
             to_string(op.input(i).shape()), " but input 0 has shape ", to_string(s0), "; stack needs equal shapes");
  }
  const std::size_t d = wrap_dim("stack", dim, s0.size() + 1, s0);
  return join(op, inserted(s0, d, op.n_inputs()), d);
}

}  // namespace

template <class T>
Var<T> cat(const std::vector<Var<T>>& xs, int dim) {
  TG_CHECK(ValueError, !xs.empty(), "cat: expects a non-empty list of values");
  Op<T> op("cat", xs);
  return cat_impl(op, dim);
}
template <class T>
Var<T> cat(std::initializer_list<Var<T>> xs, int dim) {
  TG_CHECK(ValueError, xs.size() > 0, "cat: expects a non-empty list of values");
  Op<T> op("cat", xs);
  return cat_impl(op, dim);
}

template <class T>
Var<T> stack(const std::vector<Var<T>>& xs, int dim) {
  TG_CHECK(ValueError, !xs.empty(), "stack: expects a non-empty list of values");
  Op<T> op("stack", xs);
  return stack_impl(op, dim);
}
template <class T>
Var<T> stack(std::initializer_list<Var<T>> xs, int dim) {
  TG_CHECK(ValueError, xs.size() > 0, "stack: expects a non-empty list of values");
  Op<T> op("stack", xs);
  return stack_impl(op, dim);
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> cat(const std::vector<Var<T>>&, int); \
  template Var<T> cat(std::initializer_list<Var<T>>, int); \
  template Var<T> stack(const std::vector<Var<T>>&, int); \
  template Var<T> stack(std::initializer_list<Var<T>>, int);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- narrow, slice, split, chunk -------------------------------------------------------------------

namespace {

// The copy of x[..., start : start + length*step : step, ...] (along `dim`) into a contiguous
// result, and the offset of its first element in x.
inline StridedCopy slice_copy(const Shape& in, std::size_t dim, std::size_t length, std::size_t step) {
  std::ptrdiff_t xs[detail::kMaxDims], ys[detail::kMaxDims];
  Shape out = in;
  out[dim] = length;
  detail::contiguous_strides(in, xs);
  detail::contiguous_strides(out, ys);
  StridedCopy p;
  for (std::size_t d = 0; d < in.size(); ++d) p.push(out[d], d == dim ? xs[d] * std::ptrdiff_t(step) : xs[d], ys[d]);
  return p;
}

inline std::size_t stride_of(const Shape& s, std::size_t dim) {
  std::size_t st = 1;
  for (std::size_t d = dim + 1; d < s.size(); ++d) st *= s[d];
  return st;
}

// scalar(0) = dim, (1) = start, (2) = step; the length is the result's extent.
template <class T>
void slice_backward(Backward<T>& b) {
  if (!b.needs_grad(0)) return;
  const Shape& in = b.input(0).shape();
  const auto dim = std::size_t(b.scalar(0)), start = std::size_t(b.scalar(1)), step = std::size_t(b.scalar(2));
  const std::size_t length = b.grad_out().shape()[dim];
  auto t = b.grad_target(0);
  const bool covers = length == in[dim] && (step == 1 || length <= 1);
  if (!t.add && !covers) t.grad.fill(T(0));  // elements outside the slice get no gradient
  detail::strided_copy(slice_copy(in, dim, length, step).reversed(), b.grad_out().data(),
                       t.grad.data() + start * stride_of(in, dim), t.add);
}

template <class T>
Var<T> slice_impl(Op<T>& op, std::size_t dim, std::size_t start, std::size_t length, std::size_t step) {
  const Array<T>& xv = op.input(0);
  const Shape& in = xv.shape();
  detail::check_rank(op.name(), in);
  Shape out = in;
  out[dim] = length;
  Array<T>& y = op.output(out);
  op.save_scalar(0, double(dim));
  op.save_scalar(1, double(start));
  op.save_scalar(2, double(step));
  if (y.size() > 0) {
    detail::strided_copy(slice_copy(in, dim, length, step), xv.data() + start * stride_of(in, dim), y.data(), false);
  }
  return op.finish(slice_backward<T>);
}

template <class T>
std::size_t sliced_dim(Op<T>& op, int dim) {
  const Shape& in = op.input(0).shape();
  TG_CHECK(ShapeError, !in.empty(), op.name(), ": cannot be applied to a 0-d value (shape ())");
  return wrap_dim(op.name(), dim, in.size(), in);
}

// Pieces of the given sizes along `dim`, each a slice op named `name` on x.
template <class T>
std::vector<Var<T>> pieces(const char* name, const Var<T>& x, std::size_t dim, const std::vector<std::size_t>& sizes) {
  std::vector<Var<T>> out;
  out.reserve(sizes.size());
  std::size_t start = 0;
  for (const std::size_t n : sizes) {
    Op<T> op(name, {x});
    out.push_back(slice_impl(op, dim, start, n, 1));
    start += n;
  }
  return out;
}

}  // namespace

template <class T>
Var<T> narrow(const Var<T>& x, int dim, std::int64_t start, std::int64_t length) {
  Op<T> op("narrow", {x});
  const std::size_t d = sliced_dim(op, dim);
  const Shape& in = op.input(0).shape();
  const auto n = std::int64_t(in[d]);
  TG_CHECK(ValueError, start >= -n && start <= n, "narrow: start ", start, " is out of range for dim ", d,
           " of extent ", n, " in shape ", to_string(in));
  if (start < 0) start += n;
  TG_CHECK(ValueError, length >= 0 && start + length <= n, "narrow: start ", start, " + length ", length,
           " exceeds the extent ", n, " of dim ", d, " in shape ", to_string(in));
  return slice_impl(op, d, std::size_t(start), std::size_t(length), 1);
}

template <class T>
Var<T> slice(const Var<T>& x, int dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  Op<T> op("slice", {x});
  const std::size_t d = sliced_dim(op, dim);
  const Shape& in = op.input(0).shape();
  TG_CHECK(ValueError, step > 0, "slice: step must be positive, got ", step, " (for dim ", d, " of shape ",
           to_string(in), ")");
  const auto n = std::int64_t(in[d]);
  auto clamp = [n](std::int64_t i) {
    if (i < 0) i = i < -n ? 0 : i + n;  // no overflow near INT64_MIN
    return std::min(i, n);
  };
  const std::int64_t s = clamp(start), e = std::max(clamp(end), s);
  return slice_impl(op, d, std::size_t(s), std::size_t((e - s + step - 1) / step), std::size_t(step));
}

template <class T>
std::vector<Var<T>> split(const Var<T>& x, std::int64_t split_size, int dim) {
  const Shape& in = x.shape();
  TG_CHECK(ShapeError, !in.empty(), "split: cannot be applied to a 0-d value (shape ())");
  const std::size_t d = wrap_dim("split", dim, in.size(), in);
  const std::size_t n = in[d];
  TG_CHECK(ValueError, split_size > 0 || (split_size == 0 && n == 0), "split: split_size must be positive, got ",
           split_size, " (for dim ", d, " of shape ", to_string(in), ")");
  std::vector<std::size_t> sizes;
  const auto step = std::size_t(split_size);
  for (std::size_t start = 0; start < n; start += step) sizes.push_back(std::min(step, n - start));
  if (sizes.empty()) sizes.push_back(0);
  return pieces("split", x, d, sizes);
}

template <class T>
std::vector<Var<T>> split(const Var<T>& x, SizeList split_sizes, int dim) {
  const Shape& in = x.shape();
  TG_CHECK(ShapeError, !in.empty(), "split: cannot be applied to a 0-d value (shape ())");
  const std::size_t d = wrap_dim("split", dim, in.size(), in);
  std::vector<std::size_t> sizes;
  std::int64_t total = 0;
  for (const std::int64_t s : split_sizes) {
    TG_CHECK(ValueError, s >= 0, "split: size ", s, " in ", list_string(split_sizes), " is negative");
    sizes.push_back(std::size_t(s));
    total += s;
  }
  TG_CHECK(ShapeError, total == std::int64_t(in[d]), "split: sizes ", list_string(split_sizes), " add up to ", total,
           ", but dim ", d, " of shape ", to_string(in), " has extent ", in[d]);
  return pieces("split", x, d, sizes);
}

template <class T>
std::vector<Var<T>> chunk(const Var<T>& x, std::int64_t chunks, int dim) {
  const Shape& in = x.shape();
  TG_CHECK(ShapeError, !in.empty(), "chunk: cannot be applied to a 0-d value (shape ())");
  const std::size_t d = wrap_dim("chunk", dim, in.size(), in);
  TG_CHECK(ValueError, chunks > 0, "chunk: the number of chunks must be positive, got ", chunks, " (for shape ",
           to_string(in), ")");
  const std::size_t n = in[d];
  const std::size_t size = (n + std::size_t(chunks) - 1) / std::size_t(chunks);
  std::vector<std::size_t> sizes;
  if (n == 0) {
    sizes.assign(std::size_t(chunks), 0);  // as PyTorch: `chunks` empty pieces
  } else {
    for (std::size_t start = 0; start < n; start += size) sizes.push_back(std::min(size, n - start));
  }
  return pieces("chunk", x, d, sizes);
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> narrow(const Var<T>&, int, std::int64_t, std::int64_t); \
  template Var<T> slice(const Var<T>&, int, std::int64_t, std::int64_t, std::int64_t); \
  template std::vector<Var<T>> split(const Var<T>&, std::int64_t, int); \
  template std::vector<Var<T>> split(const Var<T>&, SizeList, int); \
  template std::vector<Var<T>> chunk(const Var<T>&, std::int64_t, int);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- pad -------------------------------------------------------------------------------------------

namespace {

// The copy of x's part that survives cropping into the padded result, and where it starts on
// each side. scalar(2d), scalar(2d + 1) hold dim d's (before, after) padding.
struct PadCopy {
  StridedCopy p;
  std::size_t src = 0, dst = 0;
  bool crops = false;  // some of x is cut off (negative padding)
};

inline PadCopy pad_copy(const Shape& in, const Shape& out, const std::int64_t* lohi) {
  std::ptrdiff_t xs[detail::kMaxDims], ys[detail::kMaxDims];
  detail::contiguous_strides(in, xs);
  detail::contiguous_strides(out, ys);
  PadCopy c;
  for (std::size_t d = 0; d < in.size(); ++d) {
    const std::int64_t lo = lohi[2 * d], hi = lohi[2 * d + 1];
    const std::int64_t cut_lo = std::max<std::int64_t>(0, -lo), cut_hi = std::max<std::int64_t>(0, -hi);
    const std::int64_t len = std::int64_t(in[d]) - cut_lo - cut_hi;
    c.crops = c.crops || cut_lo > 0 || cut_hi > 0;
    c.p.push(std::size_t(std::max<std::int64_t>(len, 0)), xs[d], ys[d]);
    c.src += std::size_t(cut_lo) * std::size_t(xs[d]);
    c.dst += std::size_t(std::max<std::int64_t>(lo, 0)) * std::size_t(ys[d]);
  }
  return c;
}

}  // namespace

template <class T>
Var<T> pad(const Var<T>& x, SizeList pads, detail::scalar_t<T> value) {
  Op<T> op("pad", {x});
  const Array<T>& xv = op.input(0);
  const Shape& in = xv.shape();
  TG_CHECK(ValueError, pads.size() % 2 == 0, "pad: ", pads.size(), " padding values ", list_string(pads),
           "; padding takes (before, after) pairs, starting from the last dim");
  TG_CHECK(ShapeError, pads.size() / 2 <= in.size(), "pad: ", pads.size() / 2, " pairs of padding ",
           list_string(pads), " for shape ", to_string(in), " of ", in.size(), " dims");
  detail::check_rank("pad", in);
  std::int64_t lohi[2 * detail::kMaxDims] = {};
  Shape out = in;
  for (std::size_t i = 0; i < pads.size() / 2; ++i) {
    const std::size_t d = in.size() - 1 - i;
    lohi[2 * d] = pads[2 * i];
    lohi[2 * d + 1] = pads[2 * i + 1];
    const std::int64_t n = std::int64_t(in[d]) + pads[2 * i] + pads[2 * i + 1];
    TG_CHECK(ValueError, n >= 0, "pad: padding (", pads[2 * i], ", ", pads[2 * i + 1], ") of dim ", d,
             " of shape ", to_string(in), " leaves ", n, " elements");
    out[d] = std::size_t(n);
  }
  Array<T>& y = op.output(out);
  for (std::size_t d = 0; d < 2 * in.size(); ++d) op.save_scalar(d, double(lohi[d]));
  y.fill(T(value));
  const PadCopy c = pad_copy(in, out, lohi);
  if (!c.p.empty) detail::strided_copy(c.p, xv.data() + c.src, y.data() + c.dst, false);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const Shape& in = b.input(0).shape();
    std::int64_t lohi[2 * detail::kMaxDims];
    for (std::size_t d = 0; d < 2 * in.size(); ++d) lohi[d] = std::int64_t(b.scalar(d));
    const PadCopy c = pad_copy(in, b.grad_out().shape(), lohi);
    auto t = b.grad_target(0);
    if (!t.add && c.crops) t.grad.fill(T(0));  // cropped elements get no gradient
    if (!c.p.empty) detail::strided_copy(c.p.reversed(), b.grad_out().data() + c.dst, t.grad.data() + c.src, t.add);
  });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> pad(const Var<T>&, SizeList, detail::scalar_t<T>);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
