// Every built-in op: its forward value and its backward rule, one after the other.
// Rules capture nothing; what they need beyond inputs and output they save through Op.
#include "tapegrad/ops.hpp"

#include <algorithm>
#include <cmath>

#include "tapegrad/kernels.hpp"

namespace tapegrad {

namespace {

// Adds g, which has the shape of the op's broadcast output, to input i's gradient, summing
// over the axes along which the input was broadcast.
template <class T>
void accumulate_unbroadcast(Backward<T>& b, std::size_t i, const Array<T>& g) {
  if (!b.needs_grad(i)) return;
  const Array<T>& x = b.input(i);
  if (same_shape(g.shape(), x.shape())) {
    b.accumulate(i, g);
    return;
  }
  auto t = b.grad_target(i);
  kernels::sum_to(g, t.grad, t.add);
  b.mark_written(i);
}

template <class T>
void check_same_shape(const char* op, const Var<T>& a, const Var<T>& b) {
  TG_CHECK(ShapeError, same_shape(a.shape(), b.shape()), op, ": shapes ", to_string(a.shape()), " and ",
           to_string(b.shape()), " differ (this op does not broadcast)");
}


}  // namespace

// ---- matmul, linear ---------------------------------------------------------------------------

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  Op<T> op("matmul", {a, b});
  const Array<T>& av = a.value();
  const Array<T>& bv = b.value();
  TG_CHECK(ShapeError, av.dimension() == 2 && bv.dimension() == 2, "matmul: ", to_string(av.shape()), " @ ",
           to_string(bv.shape()), " — both operands must be 2-D");
  TG_CHECK(ShapeError, av.shape()[1] == bv.shape()[0], "matmul: ", to_string(av.shape()), " @ ",
           to_string(bv.shape()), " — inner dimensions differ (", av.shape()[1], " vs ", bv.shape()[0], ")");
  Array<T>& y = op.output({av.shape()[0], bv.shape()[1]});
  kernels::gemm(false, false, T(1), av, bv, T(0), y);
  return op.finish([](Backward<T>& g) {
    if (g.needs_grad(0)) {  // dA = G · Bᵀ
      auto t = g.grad_target(0);
      kernels::gemm(false, true, T(1), g.grad_out(), g.input(1), T(t.add), t.grad);
      g.mark_written(0);
    }
    if (g.needs_grad(1)) {  // dB = Aᵀ · G
      auto t = g.grad_target(1);
      kernels::gemm(true, false, T(1), g.input(0), g.grad_out(), T(t.add), t.grad);
      g.mark_written(1);
    }
  });
}

namespace {
template <class T>
void check_linear(const Array<T>& x, const Array<T>& w, const Array<T>* b) {
  TG_CHECK(ShapeError, x.dimension() == 2 && w.dimension() == 2, "linear: input ", to_string(x.shape()),
           " and weight ", to_string(w.shape()), " must be 2-D");
  TG_CHECK(ShapeError, x.shape()[1] == w.shape()[0], "linear: input ", to_string(x.shape()), " · weight ",
           to_string(w.shape()), " — input features (", x.shape()[1], ") differ from the weight's rows (",
           w.shape()[0], "); weights are (in, out)");
  if (b) {
    const std::size_t out = w.shape()[1];
    const bool ok = (b->dimension() == 1 && b->shape()[0] == out) ||
                    (b->dimension() == 2 && b->shape()[0] == 1 && b->shape()[1] == out);
    TG_CHECK(ShapeError, ok, "linear: bias ", to_string(b->shape()), " does not fit weight ", to_string(w.shape()),
             "; expected (", out, ",) or (1, ", out, ")");
  }
}

template <class T>
void linear_backward(Backward<T>& g) {
  const Array<T>& go = g.grad_out();
  if (g.needs_grad(0)) {  // dx = G · Wᵀ
    auto t = g.grad_target(0);
    kernels::gemm(false, true, T(1), go, g.input(1), T(t.add), t.grad);
    g.mark_written(0);
  }
  if (g.needs_grad(1)) {  // dW = xᵀ · G, with the transpose flag instead of a copy
    auto t = g.grad_target(1);
    kernels::gemm(true, false, T(1), g.input(0), go, T(t.add), t.grad);
    g.mark_written(1);
  }
  if (g.n_inputs() > 2 && g.needs_grad(2)) {  // db = column sums of G, one pass
    auto t = g.grad_target(2);
    kernels::column_sums(go.data(), go.shape()[0], go.shape()[1], t.grad.data(), t.add);
    g.mark_written(2);
  }
}
}  // namespace

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
  Op<T> op("linear", {x, w, b});
  const Array<T>& xv = op.input(0);
  const Array<T>& wv = op.input(1);
  const Array<T>& bv = op.input(2);
  check_linear(xv, wv, &bv);
  const std::size_t m = xv.shape()[0], n = wv.shape()[1];
  Array<T>& y = op.output({m, n});
  for (std::size_t i = 0; i < m; ++i) std::copy(bv.data(), bv.data() + n, y.data() + i * n);
  kernels::gemm(false, false, T(1), xv, wv, T(1), y);
  return op.finish(linear_backward<T>);
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w) {
  Op<T> op("linear", {x, w});
  const Array<T>& xv = op.input(0);
  const Array<T>& wv = op.input(1);
  check_linear<T>(xv, wv, nullptr);
  Array<T>& y = op.output({xv.shape()[0], wv.shape()[1]});
  kernels::gemm(false, false, T(1), xv, wv, T(0), y);
  return op.finish(linear_backward<T>);
}

// ---- broadcasting arithmetic --------------------------------------------------------------------

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  Op<T> op("add", {a, b});
  Array<T>& y = op.output(broadcast_shapes("add", a.shape(), b.shape()));
  xt::noalias(y) = a.value() + b.value();
  return op.finish([](Backward<T>& g) {
    accumulate_unbroadcast(g, 0, g.grad_out());
    accumulate_unbroadcast(g, 1, g.grad_out());
  });
}

template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  Op<T> op("sub", {a, b});
  Array<T>& y = op.output(broadcast_shapes("sub", a.shape(), b.shape()));
  xt::noalias(y) = a.value() - b.value();
  return op.finish([](Backward<T>& g) {
    accumulate_unbroadcast(g, 0, g.grad_out());
    if (g.needs_grad(1)) {
      Array<T>& s = g.scratch(g.grad_out().shape());
      xt::noalias(s) = -g.grad_out();
      accumulate_unbroadcast(g, 1, s);
    }
  });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  Op<T> op("mul", {a, b});
  Array<T>& y = op.output(broadcast_shapes("mul", a.shape(), b.shape()));
  xt::noalias(y) = a.value() * b.value();
  return op.finish([](Backward<T>& g) {
    for (std::size_t i = 0; i < 2; ++i) {
      if (!g.needs_grad(i)) continue;
      Array<T>& s = g.scratch(g.grad_out().shape());
      xt::noalias(s) = g.grad_out() * g.input(1 - i);
      accumulate_unbroadcast(g, i, s);
    }
  });
}

template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b) {
  Op<T> op("div", {a, b});
  Array<T>& y = op.output(broadcast_shapes("div", a.shape(), b.shape()));
  xt::noalias(y) = a.value() / b.value();
  return op.finish([](Backward<T>& g) {
    if (g.needs_grad(0)) {  // d(a/b)/da = 1/b
      Array<T>& s = g.scratch(g.grad_out().shape());
      xt::noalias(s) = g.grad_out() / g.input(1);
      accumulate_unbroadcast(g, 0, s);
    }
    if (g.needs_grad(1)) {  // d(a/b)/db = -(a/b)/b
      Array<T>& s = g.scratch(g.grad_out().shape());
      xt::noalias(s) = -g.grad_out() * g.output() / g.input(1);
      accumulate_unbroadcast(g, 1, s);
    }
  });
}

template <class T>
Var<T> affine(const Var<T>& x, detail::scalar_t<T> alpha, detail::scalar_t<T> beta) {
  Op<T> op("affine", {x});
  Array<T>& y = op.output(x.shape());
  const Array<T>& xv = x.value();
  for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = alpha * xv.data()[i] + beta;
  op.save_scalar(0, alpha);
  return op.finish([](Backward<T>& g) { g.accumulate(0, T(g.scalar(0)) * g.grad_out()); });
}

// ---- elementwise functions ----------------------------------------------------------------------

template <class T>
Var<T> relu(const Var<T>& x) {
  Op<T> op("relu", {x});
  Array<T>& y = op.output(op.input(0).shape());
  const T* xp = op.input(0).data();
  T* yp = y.data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) yp[i] = xp[i] > T(0) ? xp[i] : T(0);
  return op.finish([](Backward<T>& g) {
    if (!g.needs_grad(0)) return;
    // y > 0 exactly where x > 0, so the output serves as the mask.
    auto t = g.grad_target(0);
    const T* yp = g.output().data();
    const T* gp = g.grad_out().data();
    T* dp = t.grad.data();
    const std::size_t n = g.output().size();
    // Both loads unconditional, so the select vectorises (a conditional load does not).
    if (t.add) {
      for (std::size_t i = 0; i < n; ++i) {
        const T y = yp[i], go = gp[i];
        dp[i] += y > T(0) ? go : T(0);
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        const T y = yp[i], go = gp[i];
        dp[i] = y > T(0) ? go : T(0);
      }
    }
    g.mark_written(0);
  });
}

template <class T>
Var<T> sigmoid(const Var<T>& x) {
  Op<T> op("sigmoid", {x});
  Array<T>& y = op.output(x.shape());
  // exp(-x) overflows to inf for very negative x, and 1 / (1 + inf) = 0: finite everywhere.
  xt::noalias(y) = T(1) / (T(1) + xt::exp(-x.value()));
  return op.finish([](Backward<T>& g) {
    const Array<T>& y = g.output();
    g.accumulate(0, g.grad_out() * y * (T(1) - y));
  });
}

template <class T>
Var<T> tanh(const Var<T>& x) {
  Op<T> op("tanh", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::tanh(x.value());
  return op.finish([](Backward<T>& g) {
    const Array<T>& y = g.output();
    g.accumulate(0, g.grad_out() * (T(1) - y * y));
  });
}

template <class T>
Var<T> exp(const Var<T>& x) {
  Op<T> op("exp", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::exp(x.value());
  return op.finish([](Backward<T>& g) { g.accumulate(0, g.grad_out() * g.output()); });
}

template <class T>
Var<T> log(const Var<T>& x) {
  Op<T> op("log", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::log(x.value());
  return op.finish([](Backward<T>& g) { g.accumulate(0, g.grad_out() / g.input(0)); });
}

// ---- reductions ------------------------------------------------------------------------------------

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
  return op.finish([](Backward<T>& g) {
    if (!g.needs_grad(0)) return;
    const T v = T(g.scalar(0)) * g.grad_out()();
    auto t = g.grad_target(0);
    T* d = t.grad.data();
    const std::size_t n = t.grad.size();
    if (t.add) {
      for (std::size_t i = 0; i < n; ++i) d[i] += v;
    } else {
      std::fill(d, d + n, v);
    }
    g.mark_written(0);
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
  return op.finish([](Backward<T>& g) {
    if (!g.needs_grad(0)) return;
    const AxisSplit s = split_axis("sum", g.input(0).shape(), int(g.scalar(1)));
    const T scale = T(g.scalar(0));
    auto t = g.grad_target(0);
    if (!t.add) t.grad.fill(T(0));
    for (std::size_t o = 0; o < s.outer; ++o) {
      const T* grow = g.grad_out().data() + o * s.inner;
      for (std::size_t k = 0; k < s.n; ++k) {
        T* drow = t.grad.data() + (o * s.n + k) * s.inner;
        for (std::size_t i = 0; i < s.inner; ++i) drow[i] += scale * grow[i];
      }
    }
    g.mark_written(0);
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

// ---- losses -----------------------------------------------------------------------------------------

namespace {
// PyTorch clamps each log at -100 so that p = 0 or 1 gives a finite loss and gradient.
template <class T>
T clamped_log(T v) {
  return std::max(std::log(v), T(-100));
}
}  // namespace

template <class T>
Var<T> bce(const Var<T>& p, const Var<T>& y) {
  Op<T> op("bce", {p, y});
  check_same_shape("bce", p, y);
  const Array<T>& pv = p.value();
  const Array<T>& yv = y.value();
  TG_CHECK(ValueError, pv.size() > 0, "bce: empty input of shape ", to_string(pv.shape()));
  double total = 0;
  for (std::size_t i = 0; i < pv.size(); ++i) {
    const T pi = pv.data()[i], yi = yv.data()[i];
    TG_CHECK(ValueError, pi >= T(0) && pi <= T(1), "bce: predictions must lie in [0, 1], but element ", i, " is ",
             pi, " (for logits use bce_with_logits)");
    total -= double(yi * clamped_log(pi) + (T(1) - yi) * clamped_log(T(1) - pi));
  }
  Array<T>& out = op.output(Shape{});
  out() = T(total / double(pv.size()));
  return op.finish([](Backward<T>& g) {
    const Array<T>& pv = g.input(0);
    const Array<T>& yv = g.input(1);
    const T scale = g.grad_out()() / T(pv.size());
    for (std::size_t k = 0; k < 2; ++k) {
      if (!g.needs_grad(k)) continue;
      auto t = g.grad_target(k);
      T* d = t.grad.data();
      for (std::size_t i = 0; i < pv.size(); ++i) {
        const T pi = pv.data()[i], yi = yv.data()[i];
        // d/dp = (p - y) / (p (1 - p)), its denominator clamped as PyTorch does (1e-12);
        // d/dy = log(1 - p) - log(p), with the clamped logs of the forward.
        const T v = k == 0 ? (pi - yi) / std::max(pi * (T(1) - pi), T(1e-12))
                           : clamped_log(T(1) - pi) - clamped_log(pi);
        d[i] = (t.add ? d[i] : T(0)) + scale * v;
      }
      g.mark_written(k);
    }
  });
}

template <class T>
Var<T> bce_with_logits(const Var<T>& z, const Var<T>& y) {
  Op<T> op("bce_with_logits", {z, y});
  const Array<T>& zv = op.input(0);
  const Array<T>& yv = op.input(1);
  TG_CHECK(ShapeError, same_shape(zv.shape(), yv.shape()), "bce_with_logits: shapes ", to_string(zv.shape()), " and ",
           to_string(yv.shape()), " differ (this op does not broadcast)");
  TG_CHECK(ValueError, zv.size() > 0, "bce_with_logits: empty input of shape ", to_string(zv.shape()));
  // σ(z) is saved for backward: it shares e^-|z| with the loss, so backward needs no exp.
  T* sig = op.recording() ? op.save(0, zv.shape()).data() : nullptr;
  double total = 0;
  for (std::size_t i = 0; i < zv.size(); ++i) {
    const T zi = zv.data()[i], yi = yv.data()[i];
    const T e = std::exp(-std::abs(zi));
    total += double(std::max(zi, T(0)) - zi * yi + std::log1p(e));
    // σ(z) without overflow: for z < 0 use e^z / (1 + e^z).
    if (sig) sig[i] = zi >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
  }
  Array<T>& out = op.output(Shape{});
  out() = T(total / double(zv.size()));
  return op.finish([](Backward<T>& g) {
    const Array<T>& zv = g.input(0);
    const Array<T>& yv = g.input(1);
    const T* sig = g.saved(0).data();
    const T scale = g.grad_out()() / T(zv.size());
    for (std::size_t k = 0; k < 2; ++k) {
      if (!g.needs_grad(k)) continue;
      auto t = g.grad_target(k);
      T* d = t.grad.data();
      for (std::size_t i = 0; i < zv.size(); ++i) {
        const T zi = zv.data()[i];
        const T v = k == 0 ? sig[i] - yv.data()[i] : -zi;
        d[i] = (t.add ? d[i] : T(0)) + scale * v;
      }
      g.mark_written(k);
    }
  });
}

template <class T>
Var<T> mse(const Var<T>& a, const Var<T>& b) {
  Op<T> op("mse", {a, b});
  check_same_shape("mse", a, b);
  const Array<T>& av = a.value();
  const Array<T>& bv = b.value();
  TG_CHECK(ValueError, av.size() > 0, "mse: empty input of shape ", to_string(av.shape()));
  double total = 0;
  for (std::size_t i = 0; i < av.size(); ++i) {
    const double d = double(av.data()[i]) - double(bv.data()[i]);
    total += d * d;
  }
  Array<T>& out = op.output(Shape{});
  out() = T(total / double(av.size()));
  return op.finish([](Backward<T>& g) {
    const T scale = T(2) * g.grad_out()() / T(g.input(0).size());
    g.accumulate(0, scale * (g.input(0) - g.input(1)));
    g.accumulate(1, scale * (g.input(1) - g.input(0)));
  });
}

#define TAPEGRAD_INSTANTIATE(T)                                                      \
  template Var<T> matmul(const Var<T>&, const Var<T>&);                              \
  template Var<T> linear(const Var<T>&, const Var<T>&, const Var<T>&);               \
  template Var<T> linear(const Var<T>&, const Var<T>&);                              \
  template Var<T> add(const Var<T>&, const Var<T>&);                                 \
  template Var<T> sub(const Var<T>&, const Var<T>&);                                 \
  template Var<T> mul(const Var<T>&, const Var<T>&);                                 \
  template Var<T> div(const Var<T>&, const Var<T>&);                                 \
  template Var<T> affine(const Var<T>&, detail::scalar_t<T>, detail::scalar_t<T>);   \
  template Var<T> relu(const Var<T>&);                                               \
  template Var<T> sigmoid(const Var<T>&);                                            \
  template Var<T> tanh(const Var<T>&);                                               \
  template Var<T> exp(const Var<T>&);                                                \
  template Var<T> log(const Var<T>&);                                                \
  template Var<T> sum(const Var<T>&);                                                \
  template Var<T> sum(const Var<T>&, int, bool);                                     \
  template Var<T> mean(const Var<T>&);                                               \
  template Var<T> mean(const Var<T>&, int, bool);                                    \
  template Var<T> bce(const Var<T>&, const Var<T>&);                                 \
  template Var<T> bce_with_logits(const Var<T>&, const Var<T>&);                     \
  template Var<T> mse(const Var<T>&, const Var<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
