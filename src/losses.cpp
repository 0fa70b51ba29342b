// Classification losses: log_softmax, softmax, softmax cross-entropy, class-weighted BCE.
// Each op computes its value and records one capture-free backward rule.
#include "tapegrad/losses.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "instantiate.hpp"

namespace tapegrad {

namespace {


// log_softmax (Log) or softmax of x along the split axis, into y. Subtracting the maximum
// keeps every exp in (0, 1], so logits of 1e4 stay finite.
template <class T, bool Log>
void softmax_forward(const T* x, T* y, const AxisSplit& s) {
  for (std::size_t o = 0; o < s.outer; ++o) {
    for (std::size_t i = 0; i < s.inner; ++i) {
      const std::size_t base = o * s.n * s.inner + i;
      T mx = -std::numeric_limits<T>::infinity();
      for (std::size_t k = 0; k < s.n; ++k) mx = std::max(mx, x[base + k * s.inner]);
      T total = 0;
      for (std::size_t k = 0; k < s.n; ++k) total += std::exp(x[base + k * s.inner] - mx);
      // (x − max) − log Σ, not x − (max + log Σ): the latter rounds log Σ to the precision of
      // the max (float logits of 1e4 lost 3 digits of log 2).
      const T log_total = std::log(total);
      for (std::size_t k = 0; k < s.n; ++k) {
        const std::size_t j = base + k * s.inner;
        y[j] = Log ? (x[j] - mx) - log_total : std::exp(x[j] - mx) / total;
      }
    }
  }
}

// log_softmax: dx = g − softmax · Σg;   softmax: dx = y · (g − Σ g·y).   scalar(0) is the axis.
template <class T, bool Log>
void softmax_backward(Backward<T>& b) {
  if (!b.needs_grad(0)) return;
  const AxisSplit s = split_axis(b.op(), b.input(0).shape(), int(b.scalar(0)));
  const T* y = b.output().data();
  const T* g = b.grad_out().data();
  auto t = b.grad_target(0);
  T* d = t.grad.data();
  for (std::size_t o = 0; o < s.outer; ++o) {
    for (std::size_t i = 0; i < s.inner; ++i) {
      const std::size_t base = o * s.n * s.inner + i;
      T dot = 0;
      for (std::size_t k = 0; k < s.n; ++k) {
        const std::size_t j = base + k * s.inner;
        dot += Log ? g[j] : g[j] * y[j];
      }
      for (std::size_t k = 0; k < s.n; ++k) {
        const std::size_t j = base + k * s.inner;
        const T v = Log ? g[j] - std::exp(y[j]) * dot : y[j] * (g[j] - dot);
        d[j] = t.add ? d[j] + v : v;
      }
    }
  }
}

template <class T, bool Log>
Var<T> softmax_op(const char* name, const Var<T>& x, int axis) {
  Op<T> op(name, {x});
  const AxisSplit s = split_axis(name, x.shape(), axis);
  Array<T>& y = op.output(x.shape());
  softmax_forward<T, Log>(x.value().data(), y.data(), s);
  op.save_scalar(0, double(s.axis));
  return op.finish(softmax_backward<T, Log>);
}

// Checks that there is one label per row and that each is a class index; `at(n)` gives label n.
template <class At>
void check_labels(std::size_t n_labels, std::size_t rows, std::size_t classes, At at) {
  TG_CHECK(ShapeError, n_labels == rows, "softmax_cross_entropy: ", n_labels, " labels for ", rows,
           " rows of logits");
  for (std::size_t n = 0; n < rows; ++n) {
    const double y = at(n);
    TG_CHECK(ValueError, std::floor(y) == y && y >= 0 && y < double(classes), "softmax_cross_entropy: label ", n,
             " is ", y, ", outside the class indices [0, ", classes, ")");
  }
}

// The fused loss over validated labels. saved(0) holds, per row, the label and the row's share
// of the loss (w_{y_n} / Σ w); saved(1) holds softmax(z), which is all the backward needs.
template <class T, class At>
Var<T> cross_entropy(const Var<T>& logits, std::size_t n_labels, At at, const CrossEntropyOptions& options) {
  Op<T> op("softmax_cross_entropy", {logits});
  const Array<T>& z = logits.value();
  TG_CHECK(ShapeError, z.dimension() == 2 && z.shape()[0] > 0 && z.shape()[1] > 0,
           "softmax_cross_entropy: logits must be 2-D (N, C) with N, C >= 1, got ", to_string(z.shape()));
  const std::size_t rows = z.shape()[0], classes = z.shape()[1];
  check_labels(n_labels, rows, classes, at);
  const std::vector<double>& w = options.class_weights();
  TG_CHECK(ValueError, w.empty() || w.size() == classes, "softmax_cross_entropy: ", w.size(),
           " class weights for ", classes, " classes");
  for (std::size_t c = 0; c < w.size(); ++c) {
    TG_CHECK(ValueError, std::isfinite(w[c]) && w[c] >= 0, "softmax_cross_entropy: class weight ", c, " is ", w[c],
             "; weights must be finite and >= 0");
  }
  double weight_sum = 0;
  for (std::size_t n = 0; n < rows; ++n) weight_sum += w.empty() ? 1.0 : w[std::size_t(at(n))];
  TG_CHECK(ValueError, weight_sum > 0, "softmax_cross_entropy: the class weights of all ", rows,
           " labels are 0, so the weighted mean is undefined");

  Array<T>& meta = op.save(0, {rows, 2});
  Array<T>& probs = op.save(1, {rows, classes});
  double total = 0;  // in double: the mean of many float terms
  for (std::size_t n = 0; n < rows; ++n) {
    // One pass per row: e = exp(z − max) into probs, then ℓ = max + log Σe − z_y and p = e / Σe.
    const T* zn = z.data() + n * classes;
    T* pn = probs.data() + n * classes;
    const std::size_t y = std::size_t(at(n));
    const T mx = *std::max_element(zn, zn + classes);
    T s = 0;
    for (std::size_t c = 0; c < classes; ++c) s += (pn[c] = std::exp(zn[c] - mx));
    const T inv = T(1) / s;
    for (std::size_t c = 0; c < classes; ++c) pn[c] *= inv;
    const double loss_n = double(mx - zn[y]) + std::log(double(s));  // logsumexp − z_y ≥ 0
    const double share = (w.empty() ? 1.0 : w[y]) / weight_sum;
    total += share * loss_n;
    meta(n, 0) = T(y);
    meta(n, 1) = T(share);
  }
  Array<T>& out = op.output(Shape{});
  out() = T(total);
  return op.finish([](Backward<T>& b) {
    if (!b.needs_grad(0)) return;
    const Array<T>& meta = b.saved(0);
    const Array<T>& probs = b.saved(1);
    const std::size_t rows = probs.shape()[0], classes = probs.shape()[1];
    const T g = b.grad_out()();
    auto t = b.grad_target(0);
    for (std::size_t n = 0; n < rows; ++n) {
      const std::size_t y = std::size_t(meta(n, 0));
      const T scale = g * meta(n, 1);
      const T* p = probs.data() + n * classes;
      T* d = t.grad.data() + n * classes;
      for (std::size_t c = 0; c < classes; ++c) {
        const T v = scale * (p[c] - (c == y ? T(1) : T(0)));
        d[c] = t.add ? d[c] + v : v;
      }
    }
  });
}

// PyTorch clamps each log at -100 so that p = 0 or 1 gives a finite loss and gradient.
template <class T>
T clamped_log(T v) {
  return std::max(std::log(v), T(-100));
}

void check_bce_weights(const char* op, const BCEOptions& o) {
  TG_CHECK(ValueError, std::isfinite(o.pos_weight()) && o.pos_weight() >= 0, op, ": pos_weight is ", o.pos_weight(),
           "; it must be finite and >= 0");
  TG_CHECK(ValueError, std::isfinite(o.neg_weight()) && o.neg_weight() >= 0, op, ": neg_weight is ", o.neg_weight(),
           "; it must be finite and >= 0");
}

template <class T>
void check_same_shape(const Op<T>& op) {
  const Shape& a = op.input(0).shape();
  const Shape& b = op.input(1).shape();
  TG_CHECK(ShapeError, same_shape(a, b), op.name(), ": shapes ", to_string(a), " and ", to_string(b),
           " differ (this op does not broadcast)");
}

}  // namespace

template <class T>
Var<T> log_softmax(const Var<T>& x, int axis) {
  return softmax_op<T, true>("log_softmax", x, axis);
}

template <class T>
Var<T> softmax(const Var<T>& x, int axis) {
  return softmax_op<T, false>("softmax", x, axis);
}

template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, const std::vector<std::int64_t>& labels,
                             const CrossEntropyOptions& options) {
  return cross_entropy(logits, labels.size(), [&](std::size_t n) { return double(labels[n]); }, options);
}

template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, const Array<detail::scalar_t<T>>& labels,
                             const CrossEntropyOptions& options) {
  const bool column = labels.dimension() == 2 && labels.shape()[1] == 1;
  TG_CHECK(ShapeError, labels.dimension() == 1 || column,
           "softmax_cross_entropy: labels must have shape (N,) or (N, 1), got ", to_string(labels.shape()));
  return cross_entropy(logits, labels.shape()[0], [&](std::size_t n) { return double(labels.data()[n]); }, options);
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> log_softmax(const Var<T>&, int); \
  template Var<T> softmax(const Var<T>&, int); \
  template Var<T> softmax_cross_entropy(const Var<T>&, const std::vector<std::int64_t>&, const CrossEntropyOptions&); \
  template Var<T> softmax_cross_entropy(const Var<T>&, const Array<detail::scalar_t<T>>&, const CrossEntropyOptions&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

namespace {
// The targets of a binary cross-entropy are probabilities (PyTorch does not check them; a
// target of 2 or -1 gives a loss without meaning, so tapegrad refuses it).
template <class T>
void check_targets(const char* op, const Array<T>& y) {
  for (std::size_t i = 0; i < y.size(); ++i) {
    const T v = y.data()[i];
    TG_CHECK(ValueError, v >= T(0) && v <= T(1), op, ": targets must lie in [0, 1], but element ", i, " is ", v);
  }
}
}  // namespace

template <class T>
Var<T> bce(const Var<T>& p, const Var<T>& y, const BCEOptions& options) {
  Op<T> op("bce", {p, y});
  check_same_shape(op);
  check_bce_weights("bce", options);
  const Array<T>& pv = op.input(0);
  const Array<T>& yv = op.input(1);
  TG_CHECK(ValueError, pv.size() > 0, "bce: empty input of shape ", to_string(pv.shape()));
  check_targets("bce", yv);
  const double w1 = options.pos_weight(), w0 = options.neg_weight();
  double total = 0;
  for (std::size_t i = 0; i < pv.size(); ++i) {
    const T pi = pv.data()[i], yi = yv.data()[i];
    TG_CHECK(ValueError, pi >= T(0) && pi <= T(1), "bce: predictions must lie in [0, 1], but element ", i, " is ", pi,
             " (for logits use bce_with_logits)");
    total -= w1 * double(yi * clamped_log(pi)) + w0 * double((T(1) - yi) * clamped_log(T(1) - pi));
  }
  Array<T>& out = op.output(Shape{});
  out() = T(total / double(pv.size()));
  op.save_scalar(0, w1);
  op.save_scalar(1, w0);
  return op.finish([](Backward<T>& b) {
    const Array<T>& pv = b.input(0);
    const Array<T>& yv = b.input(1);
    const T w1 = T(b.scalar(0)), w0 = T(b.scalar(1));
    const T scale = b.grad_out()() / T(pv.size());
    for (std::size_t k = 0; k < 2; ++k) {
      if (!b.needs_grad(k)) continue;
      auto t = b.grad_target(k);
      T* d = t.grad.data();
      for (std::size_t i = 0; i < pv.size(); ++i) {
        const T pi = pv.data()[i], yi = yv.data()[i];
        // d/dp = (w₀(1 − y)p − w₁y(1 − p)) / max(p(1 − p), 1e-12): with w₀ = w₁ = w PyTorch's
        // w(p − y)/max(p(1 − p), ε). d/dy = w₀·log(1 − p) − w₁·log p, with the forward's clamped logs.
        const T v = k == 0 ? (w0 * (T(1) - yi) * pi - w1 * yi * (T(1) - pi)) / std::max(pi * (T(1) - pi), T(1e-12))
                           : w0 * clamped_log(T(1) - pi) - w1 * clamped_log(pi);
        d[i] = (t.add ? d[i] : T(0)) + scale * v;
      }
    }
  });
}

namespace {
// softplus(x) = log(1 + eˣ) without overflow.
template <class T>
T softplus(T x) {
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}
}  // namespace

template <class T>
Var<T> bce_with_logits(const Var<T>& z, const Var<T>& y, const BCEOptions& options) {
  Op<T> op("bce_with_logits", {z, y});
  check_same_shape(op);
  check_bce_weights("bce_with_logits", options);
  const Array<T>& zv = op.input(0);
  const Array<T>& yv = op.input(1);
  TG_CHECK(ValueError, zv.size() > 0, "bce_with_logits: empty input of shape ", to_string(zv.shape()));
  check_targets("bce_with_logits", yv);
  const double w1 = options.pos_weight(), w0 = options.neg_weight();
  // σ(z) is saved for backward: it shares e^-|z| with the loss, so backward needs no exp.
  T* sig = op.recording() ? op.save(0, zv.shape()).data() : nullptr;
  double total = 0;
  for (std::size_t i = 0; i < zv.size(); ++i) {
    const T zi = zv.data()[i], yi = yv.data()[i];
    // −log σ(z) = softplus(−z) = softplus(z) − z,  −log(1 − σ(z)) = softplus(z)
    const T e = std::exp(-std::abs(zi));
    const T sp = std::max(zi, T(0)) + std::log1p(e);
    total += w1 * double(yi * (sp - zi)) + w0 * double((T(1) - yi) * sp);
    if (sig) sig[i] = zi >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);  // σ(z) without overflow
  }
  Array<T>& out = op.output(Shape{});
  out() = T(total / double(zv.size()));
  op.save_scalar(0, w1);
  op.save_scalar(1, w0);
  return op.finish([](Backward<T>& b) {
    const Array<T>& zv = b.input(0);
    const Array<T>& yv = b.input(1);
    const T* sig = b.saved(0).data();
    const T w1 = T(b.scalar(0)), w0 = T(b.scalar(1));
    const T scale = b.grad_out()() / T(zv.size());
    for (std::size_t k = 0; k < 2; ++k) {
      if (!b.needs_grad(k)) continue;
      auto t = b.grad_target(k);
      T* d = t.grad.data();
      for (std::size_t i = 0; i < zv.size(); ++i) {
        const T zi = zv.data()[i], yi = yv.data()[i];
        // d/dz = w₀(1 − y)σ(z) − w₁y(1 − σ(z)) (σ(z) − y when unweighted);
        // d/dy = w₁·softplus(−z) − w₀·softplus(z) (−z when unweighted)
        const T v = k == 0 ? w0 * (T(1) - yi) * sig[i] - w1 * yi * (T(1) - sig[i])
                           : w1 * softplus(-zi) - w0 * softplus(zi);
        d[i] = (t.add ? d[i] : T(0)) + scale * v;
      }
    }
  });
}

template <class T>
Var<T> mse(const Var<T>& a, const Var<T>& b) {
  Op<T> op("mse", {a, b});
  check_same_shape(op);
  const Array<T>& av = op.input(0);
  const Array<T>& bv = op.input(1);
  TG_CHECK(ValueError, av.size() > 0, "mse: empty input of shape ", to_string(av.shape()));
  double total = 0;
  for (std::size_t i = 0; i < av.size(); ++i) {
    const double d = double(av.data()[i]) - double(bv.data()[i]);
    total += d * d;
  }
  Array<T>& out = op.output(Shape{});
  out() = T(total / double(av.size()));
  return op.finish([](Backward<T>& b) {
    const T scale = T(2) * b.grad_out()() / T(b.input(0).size());
    b.accumulate(0, scale * (b.input(0) - b.input(1)));
    b.accumulate(1, scale * (b.input(1) - b.input(0)));
  });
}

#define TAPEGRAD_SECTION(T) \
  template Var<T> bce(const Var<T>&, const Var<T>&, const BCEOptions&); \
  template Var<T> bce_with_logits(const Var<T>&, const Var<T>&, const BCEOptions&); \
  template Var<T> mse(const Var<T>&, const Var<T>&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
