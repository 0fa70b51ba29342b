// Reductions: each computes its value and records one rule.
#include "tapegrad/reduction.hpp"

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

// sum and mean along one axis. scalar(0) holds the scale, scalar(1) the axis.
template <class T>
Var<T> reduce_axis(const char* name, const Var<T>& x, int axis, bool keepdims, bool average) {
  Op<T> op(name, {x});
  const Array<T>& xv = x.value();
  const AxisSplit s = split_axis(name, xv.shape(), axis);
  TG_CHECK(ValueError, !average || s.n > 0, name, ": mean over axis ", axis, " of extent 0 in shape ",
           to_string(xv.shape()));
  Shape out_shape;
  for (std::size_t d = 0; d < xv.dimension(); ++d) {
    if (d != s.axis) {
      out_shape.push_back(xv.shape()[d]);
    } else if (keepdims) {
      out_shape.push_back(1);
    }
  }
  const T scale = average ? T(1) / T(s.n) : T(1);
  Array<T>& y = op.output(out_shape);
  y.fill(T(0));
  for (std::size_t o = 0; o < s.outer; ++o) {
    T* yrow = y.data() + o * s.inner;
    for (std::size_t k = 0; k < s.n; ++k) {
      const T* xrow = xv.data() + (o * s.n + k) * s.inner;
      for (std::size_t i = 0; i < s.inner; ++i) yrow[i] += xrow[i];
    }
    for (std::size_t i = 0; i < s.inner; ++i) yrow[i] *= scale;
  }
  op.save_scalar(0, double(scale));
  op.save_scalar(1, double(s.axis));
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const AxisSplit s = split_axis("sum", b.input(0).shape(), int(b.scalar(1)));
    const T scale = T(b.scalar(0));
    auto t = b.grad_target(0);
    if (!t.add) t.grad.fill(T(0));
    for (std::size_t o = 0; o < s.outer; ++o) {
      const T* grow = b.grad_out().data() + o * s.inner;
      for (std::size_t k = 0; k < s.n; ++k) {
        T* drow = t.grad.data() + (o * s.n + k) * s.inner;
        for (std::size_t i = 0; i < s.inner; ++i) drow[i] += scale * grow[i];
      }
    }
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
Var<T> sum(const Var<T>& x, int axis, bool keepdims) {
  return reduce_axis("sum", x, axis, keepdims, false);
}
template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdims) {
  return reduce_axis("mean", x, axis, keepdims, true);
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> sum(const Var<T>&); \
  template Var<T> sum(const Var<T>&, int, bool); \
  template Var<T> mean(const Var<T>&); \
  template Var<T> mean(const Var<T>&, int, bool);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
