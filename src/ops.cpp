// Every built-in op: its forward value and its backward rule, one after the other.
// Rules capture nothing; what they need beyond inputs and output they save through Op.
#include "tapegrad/ops.hpp"

#include <algorithm>
#include <cmath>

#include "detail/matmul_nd.hpp"
#include "instantiate.hpp"
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
}

}  // namespace

// ---- matmul, linear ---------------------------------------------------------------------------

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  Op<T> op("matmul", {a, b});
  const Array<T>& av = op.input(0);
  const Array<T>& bv = op.input(1);
  if (av.dimension() != 2 || bv.dimension() != 2) return detail::matmul_nd(op);  // torch.matmul's other cases
  TG_CHECK(ShapeError, av.shape()[1] == bv.shape()[0], "matmul: ", to_string(av.shape()), " @ ",
           to_string(bv.shape()), " — inner dimensions differ (", av.shape()[1], " vs ", bv.shape()[0], ")");
  Array<T>& y = op.output({av.shape()[0], bv.shape()[1]});
  kernels::gemm(false, false, T(1), av, bv, T(0), y);
  return op.finish([](Backward<T>& b) {
    if (b.needs_grad(0)) {  // dA = G · Bᵀ
      auto t = b.grad_target(0);
      kernels::gemm(false, true, T(1), b.grad_out(), b.input(1), T(t.add), t.grad);
    }
    if (b.needs_grad(1)) {  // dB = Aᵀ · G
      auto t = b.grad_target(1);
      kernels::gemm(true, false, T(1), b.input(0), b.grad_out(), T(t.add), t.grad);
    }
  });
}

template <class T>
Var<T> bmm(const Var<T>& a, const Var<T>& b) {
  Op<T> op("bmm", {a, b});
  const Shape& as = op.input(0).shape();
  const Shape& bs = op.input(1).shape();
  TG_CHECK(ShapeError, as.size() == 3 && bs.size() == 3, "bmm: ", to_string(as), " @ ", to_string(bs),
           " — both operands must be 3-D");
  TG_CHECK(ShapeError, as[0] == bs[0], "bmm: ", to_string(as), " @ ", to_string(bs), " — batch sizes differ (",
           as[0], " vs ", bs[0], ")");
  return detail::matmul_nd(op);
}

namespace {
template <class T>
void check_linear(const Array<T>& x, const Array<T>& w, const Array<T>* b) {
  TG_CHECK(ShapeError, x.dimension() >= 1 && w.dimension() == 2, "linear: input ", to_string(x.shape()),
           " needs at least 1 dim and weight ", to_string(w.shape()), " exactly 2");
  TG_CHECK(ShapeError, x.shape().back() == w.shape()[0], "linear: input ", to_string(x.shape()), " · weight ",
           to_string(w.shape()), " — input features (", x.shape().back(), ") differ from the weight's rows (",
           w.shape()[0], "); weights are (in, out)");
  if (b) {
    const std::size_t out = w.shape()[1];
    const bool ok = (b->dimension() == 1 && b->shape()[0] == out) ||
                    (b->dimension() == 2 && b->shape()[0] == 1 && b->shape()[1] == out);
    TG_CHECK(ShapeError, ok, "linear: bias ", to_string(b->shape()), " does not fit weight ", to_string(w.shape()),
             "; expected (", out, ",) or (1, ", out, ")");
  }
}

// x (..., in) · W (in, out) -> (..., out): x's leading dims are the rows of one GEMM, viewed in
// place (detail::MatrixView; a 2-D x is used as it is).
template <class T>
Shape linear_shape(const Array<T>& x, std::size_t out) {
  Shape s = x.shape();
  s.back() = out;
  return s;
}

template <class T>
void linear_backward(Backward<T>& b) {
  const std::size_t m = detail::leading(b.input(0).shape()), in = b.input(1).shape()[0], n = b.input(1).shape()[1];
  const detail::MatrixView<T> go(b.grad_out(), m, n);
  if (b.needs_grad(0)) {  // dx = G · Wᵀ
    auto t = b.grad_target(0);
    kernels::gemm(false, true, T(1), *go, b.input(1), T(t.add), *detail::MatrixView<T>(t.grad, m, in));
  }
  if (b.needs_grad(1)) {  // dW = xᵀ · G, with the transpose flag instead of a copy
    auto t = b.grad_target(1);
    kernels::gemm(true, false, T(1), *detail::MatrixView<T>(b.input(0), m, in), *go, T(t.add), t.grad);
  }
  if (b.n_inputs() > 2 && b.needs_grad(2)) {  // db = column sums of G, one pass
    auto t = b.grad_target(2);
    kernels::column_sums(b.grad_out().data(), m, n, t.grad.data(), t.add);
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
  const std::size_t m = detail::leading(xv.shape()), n = wv.shape()[1];
  Array<T>& y = op.output(linear_shape(xv, n));
  for (std::size_t i = 0; i < m; ++i) std::copy(bv.data(), bv.data() + n, y.data() + i * n);
  kernels::gemm(false, false, T(1), *detail::MatrixView<T>(xv, m, wv.shape()[0]), wv, T(1),
                *detail::MatrixView<T>(y, m, n));
  return op.finish(linear_backward<T>);
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w) {
  Op<T> op("linear", {x, w});
  const Array<T>& xv = op.input(0);
  const Array<T>& wv = op.input(1);
  check_linear<T>(xv, wv, nullptr);
  const std::size_t m = detail::leading(xv.shape()), n = wv.shape()[1];
  Array<T>& y = op.output(linear_shape(xv, n));
  kernels::gemm(false, false, T(1), *detail::MatrixView<T>(xv, m, wv.shape()[0]), wv, T(0),
                *detail::MatrixView<T>(y, m, n));
  return op.finish(linear_backward<T>);
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> matmul(const Var<T>&, const Var<T>&); \
  template Var<T> bmm(const Var<T>&, const Var<T>&); \
  template Var<T> linear(const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> linear(const Var<T>&, const Var<T>&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- broadcasting arithmetic --------------------------------------------------------------------

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  Op<T> op("add", {a, b});
  Array<T>& y = op.output(broadcast_shapes("add", a.shape(), b.shape()));
  xt::noalias(y) = a.value() + b.value();
  return op.finish([](Backward<T>& b) {
    accumulate_unbroadcast(b, 0, b.grad_out());
    accumulate_unbroadcast(b, 1, b.grad_out());
  });
}

template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  Op<T> op("sub", {a, b});
  Array<T>& y = op.output(broadcast_shapes("sub", a.shape(), b.shape()));
  xt::noalias(y) = a.value() - b.value();
  return op.finish([](Backward<T>& b) {
    accumulate_unbroadcast(b, 0, b.grad_out());
    if (b.needs_grad(1)) {
      Array<T>& s = b.scratch(b.grad_out().shape());
      xt::noalias(s) = -b.grad_out();
      accumulate_unbroadcast(b, 1, s);
    }
  });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  Op<T> op("mul", {a, b});
  Array<T>& y = op.output(broadcast_shapes("mul", a.shape(), b.shape()));
  xt::noalias(y) = a.value() * b.value();
  return op.finish([](Backward<T>& b) {
    for (std::size_t i = 0; i < 2; ++i) {
      if (!b.needs_grad(i)) continue;
      Array<T>& s = b.scratch(b.grad_out().shape());
      xt::noalias(s) = b.grad_out() * b.input(1 - i);
      accumulate_unbroadcast(b, i, s);
    }
  });
}

template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b) {
  Op<T> op("div", {a, b});
  Array<T>& y = op.output(broadcast_shapes("div", a.shape(), b.shape()));
  xt::noalias(y) = a.value() / b.value();
  return op.finish([](Backward<T>& b) {
    if (b.needs_grad(0)) {  // d(a/b)/da = 1/b
      Array<T>& s = b.scratch(b.grad_out().shape());
      xt::noalias(s) = b.grad_out() / b.input(1);
      accumulate_unbroadcast(b, 0, s);
    }
    if (b.needs_grad(1)) {  // d(a/b)/db = -(a/b)/b
      Array<T>& s = b.scratch(b.grad_out().shape());
      xt::noalias(s) = -b.grad_out() * b.output() / b.input(1);
      accumulate_unbroadcast(b, 1, s);
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
  return op.finish([](Backward<T>& b) { b.accumulate(0, T(b.scalar(0)) * b.grad_out()); });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> add(const Var<T>&, const Var<T>&); \
  template Var<T> sub(const Var<T>&, const Var<T>&); \
  template Var<T> mul(const Var<T>&, const Var<T>&); \
  template Var<T> div(const Var<T>&, const Var<T>&); \
  template Var<T> affine(const Var<T>&, detail::scalar_t<T>, detail::scalar_t<T>);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
