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

/// The matrix product with `torch.matmul`'s rules: (m, k) @ (k, n) -> (m, n), one GEMM with
/// transpose flags in backward; a 1-D a is a row and a 1-D b a column whose extent of 1 the result
/// drops ((k,) @ (k,) is a 0-d dot product); N-d operands are stacks of matrices whose batch dims
/// (all but the last two) broadcast. When b is 1-D or 2-D, a's batch dims fold into the rows of
/// one GEMM without a copy; otherwise each batch is one GEMM on copies of its slices.
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b);
/// Batched product of 3-D values with equal batch sizes: (B, m, k) @ (B, k, n) -> (B, m, n), no
/// broadcasting. `torch.bmm`.
template <class T>
Var<T> bmm(const Var<T>& a, const Var<T>& b);
/// The fused affine layer x·W + b: x (..., in), W (in, out), b (out,) or (1, out) -> (..., out).
/// One GEMM (x's leading dims are its rows, without a copy), and a backward of two GEMMs with
/// transpose flags and one pass for the bias. Unlike `torch.nn.functional.linear`, W is (in, out),
/// as in the tutorial (so this is x·W, not x·Wᵀ).
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
