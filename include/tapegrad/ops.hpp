#pragma once
/// Layer 3: the differentiable ops. Each is one function in src/ops.cpp that computes its value
/// and records one backward rule; each is gradchecked in tests/test_ops.cpp.
///
///     auto z = tapegrad::linear(x, W, b);           // x·W + b, weights (in, out)
///     auto loss = tapegrad::mean(tapegrad::relu(z));   // losses: tapegrad/losses.hpp
///
/// Shapes follow NumPy: binary ops broadcast; reductions return 0-d values. Every shape error
/// is a ShapeError naming the op and the shapes. Defined for float and double.
#include <cstddef>
#include <type_traits>

#include "tapegrad/tape.hpp"

namespace tapegrad {

namespace detail {
template <class T>
struct identity {
  using type = T;
};
/// A scalar argument that does not take part in deducing T (so `x * 2.0` works for float x).
template <class T>
using scalar_t = typename identity<T>::type;
}  // namespace detail

// -- linear algebra --------------------------------------------------------------------------

/// Matrix product of 2-D values: (m, k) @ (k, n) -> (m, n).
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b);
/// The fused affine layer x·W + b: x (m, in), W (in, out), b (out,) or (1, out). One GEMM, and a
/// backward of two GEMMs with transpose flags and one pass for the bias.
template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b);
/// x·W without bias.
template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w);

// -- elementwise, with NumPy broadcasting ------------------------------------------------------

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b);
template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b);
template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b);
/// a / b. Division by zero follows IEEE (inf/nan); anomaly mode reports it.
template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b);

/// alpha * x + beta: the one primitive behind neg and arithmetic with scalars.
template <class T>
Var<T> affine(const Var<T>& x, detail::scalar_t<T> alpha, detail::scalar_t<T> beta);
template <class T>
Var<T> neg(const Var<T>& x) {
  return affine(x, T(-1), T(0));
}

// -- operators ---------------------------------------------------------------------------------

template <class T>
Var<T> operator+(const Var<T>& a, const Var<T>& b) {
  return add(a, b);
}
template <class T>
Var<T> operator-(const Var<T>& a, const Var<T>& b) {
  return sub(a, b);
}
template <class T>
Var<T> operator*(const Var<T>& a, const Var<T>& b) {
  return mul(a, b);
}
template <class T>
Var<T> operator/(const Var<T>& a, const Var<T>& b) {
  return div(a, b);
}
template <class T>
Var<T> operator-(const Var<T>& x) {
  return neg(x);
}
template <class T>
Var<T> operator+(const Var<T>& x, detail::scalar_t<T> s) {
  return affine(x, T(1), s);
}
template <class T>
Var<T> operator+(detail::scalar_t<T> s, const Var<T>& x) {
  return affine(x, T(1), s);
}
template <class T>
Var<T> operator-(const Var<T>& x, detail::scalar_t<T> s) {
  return affine(x, T(1), -s);
}
template <class T>
Var<T> operator-(detail::scalar_t<T> s, const Var<T>& x) {
  return affine(x, T(-1), s);
}
template <class T>
Var<T> operator*(const Var<T>& x, detail::scalar_t<T> s) {
  return affine(x, s, T(0));
}
template <class T>
Var<T> operator*(detail::scalar_t<T> s, const Var<T>& x) {
  return affine(x, s, T(0));
}
/// x / s; throws ValueError for s == 0.
template <class T>
Var<T> operator/(const Var<T>& x, detail::scalar_t<T> s) {
  TG_CHECK(ValueError, s != T(0), "div: division of a value of shape ", to_string(x.shape()), " by the scalar 0");
  return affine(x, T(1) / s, T(0));
}
/// s / x, through a 0-d constant and broadcasting div.
template <class T>
Var<T> operator/(detail::scalar_t<T> s, const Var<T>& x) {
  Tape<T>* tape = x.tape();
  TG_CHECK(StateError, tape != nullptr, "div: the divisor is a parameter not bound to a tape; use tape.bind(p)");
  return div(tape->constant(Array<T>(s)), x);
}

}  // namespace tapegrad
