// layer_norm and batch_norm: each one fused op, with one backward rule.
#include "tapegrad/normalization.hpp"

#include <algorithm>
#include <cmath>

#include "instantiate.hpp"

namespace tapegrad {

namespace {

// The inputs of a normalisation op: x, then weight and bias when given. The op's scalars 0 and
// 1 say whether weight and bias are present; bias is input 1 + has_weight.
template <class T>
struct Affine {
  const T* weight = nullptr;
  const T* bias = nullptr;
};

template <class T>
Affine<T> affine_of(const Op<T>& op, bool has_weight, bool has_bias) {
  Affine<T> a;
  if (has_weight) a.weight = op.input(1).data();
  if (has_bias) a.bias = op.input(1 + has_weight).data();
  return a;
}

// Records the op with the inputs present (an initializer list: building a vector of inputs
// would allocate on every step).
template <class T, class F>
Var<T> with_inputs(const char* name, const Var<T>& x, const Var<T>& w, const Var<T>& b, F body) {
  if (w.defined() && b.defined()) {
    Op<T> op(name, {x, w, b});
    return body(op);
  }
  if (w.defined()) {
    Op<T> op(name, {x, w});
    return body(op);
  }
  if (b.defined()) {
    Op<T> op(name, {x, b});
    return body(op);
  }
  Op<T> op(name, {x});
  return body(op);
}

}  // namespace

// ---- layer_norm ------------------------------------------------------------------------------

template <class T>
Var<T> layer_norm(const Var<T>& x, const Shape& normalized_shape, const Var<T>& weight, const Var<T>& bias,
                  double eps) {
  return with_inputs<T>("layer_norm", x, weight, bias, [&](Op<T>& op) {
    const Shape& xs = op.input(0).shape();
    const std::size_t d = normalized_shape.size();
    bool fits = d > 0 && d <= xs.size();
    for (std::size_t k = 0; fits && k < d; ++k) fits = xs[xs.size() - d + k] == normalized_shape[k];
    TG_CHECK(ShapeError, fits, "layer_norm: normalized_shape ", to_string(normalized_shape),
             " is not the end of the input's shape ", to_string(xs));
    const bool has_w = weight.defined(), has_b = bias.defined();
    if (has_w) {
      TG_CHECK(ShapeError, same_shape(op.input(1).shape(), normalized_shape), "layer_norm: weight ",
               to_string(op.input(1).shape()), " does not have the normalized_shape ", to_string(normalized_shape));
    }
    if (has_b) {
      TG_CHECK(ShapeError, same_shape(op.input(1 + has_w).shape(), normalized_shape), "layer_norm: bias ",
               to_string(op.input(1 + has_w).shape()), " does not have the normalized_shape ",
               to_string(normalized_shape));
    }
    TG_CHECK(ValueError, eps >= 0, "layer_norm: eps must be >= 0, got ", eps);
    const Array<T>& xv = op.input(0);
    const std::size_t K = numel(normalized_shape);
    const std::size_t M = xv.size() / K;
    const Affine<T> aff = affine_of(op, has_w, has_b);
    Array<T>& y = op.output(xs);
    T* mean = op.save(0, {M}).data();
    T* rstd = op.save(1, {M}).data();
    for (std::size_t m = 0; m < M; ++m) {
      const T* xm = xv.data() + m * K;
      T* ym = y.data() + m * K;
      double s = 0;  // two passes in double: the mean, then the variance about it
      for (std::size_t k = 0; k < K; ++k) s += double(xm[k]);
      const double mu = s / double(K);
      double v = 0;
      for (std::size_t k = 0; k < K; ++k) v += (double(xm[k]) - mu) * (double(xm[k]) - mu);
      const double r = 1.0 / std::sqrt(v / double(K) + eps);
      mean[m] = T(mu);
      rstd[m] = T(r);
      for (std::size_t k = 0; k < K; ++k) {
        const T h = T((double(xm[k]) - mu) * r);
        ym[k] = (aff.weight ? h * aff.weight[k] : h) + (aff.bias ? aff.bias[k] : T(0));
      }
    }
    op.save_scalar(0, has_w);
    op.save_scalar(1, has_b);
    return op.finish([](Backward<T>& b) {
      const bool has_w = b.scalar(0) != 0, has_b = b.scalar(1) != 0;
      const std::size_t M = b.saved(0).size();
      const Array<T>& xv = b.input(0);
      const std::size_t K = xv.size() / std::max<std::size_t>(M, 1);
      const T* mean = b.saved(0).data();
      const T* rstd = b.saved(1).data();
      const T* w = has_w ? b.input(1).data() : nullptr;
      const T* g = b.grad_out().data();
      T* dw = nullptr;
      T* db = nullptr;
      if (has_w && b.needs_grad(1)) {
        auto t = b.grad_target(1);
        dw = t.grad.data();
        if (!t.add) std::fill(dw, dw + K, T(0));
      }
      if (has_b && b.needs_grad(1 + has_w)) {
        auto t = b.grad_target(1 + has_w);
        db = t.grad.data();
        if (!t.add) std::fill(db, db + K, T(0));
      }
      T* dx = nullptr;
      bool add = false;
      if (b.needs_grad(0)) {
        auto t = b.grad_target(0);
        dx = t.grad.data();
        add = t.add;
      }
      for (std::size_t m = 0; m < M; ++m) {
        const T* xm = xv.data() + m * K;
        const T* gm = g + m * K;
        const T mu = mean[m], r = rstd[m];
        T mean_dy = 0, mean_dy_xhat = 0;
        for (std::size_t k = 0; k < K; ++k) {
          const T xhat = (xm[k] - mu) * r;
          const T dy = w ? gm[k] * w[k] : gm[k];
          mean_dy += dy;
          mean_dy_xhat += dy * xhat;
          if (dw) dw[k] += gm[k] * xhat;
          if (db) db[k] += gm[k];
        }
        if (!dx) continue;
        mean_dy /= T(K);
        mean_dy_xhat /= T(K);
        T* dxm = dx + m * K;
        for (std::size_t k = 0; k < K; ++k) {
          const T xhat = (xm[k] - mu) * r;
          const T dy = w ? gm[k] * w[k] : gm[k];
          const T v = r * (dy - mean_dy - xhat * mean_dy_xhat);
          dxm[k] = add ? dxm[k] + v : v;
        }
      }
    });
  });
}

// ---- batch_norm ------------------------------------------------------------------------------

template <class T>
Var<T> batch_norm(const Var<T>& x, Parameter<T> running_mean, Parameter<T> running_var, const Var<T>& weight,
                  const Var<T>& bias, bool training, double momentum, double eps) {
  return with_inputs<T>("batch_norm", x, weight, bias, [&](Op<T>& op) {
    const Shape& xs = op.input(0).shape();
    TG_CHECK(ShapeError, xs.size() >= 2, "batch_norm: input must be (N, C, ...) with at least 2 dimensions, got ",
             to_string(xs));
    const std::size_t N = xs[0], C = xs[1];
    const std::size_t S = numel(xs) / std::max<std::size_t>(N * C, 1);
    const Shape channels(1, C);  // not {C}: g++ 12 warns falsely about a braced svector
    const bool has_w = weight.defined(), has_b = bias.defined();
    const bool has_rm = running_mean.defined(), has_rv = running_var.defined();
    // Every check before anything is written: a failing call changes no running statistic.
    const auto check_channels = [&](const char* what, const Shape& s) {
      TG_CHECK(ShapeError, s.size() == 1 && s[0] == C, "batch_norm: ", what, " ", to_string(s), " does not fit input ",
               to_string(xs), "; expected ", to_string(channels));
    };
    if (has_rm) check_channels("running_mean", running_mean.shape());
    if (has_rv) check_channels("running_var", running_var.shape());
    if (has_w) check_channels("weight", op.input(1).shape());
    if (has_b) check_channels("bias", op.input(1 + has_w).shape());
    TG_CHECK(ValueError, has_rm == has_rv, "batch_norm: running_mean and running_var must be given together");
    TG_CHECK(ValueError, training || has_rm,
             "batch_norm: evaluation (training = false) needs running_mean and running_var");
    TG_CHECK(ValueError, !training || N * S > 1, "batch_norm: expected more than 1 value per channel when training, got input ",
             to_string(xs));
    TG_CHECK(ValueError, eps >= 0, "batch_norm: eps must be >= 0, got ", eps);
    TG_CHECK(ValueError, momentum >= 0 && momentum <= 1, "batch_norm: momentum must be in [0, 1], got ", momentum);

    const Array<T>& xv = op.input(0);
    const Affine<T> aff = affine_of(op, has_w, has_b);
    Array<T>& y = op.output(xs);
    T* mean = op.save(0, channels).data();
    T* rstd = op.save(1, channels).data();
    const double n = double(N * S);
    T* rm = has_rm && training ? running_mean.mutable_value().data() : nullptr;
    T* rv = has_rv && training ? running_var.mutable_value().data() : nullptr;
    const T* rm_read = has_rm ? running_mean.value().data() : nullptr;
    const T* rv_read = has_rv ? running_var.value().data() : nullptr;
    for (std::size_t c = 0; c < C; ++c) {
      double mu, var;
      if (training) {
        double s = 0;
        for (std::size_t i = 0; i < N; ++i) {
          const T* xc = xv.data() + (i * C + c) * S;
          for (std::size_t k = 0; k < S; ++k) s += double(xc[k]);
        }
        mu = s / n;
        double v = 0;
        for (std::size_t i = 0; i < N; ++i) {
          const T* xc = xv.data() + (i * C + c) * S;
          for (std::size_t k = 0; k < S; ++k) v += (double(xc[k]) - mu) * (double(xc[k]) - mu);
        }
        var = v / n;
        if (rm) {
          rm[c] = T((1 - momentum) * double(rm[c]) + momentum * mu);
          rv[c] = T((1 - momentum) * double(rv[c]) + momentum * (v / (n - 1)));
        }
      } else {
        mu = double(rm_read[c]);
        var = double(rv_read[c]);
      }
      const double r = 1.0 / std::sqrt(var + eps);
      mean[c] = T(mu);
      rstd[c] = T(r);
      const T wc = aff.weight ? aff.weight[c] : T(1), bc = aff.bias ? aff.bias[c] : T(0);
      for (std::size_t i = 0; i < N; ++i) {
        const T* xc = xv.data() + (i * C + c) * S;
        T* yc = y.data() + (i * C + c) * S;
        for (std::size_t k = 0; k < S; ++k) yc[k] = T((double(xc[k]) - mu) * r) * wc + bc;
      }
    }
    op.save_scalar(0, has_w);
    op.save_scalar(1, has_b);
    op.save_scalar(2, training);
    return op.finish([](Backward<T>& b) {
      const bool has_w = b.scalar(0) != 0, has_b = b.scalar(1) != 0, training = b.scalar(2) != 0;
      const Array<T>& xv = b.input(0);
      const std::size_t N = xv.shape()[0], C = xv.shape()[1];
      const std::size_t S = xv.size() / std::max<std::size_t>(N * C, 1);
      const T* mean = b.saved(0).data();
      const T* rstd = b.saved(1).data();
      const T* w = has_w ? b.input(1).data() : nullptr;
      const T* g = b.grad_out().data();
      T* dw = nullptr;
      bool add_w = false, add_b = false, add_x = false;
      T* db = nullptr;
      T* dx = nullptr;
      if (has_w && b.needs_grad(1)) {
        auto t = b.grad_target(1);
        dw = t.grad.data();
        add_w = t.add;
      }
      if (has_b && b.needs_grad(1 + has_w)) {
        auto t = b.grad_target(1 + has_w);
        db = t.grad.data();
        add_b = t.add;
      }
      if (b.needs_grad(0)) {
        auto t = b.grad_target(0);
        dx = t.grad.data();
        add_x = t.add;
      }
      const T n = T(N * S);
      for (std::size_t c = 0; c < C; ++c) {
        const T mu = mean[c], r = rstd[c], wc = w ? w[c] : T(1);
        T sum_g = 0, sum_g_xhat = 0;
        for (std::size_t i = 0; i < N; ++i) {
          const T* xc = xv.data() + (i * C + c) * S;
          const T* gc = g + (i * C + c) * S;
          for (std::size_t k = 0; k < S; ++k) {
            sum_g += gc[k];
            sum_g_xhat += gc[k] * (xc[k] - mu) * r;
          }
        }
        if (dw) dw[c] = add_w ? dw[c] + sum_g_xhat : sum_g_xhat;
        if (db) db[c] = add_b ? db[c] + sum_g : sum_g;
        if (!dx) continue;
        // dy = g·w: mean(dy) = w·Σg/n, mean(dy·x̂) = w·Σg·x̂/n.
        const T mean_dy = training ? wc * sum_g / n : T(0);
        const T mean_dy_xhat = training ? wc * sum_g_xhat / n : T(0);
        for (std::size_t i = 0; i < N; ++i) {
          const T* xc = xv.data() + (i * C + c) * S;
          const T* gc = g + (i * C + c) * S;
          T* dxc = dx + (i * C + c) * S;
          for (std::size_t k = 0; k < S; ++k) {
            const T xhat = (xc[k] - mu) * r;
            const T v = r * (gc[k] * wc - mean_dy - xhat * mean_dy_xhat);
            dxc[k] = add_x ? dxc[k] + v : v;
          }
        }
      }
    });
  });
}

#define TAPEGRAD_SECTION(T)                                                                               \
  template Var<T> layer_norm(const Var<T>&, const Shape&, const Var<T>&, const Var<T>&, double);         \
  template Var<T> batch_norm(const Var<T>&, Parameter<T>, Parameter<T>, const Var<T>&, const Var<T>&, bool, \
                             double, double);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
