// Elementwise functions and activations: each computes its value and records one rule.
#include "tapegrad/pointwise.hpp"

#include <cmath>

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

}  // namespace tapegrad
