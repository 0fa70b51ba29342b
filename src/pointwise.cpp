// Elementwise functions and activations: each computes its value and records one rule.
#include "tapegrad/pointwise.hpp"

#include <cmath>

#include "detail/broadcast.hpp"
#include "instantiate.hpp"

namespace tapegrad {

template <class T>
Var<T> relu(const Var<T>& x) {
  Op<T> op("relu", {x});
  Array<T>& y = op.output(op.input(0).shape());
  const T* xp = op.input(0).data();
  T* yp = y.data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) yp[i] = xp[i] > T(0) ? xp[i] : T(0);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    // y > 0 exactly where x > 0, so the output serves as the mask.
    auto t = b.grad_target(0);
    const T* yp = b.output().data();
    const T* gp = b.grad_out().data();
    T* dp = t.grad.data();
    const std::size_t n = b.output().size();
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
  });
}

template <class T>
Var<T> sigmoid(const Var<T>& x) {
  Op<T> op("sigmoid", {x});
  Array<T>& y = op.output(x.shape());
  // exp(-x) overflows to inf for very negative x, and 1 / (1 + inf) = 0: finite everywhere.
  xt::noalias(y) = T(1) / (T(1) + xt::exp(-x.value()));
  return op.finish([](Backward<T>& b) {
    const Array<T>& y = b.output();
    b.accumulate(0, b.grad_out() * y * (T(1) - y));
  });
}

template <class T>
Var<T> tanh(const Var<T>& x) {
  Op<T> op("tanh", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::tanh(x.value());
  return op.finish([](Backward<T>& b) {
    const Array<T>& y = b.output();
    b.accumulate(0, b.grad_out() * (T(1) - y * y));
  });
}

template <class T>
Var<T> exp(const Var<T>& x) {
  Op<T> op("exp", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::exp(x.value());
  return op.finish([](Backward<T>& b) { b.accumulate(0, b.grad_out() * b.output()); });
}

template <class T>
Var<T> log(const Var<T>& x) {
  Op<T> op("log", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::log(x.value());
  return op.finish([](Backward<T>& b) { b.accumulate(0, b.grad_out() / b.input(0)); });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> relu(const Var<T>&); \
  template Var<T> sigmoid(const Var<T>&); \
  template Var<T> tanh(const Var<T>&); \
  template Var<T> exp(const Var<T>&); \
  template Var<T> log(const Var<T>&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- arithmetic ------------------------------------------------------------------------------------

namespace {
// y[k] = f(x[k]): a plain loop (vectorised when f is arithmetic and selects).
template <class T, class F>
void map(const Array<T>& x, Array<T>& y, F f) {
  const T* xp = x.data();
  T* yp = y.data();
  for (std::size_t k = 0, n = y.size(); k < n; ++k) yp[k] = f(xp[k]);
}
}  // namespace

template <class T>
Var<T> pow(const Var<T>& x, double exponent) {
  Op<T> op("pow", {x});
  Array<T>& y = op.output(op.input(0).shape());
  const T e = T(exponent);
  if (exponent == 2) {
    map(op.input(0), y, [](T v) { return v * v; });
  } else {
    map(op.input(0), y, [e](T v) { return std::pow(v, e); });
  }
  op.save_scalar(0, exponent);
  return op.finish([](Backward<T>& b) {
    const T e = T(b.scalar(0));
    const T* x = b.input(0).data();
    const T* g = b.grad_out().data();
    if (e == T(0)) {
      detail::accumulate_elementwise(b, 0, [](std::size_t) { return T(0); });
    } else if (e == T(2)) {
      detail::accumulate_elementwise(b, 0, [&](std::size_t k) { return g[k] * T(2) * x[k]; });
    } else {
      detail::accumulate_elementwise(b, 0, [&](std::size_t k) { return g[k] * e * std::pow(x[k], e - T(1)); });
    }
  });
}

template <class T>
Var<T> pow(const Var<T>& x, const Var<T>& exponent) {
  Op<T> op("pow", {x, exponent});
  const Shape out = broadcast_shapes("pow", op.input(0).shape(), op.input(1).shape());
  const T* xp = detail::broadcast_input(op, 0, out, 0);
  const T* ep = detail::broadcast_input(op, 1, out, 1);
  Array<T>& y = op.output(out);
  T* yp = y.data();
  for (std::size_t k = 0; k < y.size(); ++k) yp[k] = std::pow(xp[k], ep[k]);
  return op.finish([](Backward<T>& b) {
    const T* x = detail::broadcast_input(b, 0, 0);
    const T* e = detail::broadcast_input(b, 1, 1);
    const T* y = b.output().data();
    const T* g = b.grad_out().data();
    detail::accumulate_elementwise(b, 0, [&](std::size_t k) {
      return e[k] == T(0) ? T(0) : g[k] * e[k] * std::pow(x[k], e[k] - T(1));
    });
    detail::accumulate_elementwise(b, 1, [&](std::size_t k) {
      return x[k] == T(0) && e[k] >= T(0) ? T(0) : g[k] * y[k] * std::log(x[k]);
    });
  });
}

template <class T>
Var<T> sqrt(const Var<T>& x) {
  Op<T> op("sqrt", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::sqrt(op.input(0));
  return op.finish([](Backward<T>& b) { b.accumulate(0, b.grad_out() / (T(2) * b.output())); });
}

template <class T>
Var<T> rsqrt(const Var<T>& x) {
  Op<T> op("rsqrt", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = T(1) / xt::sqrt(op.input(0));
  return op.finish([](Backward<T>& b) {
    const Array<T>& y = b.output();
    b.accumulate(0, T(-0.5) * b.grad_out() * y * y * y);
  });
}

template <class T>
Var<T> abs(const Var<T>& x) {
  Op<T> op("abs", {x});
  Array<T>& y = op.output(x.shape());
  map(op.input(0), y, [](T v) { return std::abs(v); });
  return op.finish([](Backward<T>& b) {
    const T* x = b.input(0).data();
    const T* g = b.grad_out().data();
    detail::accumulate_elementwise(b, 0, [&](std::size_t k) {
      return x[k] > T(0) ? g[k] : (x[k] < T(0) ? -g[k] : T(0));
    });
  });
}

template <class T>
Var<T> square(const Var<T>& x) {
  Op<T> op("square", {x});
  Array<T>& y = op.output(x.shape());
  map(op.input(0), y, [](T v) { return v * v; });
  return op.finish([](Backward<T>& b) { b.accumulate(0, T(2) * b.grad_out() * b.input(0)); });
}

// scalar(0), (1): has a min, the min; (2), (3): has a max, the max.
template <class T>
Var<T> clamp(const Var<T>& x, std::optional<double> min, std::optional<double> max) {
  Op<T> op("clamp", {x});
  TG_CHECK(ValueError, min || max, "clamp: at least one of min and max must be given (for a value of shape ",
           to_string(op.input(0).shape()), ")");
  Array<T>& y = op.output(op.input(0).shape());
  const T lo = min ? T(*min) : T(0), hi = max ? T(*max) : T(0);
  const bool has_lo = bool(min), has_hi = bool(max);
  // NaN compares false everywhere, so it passes through both bounds, as in PyTorch.
  map(op.input(0), y, [=](T v) {
    if (has_lo && v < lo) v = lo;
    if (has_hi && v > hi) v = hi;
    return v;
  });
  op.save_scalar(0, has_lo);
  op.save_scalar(1, double(lo));
  op.save_scalar(2, has_hi);
  op.save_scalar(3, double(hi));
  return op.finish([](Backward<T>& b) {
    const bool has_lo = b.scalar(0) != 0, has_hi = b.scalar(2) != 0;
    const T lo = T(b.scalar(1)), hi = T(b.scalar(3));
    const T* x = b.input(0).data();
    const T* g = b.grad_out().data();
    detail::accumulate_elementwise(b, 0, [&](std::size_t k) {
      const bool pass = (!has_lo || x[k] >= lo) && (!has_hi || x[k] <= hi);
      return pass ? g[k] : T(0);
    });
  });
}

namespace {
// maximum (larger = true) and minimum: NaN wins; at a tie each input gets half the gradient.
template <class T, bool larger>
Var<T> extremum(const char* name, const Var<T>& a, const Var<T>& b) {
  Op<T> op(name, {a, b});
  const Shape out = broadcast_shapes(name, op.input(0).shape(), op.input(1).shape());
  const T* ap = detail::broadcast_input(op, 0, out, 0);
  const T* bp = detail::broadcast_input(op, 1, out, 1);
  Array<T>& y = op.output(out);
  T* yp = y.data();
  for (std::size_t k = 0; k < y.size(); ++k) {
    const T u = ap[k], v = bp[k];
    yp[k] = ((larger ? u > v : u < v) || u != u) ? u : v;
  }
  return op.finish([](Backward<T>& b) {
    const T* u = detail::broadcast_input(b, 0, 0);
    const T* v = detail::broadcast_input(b, 1, 1);
    const T* g = b.grad_out().data();
    // Input 0 loses where the other wins, input 1 where input 0 wins.
    detail::accumulate_elementwise(b, 0, [&](std::size_t k) {
      return (larger ? u[k] < v[k] : u[k] > v[k]) ? T(0) : (u[k] == v[k] ? g[k] / T(2) : g[k]);
    });
    detail::accumulate_elementwise(b, 1, [&](std::size_t k) {
      return (larger ? u[k] > v[k] : u[k] < v[k]) ? T(0) : (u[k] == v[k] ? g[k] / T(2) : g[k]);
    });
  });
}
}  // namespace

template <class T>
Var<T> maximum(const Var<T>& a, const Var<T>& b) {
  return extremum<T, true>("maximum", a, b);
}

template <class T>
Var<T> minimum(const Var<T>& a, const Var<T>& b) {
  return extremum<T, false>("minimum", a, b);
}

template <class T>
Var<T> log1p(const Var<T>& x) {
  Op<T> op("log1p", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::log1p(op.input(0));
  return op.finish([](Backward<T>& b) { b.accumulate(0, b.grad_out() / (T(1) + b.input(0))); });
}

template <class T>
Var<T> sin(const Var<T>& x) {
  Op<T> op("sin", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::sin(op.input(0));
  return op.finish([](Backward<T>& b) { b.accumulate(0, b.grad_out() * xt::cos(b.input(0))); });
}

template <class T>
Var<T> cos(const Var<T>& x) {
  Op<T> op("cos", {x});
  Array<T>& y = op.output(x.shape());
  xt::noalias(y) = xt::cos(op.input(0));
  return op.finish([](Backward<T>& b) { b.accumulate(0, -b.grad_out() * xt::sin(b.input(0))); });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> pow(const Var<T>&, double); \
  template Var<T> pow(const Var<T>&, const Var<T>&); \
  template Var<T> sqrt(const Var<T>&); \
  template Var<T> rsqrt(const Var<T>&); \
  template Var<T> abs(const Var<T>&); \
  template Var<T> square(const Var<T>&); \
  template Var<T> clamp(const Var<T>&, std::optional<double>, std::optional<double>); \
  template Var<T> maximum(const Var<T>&, const Var<T>&); \
  template Var<T> minimum(const Var<T>&, const Var<T>&); \
  template Var<T> log1p(const Var<T>&); \
  template Var<T> sin(const Var<T>&); \
  template Var<T> cos(const Var<T>&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- activations -----------------------------------------------------------------------------------

template <class T>
Var<T> leaky_relu(const Var<T>& x, double negative_slope) {
  Op<T> op("leaky_relu", {x});
  Array<T>& y = op.output(x.shape());
  const T s = T(negative_slope);
  map(op.input(0), y, [s](T v) { return v > T(0) ? v : v * s; });
  op.save_scalar(0, negative_slope);
  return op.finish([](Backward<T>& b) {
    const T s = T(b.scalar(0));
    const T* x = b.input(0).data();
    const T* g = b.grad_out().data();
    detail::accumulate_elementwise(b, 0, [&](std::size_t k) { return x[k] > T(0) ? g[k] : g[k] * s; });
  });
}

template <class T>
Var<T> elu(const Var<T>& x, double alpha) {
  Op<T> op("elu", {x});
  Array<T>& y = op.output(x.shape());
  const Array<T>& xv = op.input(0);
  xt::noalias(y) = xt::where(xv > T(0), xv, T(alpha) * xt::expm1(xv));
  op.save_scalar(0, alpha);
  return op.finish([](Backward<T>& b) {
    const Array<T>& x = b.input(0);
    // d/dx alpha (e^x - 1) = alpha e^x (not y + alpha, which cancels catastrophically for x << 0).
    b.accumulate(0, xt::where(x > T(0), b.grad_out(), b.grad_out() * T(b.scalar(0)) * xt::exp(x)));
  });
}

namespace {
constexpr double kSqrt1_2 = 0.70710678118654752440;         // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;      // 1/√(2π)
constexpr double kSqrt2OverPi = 0.79788456080286535588;     // √(2/π)
constexpr double kGeluKappa = 0.044715;
}  // namespace

// scalar(0): 1 for the tanh approximation.
template <class T>
Var<T> gelu(const Var<T>& x, const std::string& approximate) {
  Op<T> op("gelu", {x});
  TG_CHECK(ValueError, approximate == "none" || approximate == "tanh",
           "gelu: approximate must be \"none\" or \"tanh\", got \"", approximate, "\"");
  Array<T>& y = op.output(op.input(0).shape());
  const Array<T>& xv = op.input(0);
  const bool tanh_form = approximate == "tanh";
  if (tanh_form) {
    xt::noalias(y) = T(0.5) * xv * (T(1) + xt::tanh(T(kSqrt2OverPi) * (xv + T(kGeluKappa) * xv * xv * xv)));
  } else {
    xt::noalias(y) = T(0.5) * xv * (T(1) + xt::erf(xv * T(kSqrt1_2)));
  }
  op.save_scalar(0, tanh_form);
  return op.finish([](Backward<T>& b) {
    const Array<T>& x = b.input(0);
    const Array<T>& g = b.grad_out();
    if (b.scalar(0) != 0) {
      // d/dx 0.5 x (1 + tanh u) = 0.5 (1 + tanh u) + 0.5 x (1 − tanh² u) u', u' = √(2/π)(1 + 3κx²).
      Array<T>& th = b.scratch(x.shape());
      xt::noalias(th) = xt::tanh(T(kSqrt2OverPi) * (x + T(kGeluKappa) * x * x * x));
      b.accumulate(0, g * (T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * T(kSqrt2OverPi) *
                                                      (T(1) + T(3 * kGeluKappa) * x * x)));
    } else {
      // d/dx x Φ(x) = Φ(x) + x φ(x).
      b.accumulate(0, g * (T(0.5) * (T(1) + xt::erf(x * T(kSqrt1_2))) +
                           x * T(kInvSqrt2Pi) * xt::exp(T(-0.5) * x * x)));
    }
  });
}

template <class T>
Var<T> silu(const Var<T>& x) {
  Op<T> op("silu", {x});
  Array<T>& y = op.output(x.shape());
  const Array<T>& xv = op.input(0);
  xt::noalias(y) = xv / (T(1) + xt::exp(-xv));
  return op.finish([](Backward<T>& b) {
    const Array<T>& x = b.input(0);
    Array<T>& s = b.scratch(x.shape());
    xt::noalias(s) = T(1) / (T(1) + xt::exp(-x));
    b.accumulate(0, b.grad_out() * s * (T(1) + x * (T(1) - s)));
  });
}

// scalar(0) = beta, scalar(1) = threshold.
template <class T>
Var<T> softplus(const Var<T>& x, double beta, double threshold) {
  Op<T> op("softplus", {x});
  Array<T>& y = op.output(x.shape());
  const Array<T>& xv = op.input(0);
  const T bt = T(beta), th = T(threshold);
  xt::noalias(y) = xt::where(xv * bt > th, xv, xt::log1p(xt::exp(xv * bt)) / bt);
  op.save_scalar(0, beta);
  op.save_scalar(1, threshold);
  return op.finish([](Backward<T>& b) {
    const T bt = T(b.scalar(0)), th = T(b.scalar(1));
    const Array<T>& x = b.input(0);
    const Array<T>& g = b.grad_out();
    // d/dx log(1 + e^{βx}) / β = σ(βx) = z / (z + 1) with z = e^{βx}.
    b.accumulate(0, xt::where(x * bt > th, g, g / (T(1) + xt::exp(-x * bt))));
  });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> leaky_relu(const Var<T>&, double); \
  template Var<T> elu(const Var<T>&, double); \
  template Var<T> gelu(const Var<T>&, const std::string&); \
  template Var<T> silu(const Var<T>&); \
  template Var<T> softplus(const Var<T>&, double, double);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
