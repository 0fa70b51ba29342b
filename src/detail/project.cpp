#include "detail/project.hpp"

#include <algorithm>

#include "instantiate.hpp"
#include "tapegrad/kernels.hpp"

namespace tapegrad::detail {

namespace {

// Scalars: 0 out_in, 1 r0, 2 n, 3 in, 4 has bias, 5 relu.
template <class T>
void project_backward(Backward<T>& b) {
  const bool out_in = b.scalar(0) != 0, has_bias = b.scalar(4) != 0, relu = b.scalar(5) != 0;
  const std::size_t r0 = std::size_t(b.scalar(1)), n = std::size_t(b.scalar(2)), in = std::size_t(b.scalar(3));
  const Array<T>& x = b.input(0);
  const Array<T>& w = b.input(1);
  const std::size_t rows = x.size() / in;
  const T* g = b.grad_out().data();
  if (relu) {  // through the relu: the output is positive exactly where it passed
    Array<T>& gr = b.scratch(b.grad_out().shape());
    const T* y = b.output().data();
    T* d = gr.data();
    for (std::size_t i = 0, m = gr.size(); i < m; ++i) {
      const T yi = y[i], gi = g[i];
      d[i] = yi > T(0) ? gi : T(0);
    }
    g = gr.data();
  }
  const std::size_t wcols = w.shape()[1];  // in (out_in) or n
  if (b.needs_grad(0)) {  // dx = g · W_block (out_in) or g · Wᵀ
    auto t = b.grad_target(0);
    if (out_in) {
      kernels::gemm(false, false, rows, in, n, T(1), g, n, w.data() + r0 * wcols, wcols, T(t.add), t.grad.data(), in);
    } else {
      kernels::gemm(false, true, rows, in, n, T(1), g, n, w.data(), wcols, T(t.add), t.grad.data(), in);
    }
  }
  if (b.needs_grad(1)) {  // dW_block = gᵀ x (out_in) or xᵀ g
    auto t = b.grad_target(1);
    const bool whole = !out_in || n == w.shape()[0];
    if (!t.add && !whole) t.grad.fill(T(0));
    const T beta = T(t.add || !whole);
    if (out_in) {
      kernels::gemm(true, false, n, in, rows, T(1), g, n, x.data(), in, beta, t.grad.data() + r0 * wcols, wcols);
    } else {
      kernels::gemm(true, false, in, n, rows, T(1), x.data(), in, g, n, beta, t.grad.data(), wcols);
    }
  }
  if (has_bias && b.needs_grad(2)) {
    auto t = b.grad_target(2);
    const bool whole = t.grad.size() == n;
    if (!t.add && !whole) t.grad.fill(T(0));
    kernels::column_sums(g, rows, n, t.grad.data() + r0, t.add || !whole);
  }
}

}  // namespace

template <class T>
Var<T> project(const char* name, const Var<T>& x, const Var<T>& w, const Var<T>& b, bool out_in, std::size_t r0,
               std::size_t n, bool relu) {
  Op<T> op = b.defined() ? Op<T>(name, {x, w, b}) : Op<T>(name, {x, w});
  const Array<T>& xv = op.input(0);
  const Array<T>& wv = op.input(1);
  TG_CHECK(ShapeError, xv.dimension() >= 1 && wv.dimension() == 2, name, ": input ", to_string(xv.shape()),
           " and weight ", to_string(wv.shape()), " do not fit");
  const std::size_t in = xv.shape().back();
  const std::size_t want = out_in ? wv.shape()[1] : wv.shape()[0];
  TG_CHECK(ShapeError, in == want, name, ": input ", to_string(xv.shape()), " has ", in, " features, the weight ",
           to_string(wv.shape()), " takes ", want);
  TG_ASSERT(out_in ? r0 + n <= wv.shape()[0] : (r0 == 0 && n == wv.shape()[1]), name, ": bad weight block");
  const std::size_t rows = xv.size() / std::max<std::size_t>(in, 1);
  Shape shape = xv.shape();
  shape.back() = n;
  Array<T>& y = op.output(shape);
  if (b.defined()) {
    const T* bias = op.input(2).data() + r0;
    for (std::size_t i = 0; i < rows; ++i) std::copy(bias, bias + n, y.data() + i * n);
  }
  const std::size_t wcols = wv.shape()[1];
  if (out_in) {
    kernels::gemm(false, true, rows, n, in, T(1), xv.data(), in, wv.data() + r0 * wcols, wcols, T(b.defined()),
                  y.data(), n);
  } else {
    kernels::gemm(false, false, rows, n, in, T(1), xv.data(), in, wv.data(), wcols, T(b.defined()), y.data(), n);
  }
  if (relu) {
    T* p = y.data();
    for (std::size_t i = 0, m = y.size(); i < m; ++i) p[i] = p[i] > T(0) ? p[i] : T(0);
  }
  const double s[] = {double(out_in), double(r0), double(n), double(in), double(b.defined()), double(relu)};
  for (std::size_t i = 0; i < 6; ++i) op.save_scalar(i, s[i]);
  return op.finish(project_backward<T>);
}

#define TAPEGRAD_SECTION(T)                                                                                    \
  template Var<T> project(const char*, const Var<T>&, const Var<T>&, const Var<T>&, bool, std::size_t, std::size_t, \
                          bool);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::detail
