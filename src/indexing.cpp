// Ops that select by indices or masks: each computes its value and records one rule. Indices
// are checked once, in forward, and saved with the op; the backward scatters the gradient back
// to the positions they name.
#include "tapegrad/indexing.hpp"

#include <algorithm>
#include <cstring>

#include "detail/broadcast.hpp"
#include "detail/strided.hpp"
#include "instantiate.hpp"

namespace tapegrad {

using detail::wrap_dim;

namespace {

// Checks every index against the extent n of the dim it indexes.
void check_indices(const char* op, const IndexArray& index, std::size_t n, std::size_t dim, const Shape& shape) {
  const std::int64_t* p = index.data();
  for (std::size_t i = 0; i < index.size(); ++i) {
    TG_CHECK(ValueError, p[i] >= 0 && std::size_t(p[i]) < n, op, ": index ", p[i], " at position ", i,
             " is out of range for dim ", dim, " of extent ", n, " in shape ", to_string(shape));
  }
}

// x viewed as (outer, n, inner) around `dim`.
struct Around {
  std::size_t outer = 1, n = 1, inner = 1;
};
inline Around around(const Shape& s, std::size_t dim) {
  Around a;
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (d < dim) a.outer *= s[d];
    if (d > dim) a.inner *= s[d];
  }
  a.n = s[dim];
  return a;
}

}  // namespace

// ---- index_select ----------------------------------------------------------------------------------

template <class T>
Var<T> index_select(const Var<T>& x, int dim, const IndexArray& index) {
  Op<T> op("index_select", {x});
  const Array<T>& xv = op.input(0);
  const Shape& in = xv.shape();
  TG_CHECK(ShapeError, !in.empty(), "index_select: cannot be applied to a 0-d value (shape ())");
  const std::size_t d = wrap_dim("index_select", dim, in.size(), in);
  TG_CHECK(ShapeError, index.dimension() <= 1, "index_select: the index must be 1-D, got shape ",
           to_string(index.shape()), " (for a value of shape ", to_string(in), ")");
  check_indices("index_select", index, in[d], d, in);
  const Around a = around(in, d);
  const std::size_t m = index.size();
  Shape out = in;
  out[d] = m;
  Array<T>& y = op.output(out);
  const std::int64_t* idx = index.data();
  const T* xp = xv.data();
  T* yp = y.data();
  for (std::size_t o = 0; o < a.outer; ++o) {
    for (std::size_t k = 0; k < m; ++k) {
      const T* src = xp + (o * a.n + std::size_t(idx[k])) * a.inner;
      T* dst = yp + (o * m + k) * a.inner;
      if (a.inner == 1) {
        *dst = *src;
      } else {
        std::memcpy(dst, src, a.inner * sizeof(T));
      }
    }
  }
  if (op.recording()) {
    std::copy(idx, idx + m, op.save_indices(0, {m}).data());
    op.save_scalar(0, double(d));
  }
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const Around a = around(b.input(0).shape(), std::size_t(b.scalar(0)));
    const IndexArray& index = b.saved_indices(0);
    const std::size_t m = index.size();
    auto t = b.grad_target(0);
    if (!t.add) t.grad.fill(T(0));  // rows no index names get no gradient
    const T* g = b.grad_out().data();
    T* dx = t.grad.data();
    for (std::size_t o = 0; o < a.outer; ++o) {
      for (std::size_t k = 0; k < m; ++k) {
        T* dst = dx + (o * a.n + std::size_t(index.data()[k])) * a.inner;
        const T* src = g + (o * m + k) * a.inner;
        for (std::size_t i = 0; i < a.inner; ++i) dst[i] += src[i];  // repeated indices add up
      }
    }
  });
}

// ---- gather ----------------------------------------------------------------------------------------

namespace {

// Calls f(i, j) for each element i of `index` (in order) and the offset j, in x, of the element
// it names: j = Σ_d i_d · stride_d, with index[i] in place of i_dim.
template <class F>
void for_each_gathered(const Shape& xshape, const IndexArray& index, std::size_t dim, F&& f) {
  const Shape& is = index.shape();
  const std::size_t rank = is.size();
  if (index.size() == 0) return;
  std::ptrdiff_t xs[detail::kMaxDims];
  detail::contiguous_strides(xshape, xs);
  const std::size_t last = rank - 1, n = is[last];
  const std::ptrdiff_t step = last == dim ? 0 : xs[last], sd = xs[dim];
  std::size_t pos[detail::kMaxDims] = {};
  std::ptrdiff_t base = 0;  // x's offset of the row's first element, without the dim's term
  const std::int64_t* idx = index.data();
  for (std::size_t i = 0; i < index.size(); i += n) {
    for (std::size_t k = 0; k < n; ++k) f(i + k, base + std::ptrdiff_t(k) * step + idx[i + k] * sd);
    for (std::size_t d = last; d-- > 0;) {  // next row: an odometer over the other dims
      const std::ptrdiff_t s = d == dim ? 0 : xs[d];
      base += s;
      if (++pos[d] < is[d]) break;
      base -= s * std::ptrdiff_t(is[d]);
      pos[d] = 0;
    }
  }
}

}  // namespace

template <class T>
Var<T> gather(const Var<T>& x, int dim, const IndexArray& index) {
  Op<T> op("gather", {x});
  const Array<T>& xv = op.input(0);
  const Shape& in = xv.shape();
  TG_CHECK(ShapeError, !in.empty(), "gather: cannot be applied to a 0-d value (shape ())");
  detail::check_rank("gather", in);
  const std::size_t d = wrap_dim("gather", dim, in.size(), in);
  const Shape& is = index.shape();
  TG_CHECK(ShapeError, is.size() == in.size(), "gather: index of shape ", to_string(is), " and input of shape ",
           to_string(in), " differ in rank");
  for (std::size_t k = 0; k < in.size(); ++k) {
    TG_CHECK(ShapeError, k == d || is[k] <= in[k], "gather: index of shape ", to_string(is),
             " is larger than the input of shape ", to_string(in), " in dim ", k, " (", is[k], " vs ", in[k], ")");
  }
  check_indices("gather", index, in[d], d, in);
  Array<T>& y = op.output(is);
  const T* xp = xv.data();
  T* yp = y.data();
  for_each_gathered(in, index, d, [&](std::size_t i, std::ptrdiff_t j) { yp[i] = xp[j]; });
  if (op.recording()) {
    IndexArray& saved = op.save_indices(0, is);
    std::copy(index.data(), index.data() + index.size(), saved.data());
    op.save_scalar(0, double(d));
  }
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    auto t = b.grad_target(0);
    if (!t.add) t.grad.fill(T(0));
    const T* g = b.grad_out().data();
    T* dx = t.grad.data();
    for_each_gathered(b.input(0).shape(), b.saved_indices(0), std::size_t(b.scalar(0)),
                      [&](std::size_t i, std::ptrdiff_t j) { dx[j] += g[i]; });
  });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> index_select(const Var<T>&, int, const IndexArray&); \
  template Var<T> gather(const Var<T>&, int, const IndexArray&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- masked_fill, where ----------------------------------------------------------------------------

namespace {

// Input i's gradient (+)= g where the saved 0/1 mask equals `when`, else 0 (summed back to the
// input's shape). Both loads are unconditional, so the select vectorises.
template <class T>
void accumulate_selected(Backward<T>& b, std::size_t i, bool when) {
  const T* g = b.grad_out().data();
  const T* m = b.saved(0).data();
  detail::accumulate_elementwise(b, i, [&](std::size_t k) { return (m[k] != T(0)) == when ? g[k] : T(0); });
}

}  // namespace

template <class T>
Var<T> masked_fill(const Var<T>& x, const BoolArray& mask, detail::scalar_t<T> value) {
  Op<T> op("masked_fill", {x});
  const Array<T>& xv = op.input(0);
  const Shape out = broadcast_shapes("masked_fill", xv.shape(), mask.shape());
  Array<T>& y = op.output(out);
  Array<T>& m = op.save(0, out);  // the mask as 0/1 in the output's shape, for backward
  if (same_shape(xv.shape(), out) && same_shape(mask.shape(), out)) {
    const T* xp = xv.data();
    const bool* mp = mask.data();
    T* yp = y.data();
    T* mm = m.data();
    for (std::size_t i = 0; i < y.size(); ++i) {
      mm[i] = mp[i] ? T(1) : T(0);
      yp[i] = mp[i] ? T(value) : xp[i];
    }
  } else {
    xt::noalias(m) = xt::cast<T>(xt::broadcast(mask, out));
    xt::noalias(y) = xt::where(xt::broadcast(mask, out), T(value), xt::broadcast(xv, out));
  }
  return op.finish([](Backward<T>& b) { accumulate_selected(b, 0, false); });
}

template <class T>
Var<T> where(const BoolArray& condition, const Var<T>& a, const Var<T>& b) {
  Op<T> op("where", {a, b});
  const Array<T>& av = op.input(0);
  const Array<T>& bv = op.input(1);
  const Shape out = broadcast_shapes("where", broadcast_shapes("where", condition.shape(), av.shape()), bv.shape());
  Array<T>& y = op.output(out);
  Array<T>& c = op.save(0, out);
  if (same_shape(av.shape(), out) && same_shape(bv.shape(), out) && same_shape(condition.shape(), out)) {
    const bool* cp = condition.data();
    const T* ap = av.data();
    const T* bp = bv.data();
    T* yp = y.data();
    T* cc = c.data();
    for (std::size_t i = 0; i < y.size(); ++i) {
      cc[i] = cp[i] ? T(1) : T(0);
      yp[i] = cp[i] ? ap[i] : bp[i];
    }
  } else {
    xt::noalias(c) = xt::cast<T>(xt::broadcast(condition, out));
    xt::noalias(y) = xt::where(xt::broadcast(condition, out), xt::broadcast(av, out), xt::broadcast(bv, out));
  }
  return op.finish([](Backward<T>& b) {
    accumulate_selected(b, 0, true);
    accumulate_selected(b, 1, false);
  });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> masked_fill(const Var<T>&, const BoolArray&, detail::scalar_t<T>); \
  template Var<T> where(const BoolArray&, const Var<T>&, const Var<T>&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
