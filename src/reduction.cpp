// Reductions: each computes its value and records one rule. Those over a list of dims share one
// plan of the walk over the input: the reduced and kept dims, merged where they are neighbours,
// and in the common case (the reduced dims adjacent) three plain loops, outer × n × inner.
#include "tapegrad/reduction.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

#include "detail/strided.hpp"
#include "instantiate.hpp"

namespace tapegrad {

namespace {
// sum and mean over everything: y = scale · Σx. scalar(0) holds the scale.
template <class T>
Var<T> reduce_all(const char* name, const Var<T>& x, bool average) {
  Op<T> op(name, {x});
  const Array<T>& xv = x.value();
  TG_CHECK(ValueError, !average || xv.size() > 0, name, ": mean of an empty value of shape ", to_string(xv.shape()));
  const double scale = average ? 1.0 / double(xv.size()) : 1.0;
  double total = 0;  // accumulated in double: a float sum of a million terms loses digits
  for (std::size_t i = 0; i < xv.size(); ++i) total += xv.data()[i];
  Array<T>& y = op.output(Shape{});
  y() = T(total * scale);
  op.save_scalar(0, scale);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const T v = T(b.scalar(0)) * b.grad_out()();
    auto t = b.grad_target(0);
    T* d = t.grad.data();
    const std::size_t n = t.grad.size();
    if (t.add) {
      for (std::size_t i = 0; i < n; ++i) d[i] += v;
    } else {
      std::fill(d, d + n, v);
    }
  });
}

// ---- the walk over a reduction ---------------------------------------------------------------------

// The reduced dims of a shape, one bit each (rank <= 64).
using DimMask = std::uint64_t;

DimMask dim_mask(const char* op, const Shape& s, DimList dims) {
  detail::check_rank(op, s);
  if (s.empty()) {  // a 0-d value: dims 0 and -1 name it, and nothing is reduced
    for (const int d : dims) detail::wrap_dim(op, d, 0, s);
    return 0;
  }
  if (dims.empty()) return s.size() == 64 ? ~DimMask(0) : (DimMask(1) << s.size()) - 1;
  DimMask m = 0;
  for (const int d : dims) {
    const std::size_t w = detail::wrap_dim(op, d, s.size(), s);
    TG_CHECK(ShapeError, !(m >> w & 1), op, ": dim ", d, " appears twice in ", detail::list_string(dims),
             " for shape ", to_string(s));
    m |= DimMask(1) << w;
  }
  return m;
}

Shape reduced_shape(const Shape& s, DimMask m, bool keepdim) {
  Shape out;
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (!(m >> d & 1)) {
      out.push_back(s[d]);
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  return out;
}

// How a reduction walks its input (contiguous, in memory order) and where each element goes in
// the output. Extents of 1 are dropped and neighbouring dims of the same kind merged; when the
// reduced dims are then one block, the walk is outer × n × inner, else an odometer over the merged
// dims with the output's stride of each (0 for a reduced dim).
struct Plan {
  std::size_t outer = 1, n = 1, inner = 1;
  bool simple = true;
  std::size_t rank = 0;
  std::size_t size[detail::kMaxDims] = {};
  std::ptrdiff_t ostride[detail::kMaxDims] = {};
  std::size_t count = 1;   // elements reduced into each output element
  std::size_t total = 1;   // elements of the input
};

Plan make_plan(const Shape& s, DimMask m) {
  Plan p;
  bool reduced[detail::kMaxDims];
  for (std::size_t d = 0; d < s.size(); ++d) {
    const bool r = m >> d & 1;
    p.total *= s[d];
    if (r) p.count *= s[d];
    if (s[d] == 1) continue;
    if (p.rank > 0 && reduced[p.rank - 1] == r) {
      p.size[p.rank - 1] *= s[d];
    } else {
      reduced[p.rank] = r;
      p.size[p.rank++] = s[d];
    }
  }
  std::ptrdiff_t st = 1;
  std::size_t blocks = 0;
  for (std::size_t k = p.rank; k-- > 0;) {
    p.ostride[k] = reduced[k] ? 0 : st;
    if (!reduced[k]) st *= std::ptrdiff_t(p.size[k]);
    if (reduced[k]) ++blocks;
  }
  p.simple = blocks <= 1;
  if (p.simple) {
    std::size_t k = 0;
    for (; k < p.rank && !reduced[k]; ++k) p.outer *= p.size[k];
    for (; k < p.rank && reduced[k]; ++k) p.n *= p.size[k];
    for (; k < p.rank; ++k) p.inner *= p.size[k];
  }
  return p;
}

// f(i, o) for each element i of the input and the output element o it reduces into, in the
// input's order. Inline lambdas make the inner loop plain (vectorised when inner > 1).
template <class F>
void walk(const Plan& p, F&& f) {
  if (p.total == 0) return;
  if (p.simple) {
    for (std::size_t o = 0; o < p.outer; ++o) {
      for (std::size_t k = 0; k < p.n; ++k) {
        const std::size_t base = (o * p.n + k) * p.inner, out = o * p.inner;
        for (std::size_t i = 0; i < p.inner; ++i) f(base + i, out + i);
      }
    }
    return;
  }
  const std::size_t last = p.rank - 1, row = p.size[last];
  const std::ptrdiff_t os = p.ostride[last];
  std::size_t idx[detail::kMaxDims] = {};
  std::ptrdiff_t o = 0;
  for (std::size_t i = 0; i < p.total; i += row) {
    for (std::size_t k = 0; k < row; ++k) f(i + k, std::size_t(o + std::ptrdiff_t(k) * os));
    for (std::size_t d = last; d-- > 0;) {
      o += p.ostride[d];
      if (++idx[d] < p.size[d]) break;
      o -= p.ostride[d] * std::ptrdiff_t(p.size[d]);
      idx[d] = 0;
    }
  }
}

// What every reduction over dims records: the mask in scalars 0 and 1 (two halves: a double holds
// 53 bits exactly).
template <class T>
void save_mask(Op<T>& op, DimMask m) {
  op.save_scalar(0, double(m & 0xffffffffu));
  op.save_scalar(1, double(m >> 32));
}
template <class T>
Plan plan_of(const Backward<T>& b) {
  const DimMask m = DimMask(b.scalar(0)) | DimMask(b.scalar(1)) << 32;
  return make_plan(b.input(0).shape(), m);
}

// dx (+)= f(i, o) over the walk: the backward of every reduction here.
template <class T, class F>
void accumulate_walk(Backward<T>& b, const Plan& p, F&& f) {
  auto t = b.grad_target(0);
  T* d = t.grad.data();
  if (t.add) {
    walk(p, [&](std::size_t i, std::size_t o) { d[i] += f(i, o); });
  } else {
    walk(p, [&](std::size_t i, std::size_t o) { d[i] = f(i, o); });
  }
}

// sum and mean over dims. scalar(2) holds the scale.
template <class T>
Var<T> reduce_dims(const char* name, const Var<T>& x, DimList dims, bool keepdim, bool average) {
  Op<T> op(name, {x});
  const Array<T>& xv = op.input(0);
  const DimMask m = dim_mask(name, xv.shape(), dims);
  const Plan p = make_plan(xv.shape(), m);
  TG_CHECK(ValueError, !average || p.count > 0, name, ": mean over dims ", detail::list_string(dims),
           " of extent 0 in shape ", to_string(xv.shape()));
  Array<T>& y = op.output(reduced_shape(xv.shape(), m, keepdim));
  const T* xp = xv.data();
  T* yp = y.data();
  const double scale = average ? 1.0 / double(p.count) : 1.0;
  if (p.simple && p.outer == 1 && p.inner == 1) {  // everything: accumulated in double
    double total = 0;
    for (std::size_t i = 0; i < p.n; ++i) total += xp[i];
    yp[0] = T(total * scale);
  } else {
    y.fill(T(0));
    walk(p, [&](std::size_t i, std::size_t o) { yp[o] += xp[i]; });
    if (average) {
      for (std::size_t o = 0; o < y.size(); ++o) yp[o] *= T(scale);
    }
  }
  save_mask(op, m);
  op.save_scalar(2, scale);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const T scale = T(b.scalar(2));
    const T* g = b.grad_out().data();
    accumulate_walk(b, plan_of(b), [&](std::size_t, std::size_t o) { return scale * g[o]; });
  });
}

}  // namespace

template <class T>
Var<T> sum(const Var<T>& x) {
  return reduce_all("sum", x, false);
}
template <class T>
Var<T> mean(const Var<T>& x) {
  return reduce_all("mean", x, true);
}
template <class T>
Var<T> sum(const Var<T>& x, DimList dims, bool keepdim) {
  return reduce_dims("sum", x, dims, keepdim, false);
}
template <class T>
Var<T> mean(const Var<T>& x, DimList dims, bool keepdim) {
  return reduce_dims("mean", x, dims, keepdim, true);
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> sum(const Var<T>&); \
  template Var<T> sum(const Var<T>&, DimList, bool); \
  template Var<T> mean(const Var<T>&); \
  template Var<T> mean(const Var<T>&, DimList, bool);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- amax, amin ------------------------------------------------------------------------------------

namespace {

// a beats b: larger (amax) or smaller (amin), and NaN beats everything (it propagates).
template <class T, bool larger>
inline bool beats(T a, T b) {
  return (larger ? a > b : a < b) || (a != a && b == b);
}

// The gradient of a reduction that picks its extreme: g[o] / (number of ties) at each element
// equal to y[o]. Ties are counted into a scratch buffer shaped as y.
template <class T>
void extreme_backward(Backward<T>& b) {
  if (!b.needs_grad(0)) return;
  const Plan p = plan_of(b);
  const T* x = b.input(0).data();
  const T* y = b.output().data();
  const T* g = b.grad_out().data();
  Array<T>& ties = b.scratch(b.output().shape());
  T* c = ties.data();
  std::fill(c, c + ties.size(), T(0));
  walk(p, [&](std::size_t i, std::size_t o) { c[o] += x[i] == y[o] ? T(1) : T(0); });
  // As PyTorch: (g / count) * mask, so a NaN maximum (no element equals it) gives NaN.
  accumulate_walk(b, p, [&](std::size_t i, std::size_t o) { return g[o] / c[o] * T(x[i] == y[o]); });
}

template <class T, bool larger>
Var<T> extreme(const char* name, const Var<T>& x, DimList dims, bool keepdim) {
  Op<T> op(name, {x});
  const Array<T>& xv = op.input(0);
  const DimMask m = dim_mask(name, xv.shape(), dims);
  const Plan p = make_plan(xv.shape(), m);
  TG_CHECK(ValueError, p.count > 0, name, ": reduction over dims ", detail::list_string(dims),
           " of extent 0 in shape ", to_string(xv.shape()), " (there is no identity to return)");
  Array<T>& y = op.output(reduced_shape(xv.shape(), m, keepdim));
  const T* xp = xv.data();
  T* yp = y.data();
  y.fill(larger ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity());
  walk(p, [&](std::size_t i, std::size_t o) {
    if (beats<T, larger>(xp[i], yp[o])) yp[o] = xp[i];
  });
  save_mask(op, m);
  return op.finish(extreme_backward<T>);
}

}  // namespace

template <class T>
Var<T> amax(const Var<T>& x, DimList dims, bool keepdim) {
  return extreme<T, true>("amax", x, dims, keepdim);
}
template <class T>
Var<T> amin(const Var<T>& x, DimList dims, bool keepdim) {
  return extreme<T, false>("amin", x, dims, keepdim);
}

// ---- max, min along a dim --------------------------------------------------------------------------

namespace {

// The extreme along one dim and its position. saved_indices(0) holds the positions (outer ×
// inner), scalar(0) the dim.
template <class T, bool larger>
ValuesIndices<T> arg_extreme(const char* name, const Var<T>& x, int dim, bool keepdim) {
  Op<T> op(name, {x});
  const Array<T>& xv = op.input(0);
  const Shape& in = xv.shape();
  const DimMask m = dim_mask(name, in, {dim});
  const std::size_t d = detail::wrap_dim(name, dim, in.size(), in);
  const std::size_t n = in.empty() ? 1 : in[d];
  TG_CHECK(ValueError, n > 0, name, ": dim ", dim, " of shape ", to_string(in),
           " has extent 0 (there is no element to take)");
  std::size_t outer = 1, inner = 1;
  for (std::size_t k = 0; k < in.size(); ++k) {
    if (k < d) outer *= in[k];
    if (k > d) inner *= in[k];
  }
  const Shape out = reduced_shape(in, m, keepdim);
  Array<T>& y = op.output(out);
  IndexArray& pos = op.save_indices(0, {outer * inner});
  const T* xp = xv.data();
  T* yp = y.data();
  std::int64_t* ip = pos.data();
  for (std::size_t o = 0; o < outer; ++o) {
    T* best = yp + o * inner;
    std::int64_t* at = ip + o * inner;
    std::copy(xp + o * n * inner, xp + (o * n + 1) * inner, best);
    std::fill(at, at + inner, 0);
    for (std::size_t k = 1; k < n; ++k) {
      const T* row = xp + (o * n + k) * inner;
      for (std::size_t i = 0; i < inner; ++i) {
        if (beats<T, larger>(row[i], best[i])) {  // strictly: the first of equal values stays
          best[i] = row[i];
          at[i] = std::int64_t(k);
        }
      }
    }
  }
  op.save_scalar(0, double(d));
  IndexArray indices(out);
  std::copy(ip, ip + outer * inner, indices.data());
  Var<T> values = op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const Shape& in = b.input(0).shape();
    const auto d = std::size_t(b.scalar(0));
    std::size_t n = 1, inner = 1;
    for (std::size_t k = d; k < in.size(); ++k) (k == d ? n : inner) *= in[k];
    const IndexArray& at = b.saved_indices(0);
    const T* g = b.grad_out().data();
    auto t = b.grad_target(0);
    if (!t.add) t.grad.fill(T(0));
    T* dx = t.grad.data();
    for (std::size_t j = 0; j < at.size(); ++j) {  // the gradient goes to the element picked
      const std::size_t o = j / inner, i = j % inner;
      dx[(o * n + std::size_t(at.data()[j])) * inner + i] += g[j];
    }
  });
  return {values, std::move(indices)};
}

}  // namespace

template <class T>
ValuesIndices<T> max(const Var<T>& x, int dim, bool keepdim) {
  return arg_extreme<T, true>("max", x, dim, keepdim);
}
template <class T>
ValuesIndices<T> min(const Var<T>& x, int dim, bool keepdim) {
  return arg_extreme<T, false>("min", x, dim, keepdim);
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> amax(const Var<T>&, DimList, bool); \
  template Var<T> amin(const Var<T>&, DimList, bool); \
  template ValuesIndices<T> max(const Var<T>&, int, bool); \
  template ValuesIndices<T> min(const Var<T>&, int, bool);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- logsumexp -------------------------------------------------------------------------------------

template <class T>
Var<T> logsumexp(const Var<T>& x, DimList dims, bool keepdim) {
  Op<T> op("logsumexp", {x});
  const Array<T>& xv = op.input(0);
  const DimMask m = dim_mask("logsumexp", xv.shape(), dims);
  const Plan p = make_plan(xv.shape(), m);
  const Shape out = reduced_shape(xv.shape(), m, keepdim);
  Array<T>& y = op.output(out);
  Array<T>& s = op.save(0, out);  // Σ exp(x − max); kept only to reuse the buffer next step
  const T* xp = xv.data();
  T* yp = y.data();
  T* sp = s.data();
  // y = max (NaN propagates), shifted by 0 where it is infinite (as PyTorch), then the sum.
  y.fill(-std::numeric_limits<T>::infinity());
  walk(p, [&](std::size_t i, std::size_t o) {
    if (beats<T, true>(xp[i], yp[o])) yp[o] = xp[i];
  });
  for (std::size_t o = 0; o < y.size(); ++o) {
    if (std::isinf(yp[o])) yp[o] = T(0);
  }
  s.fill(T(0));
  walk(p, [&](std::size_t i, std::size_t o) { sp[o] += std::exp(xp[i] - yp[o]); });
  for (std::size_t o = 0; o < y.size(); ++o) yp[o] += std::log(sp[o]);
  save_mask(op, m);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const T* x = b.input(0).data();
    const T* y = b.output().data();
    const T* g = b.grad_out().data();
    accumulate_walk(b, plan_of(b), [&](std::size_t i, std::size_t o) { return g[o] * std::exp(x[i] - y[o]); });
  });
}

// ---- var, std --------------------------------------------------------------------------------------

namespace {

// saved(0): the mean (y's shape); scalar(2): N − correction; scalar(3): 1 for std.
template <class T>
Var<T> moment(const char* name, const Var<T>& x, DimList dims, double correction, bool keepdim,
              bool root) {
  Op<T> op(name, {x});
  const Array<T>& xv = op.input(0);
  const DimMask m = dim_mask(name, xv.shape(), dims);
  const Plan p = make_plan(xv.shape(), m);
  const Shape out = reduced_shape(xv.shape(), m, keepdim);
  Array<T>& y = op.output(out);
  Array<T>& mu = op.save(0, out);
  const T* xp = xv.data();
  T* yp = y.data();
  T* mp = mu.data();
  mu.fill(T(0));
  walk(p, [&](std::size_t i, std::size_t o) { mp[o] += xp[i]; });
  for (std::size_t o = 0; o < mu.size(); ++o) mp[o] /= T(p.count);  // 0/0 = NaN for no elements
  y.fill(T(0));
  walk(p, [&](std::size_t i, std::size_t o) { yp[o] += (xp[i] - mp[o]) * (xp[i] - mp[o]); });
  const double dof = double(p.count) - correction;
  const T divisor = T(std::max(0.0, dof));
  for (std::size_t o = 0; o < y.size(); ++o) yp[o] = root ? std::sqrt(yp[o] / divisor) : yp[o] / divisor;
  save_mask(op, m);
  op.save_scalar(2, dof);
  op.save_scalar(3, root);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const T* x = b.input(0).data();
    const T* y = b.output().data();
    const T* mu = b.saved(0).data();
    const T* g = b.grad_out().data();
    const T two_over_dof = T(2) / T(b.scalar(2));
    if (b.scalar(3) != 0) {  // std: d√v = dv / (2√v), 0 where √v = 0
      accumulate_walk(b, plan_of(b), [&](std::size_t i, std::size_t o) {
        const T gv = y[o] == T(0) ? T(0) : g[o] / (T(2) * y[o]);
        return gv * two_over_dof * (x[i] - mu[o]);
      });
    } else {
      accumulate_walk(b, plan_of(b),
                      [&](std::size_t i, std::size_t o) { return g[o] * two_over_dof * (x[i] - mu[o]); });
    }
  });
}

}  // namespace

template <class T>
Var<T> var(const Var<T>& x, DimList dims, double correction, bool keepdim) {
  return moment("var", x, dims, correction, keepdim, false);
}
template <class T>
Var<T> std(const Var<T>& x, DimList dims, double correction, bool keepdim) {
  return moment("std", x, dims, correction, keepdim, true);
}

// ---- norm ------------------------------------------------------------------------------------------

namespace {
template <class T>
inline T sgn(T v) {
  return v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0));
}
}  // namespace

// scalar(2) holds p; the backward follows PyTorch's norm_backward case by case.
template <class T>
Var<T> norm(const Var<T>& x, double p, DimList dims, bool keepdim) {
  Op<T> op("norm", {x});
  const Array<T>& xv = op.input(0);
  const DimMask m = dim_mask("norm", xv.shape(), dims);
  const Plan plan = make_plan(xv.shape(), m);
  TG_CHECK(ValueError, !std::isinf(p) || plan.count > 0, "norm: the ", p, "-norm over dims ",
           detail::list_string(dims), " of extent 0 in shape ", to_string(xv.shape()),
           " is undefined (there is no element to take the maximum of)");
  TG_CHECK(ValueError, !std::isnan(p), "norm: p is NaN (for a value of shape ", to_string(xv.shape()), ")");
  Array<T>& y = op.output(reduced_shape(xv.shape(), m, keepdim));
  const T* xp = xv.data();
  T* yp = y.data();
  if (std::isinf(p)) {
    const bool larger = p > 0;
    y.fill(larger ? T(0) : std::numeric_limits<T>::infinity());
    walk(plan, [&](std::size_t i, std::size_t o) {
      const T a = std::abs(xp[i]);
      if (larger ? beats<T, true>(a, yp[o]) : beats<T, false>(a, yp[o])) yp[o] = a;
    });
  } else {
    y.fill(T(0));
    const T pt = T(p);
    if (p == 0) {
      walk(plan, [&](std::size_t i, std::size_t o) { yp[o] += xp[i] != T(0) ? T(1) : T(0); });
    } else if (p == 1) {
      walk(plan, [&](std::size_t i, std::size_t o) { yp[o] += std::abs(xp[i]); });
    } else if (p == 2) {
      walk(plan, [&](std::size_t i, std::size_t o) { yp[o] += xp[i] * xp[i]; });
      for (std::size_t o = 0; o < y.size(); ++o) yp[o] = std::sqrt(yp[o]);
    } else {
      walk(plan, [&](std::size_t i, std::size_t o) { yp[o] += std::pow(std::abs(xp[i]), pt); });
      for (std::size_t o = 0; o < y.size(); ++o) yp[o] = std::pow(yp[o], T(1) / pt);
    }
  }
  save_mask(op, m);
  op.save_scalar(2, p);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const double p = b.scalar(2);
    const T pt = T(p);
    const Plan plan = plan_of(b);
    const T* x = b.input(0).data();
    const T* y = b.output().data();
    const T* g = b.grad_out().data();
    if (p == 0) {
      accumulate_walk(b, plan, [](std::size_t, std::size_t) { return T(0); });
    } else if (p == 1) {
      accumulate_walk(b, plan, [&](std::size_t i, std::size_t o) { return sgn(x[i]) * g[o]; });
    } else if (p == 2) {
      accumulate_walk(b, plan, [&](std::size_t i, std::size_t o) { return y[o] == T(0) ? T(0) : x[i] * g[o] / y[o]; });
    } else if (std::isinf(p)) {  // split among the elements whose magnitude is the norm (or NaN)
      Array<T>& ties = b.scratch(b.output().shape());
      T* c = ties.data();
      std::fill(c, c + ties.size(), T(0));
      auto hit = [&](std::size_t i, std::size_t o) {
        const T a = std::abs(x[i]);
        return a == y[o] || a != a;
      };
      walk(plan, [&](std::size_t i, std::size_t o) { c[o] += hit(i, o) ? T(1) : T(0); });
      accumulate_walk(b, plan, [&](std::size_t i, std::size_t o) { return sgn(x[i]) * (g[o] / c[o]) * T(hit(i, o)); });
    } else if (p < 1) {
      accumulate_walk(b, plan, [&](std::size_t i, std::size_t o) {
        const T scaled = x[i] == T(0) ? T(0) : sgn(x[i]) * std::pow(std::abs(x[i]), pt - T(1));
        return scaled * g[o] * std::pow(y[o], T(1) - pt);
      });
    } else if (p < 2) {
      accumulate_walk(b, plan, [&](std::size_t i, std::size_t o) {
        const T scale = y[o] == T(0) ? T(0) : g[o] / std::pow(y[o], pt - T(1));
        return sgn(x[i]) * std::pow(std::abs(x[i]), pt - T(1)) * scale;
      });
    } else {
      accumulate_walk(b, plan, [&](std::size_t i, std::size_t o) {
        const T scale = y[o] == T(0) ? T(0) : g[o] / std::pow(y[o], pt - T(1));
        return x[i] * std::pow(std::abs(x[i]), pt - T(2)) * scale;
      });
    }
  });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> logsumexp(const Var<T>&, DimList, bool); \
  template Var<T> var(const Var<T>&, DimList, double, bool); \
  template Var<T> std(const Var<T>&, DimList, double, bool); \
  template Var<T> norm(const Var<T>&, double, DimList, bool);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
