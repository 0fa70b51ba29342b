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

#define TAPEGRAD_SECTION(T) \
  template Var<T> log_softmax(const Var<T>&, int); \
  template Var<T> softmax(const Var<T>&, int);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- classification: cross_entropy, nll_loss ---------------------------------------------------

namespace {

enum class Reduction { none = 0, mean = 1, sum = 2 };

Reduction reduction_of(const char* op, const std::string& r) {
  if (r == "mean") return Reduction::mean;
  if (r == "sum") return Reduction::sum;
  if (r == "none") return Reduction::none;
  throw ValueError(detail::concat(op, ": reduction must be \"mean\", \"sum\" or \"none\", got \"", r, "\""));
}

// A classification input (N, C, d1, ...) seen as (N, C, S), the classes on axis 1; or (C,),
// one position. The targets have the input's shape without the class axis.
struct ClassLayout {
  std::size_t batch = 1, classes = 0, inner = 1;
  Shape target;
  std::size_t positions() const { return batch * inner; }
};

ClassLayout class_layout(const char* op, const Shape& x) {
  TG_CHECK(ShapeError, !x.empty(), op, ": input must be (C,) or (N, C, d1, ...), got ", to_string(x));
  ClassLayout l;
  if (x.size() == 1) {
    l.classes = x[0];
    l.target = Shape();
  } else {
    l.batch = x[0];
    l.classes = x[1];
    l.target = Shape(x.size() - 1);
    l.target[0] = x[0];
    for (std::size_t k = 2; k < x.size(); ++k) {
      l.inner *= x[k];
      l.target[k - 1] = x[k];
    }
  }
  TG_CHECK(ShapeError, l.classes > 0, op, ": input ", to_string(x), " has no classes (C = 0 on axis ",
           x.size() == 1 ? 0 : 1, ")");
  return l;
}

// Targets given with a shape: the layout's, or (N, 1) for (N, C) input (a loader's column).
void check_target_shape(const char* op, const ClassLayout& l, const Shape& input, const Shape& got) {
  const bool column = input.size() == 2 && got.size() == 2 && got[0] == l.batch && got[1] == 1;
  TG_CHECK(ShapeError, same_shape(got, l.target) || column, op, ": targets of shape ", to_string(got), " for input ",
           to_string(input), "; expected ", to_string(l.target));
}

// Targets given as a flat list, in row-major order of the targets' shape.
void check_target_count(const char* op, const ClassLayout& l, const Shape& input, std::size_t n) {
  TG_CHECK(ShapeError, n == l.positions(), op, ": ", n, " labels for input ", to_string(input), "; expected ",
           l.positions(), " (targets of shape ", to_string(l.target), ")");
}

// Every target is a class index or ignore_index; `at(m)` gives target m as a double.
template <class At>
void check_targets(const char* op, const ClassLayout& l, std::int64_t ignore_index, At at) {
  for (std::size_t m = 0; m < l.positions(); ++m) {
    const double y = at(m);
    if (y == double(ignore_index)) continue;
    TG_CHECK(ValueError, std::floor(y) == y && y >= 0 && y < double(l.classes), op, ": label ", m, " is ", y,
             ", outside the class indices [0, ", l.classes, ") and not ignore_index (", ignore_index, ")");
  }
}

void check_class_weights(const char* op, const std::vector<double>& w, std::size_t classes) {
  TG_CHECK(ValueError, w.empty() || w.size() == classes, op, ": ", w.size(), " class weights for ", classes,
           " classes");
  for (std::size_t c = 0; c < w.size(); ++c) {
    TG_CHECK(ValueError, std::isfinite(w[c]) && w[c] >= 0, op, ": class weight ", c, " is ", w[c],
             "; weights must be finite and >= 0");
  }
}

// The layout of a saved (N, C, d...) or (C,) array, for backward rules.
void layout_of(const Shape& x, std::size_t& batch, std::size_t& classes, std::size_t& inner) {
  batch = x.size() == 1 ? 1 : x[0];
  classes = x.size() == 1 ? x[0] : x[1];
  inner = 1;
  for (std::size_t k = 2; k < x.size(); ++k) inner *= x[k];
}

// The fused cross-entropy over checked targets. Saved: probs = softmax(z) over the class axis
// (saved(0)), the class weights (saved(1), when given), the targets (saved_indices(0), -1 where
// ignored); scalars: ε, the reduction, 1/Σw (the mean's factor), weighted, Σ_c w_c.
template <class T, class At>
Var<T> cross_entropy_op(const Var<T>& logits, At at, const CrossEntropyOptions& o, const ClassLayout& l) {
  Op<T> op("cross_entropy", {logits});
  const Reduction red = reduction_of("cross_entropy", o.reduction());
  const double eps = o.label_smoothing();
  TG_CHECK(ValueError, eps >= 0 && eps <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ", eps);
  const std::vector<double>& w = o.weight();
  check_class_weights("cross_entropy", w, l.classes);
  check_targets("cross_entropy", l, o.ignore_index(), at);

  const Array<T>& z = op.input(0);
  const std::size_t C = l.classes, S = l.inner;
  const bool weighted = !w.empty();
  double class_sum = 0;
  for (std::size_t c = 0; c < C; ++c) class_sum += weighted ? w[c] : 1.0;
  const bool recording = op.recording();
  T* probs = recording ? op.save(0, z.shape()).data() : nullptr;
  std::int64_t* ys = recording ? op.save_indices(0, {l.positions()}).data() : nullptr;
  if (recording && weighted) {
    T* ws = op.save(1, {C}).data();
    for (std::size_t c = 0; c < C; ++c) ws[c] = T(w[c]);
  }
  Array<T>& out = op.output(red == Reduction::none ? l.target : Shape());
  double total = 0, denom = 0;  // in double: sums of many float terms
  for (std::size_t n = 0; n < l.batch; ++n) {
    for (std::size_t s = 0; s < S; ++s) {
      const std::size_t m = n * S + s, base = n * C * S + s;
      const double yv = at(m);
      const bool ignored = yv == double(o.ignore_index());
      const std::size_t y = ignored ? 0 : std::size_t(yv);
      const T* zn = z.data() + base;
      T mx = -std::numeric_limits<T>::infinity();
      for (std::size_t c = 0; c < C; ++c) mx = std::max(mx, zn[c * S]);
      T se = 0;
      for (std::size_t c = 0; c < C; ++c) {
        const T e = std::exp(zn[c * S] - mx);
        if (probs) probs[base + c * S] = e;
        se += e;
      }
      if (probs) {
        const T inv = T(1) / se;
        for (std::size_t c = 0; c < C; ++c) probs[base + c * S] *= inv;
      }
      const double log_se = std::log(double(se));
      double loss = 0;
      if (!ignored) {
        // −log p_c = (max − z_c) + log Σ e: the difference first, as in log_softmax.
        const double wy = weighted ? w[y] : 1.0;
        loss = (1 - eps) * wy * (double(mx - zn[y * S]) + log_se);
        if (eps > 0) {
          double smooth = 0;
          for (std::size_t c = 0; c < C; ++c) smooth += (weighted ? w[c] : 1.0) * (double(mx - zn[c * S]) + log_se);
          loss += eps / double(C) * smooth;
        }
        denom += wy;
      }
      if (ys) ys[m] = ignored ? -1 : std::int64_t(y);
      if (red == Reduction::none) {
        out.data()[m] = T(loss);
      } else {
        total += loss;
      }
    }
  }
  // As PyTorch: a mean over no weight (every target ignored) is 0/0 = NaN.
  if (red != Reduction::none) out() = T(red == Reduction::mean ? total / denom : total);
  op.save_scalar(0, eps);
  op.save_scalar(1, double(int(red)));
  op.save_scalar(2, 1.0 / denom);
  op.save_scalar(3, weighted ? 1.0 : 0.0);
  op.save_scalar(4, class_sum);
  return op.finish([](Backward<T>& b) {
    // dℓ/dz_c = (1 − ε)·w_y·(p_c − [c = y]) + (ε/C)·(p_c·Σw − w_c), times the reduction's factor.
    if (!b.needs_grad(0)) return;
    const Array<T>& probs = b.saved(0);
    std::size_t N, C, S;
    layout_of(probs.shape(), N, C, S);
    const std::int64_t* ys = b.saved_indices(0).data();
    const T eps = T(b.scalar(0));
    const auto red = Reduction(int(b.scalar(1)));
    const T* w = b.scalar(3) != 0 ? b.saved(1).data() : nullptr;
    const T class_sum = T(b.scalar(4));
    const T* g = b.grad_out().data();
    const T g0 = red == Reduction::none ? T(0) : g[0] * (red == Reduction::mean ? T(b.scalar(2)) : T(1));
    auto t = b.grad_target(0);
    T* d = t.grad.data();
    const T* p = probs.data();
    for (std::size_t n = 0; n < N; ++n) {
      for (std::size_t s = 0; s < S; ++s) {
        const std::size_t m = n * S + s, base = n * C * S + s;
        const std::int64_t y = ys[m];
        if (y < 0) {  // ignored: no gradient
          if (!t.add) {
            for (std::size_t c = 0; c < C; ++c) d[base + c * S] = T(0);
          }
          continue;
        }
        const T k = red == Reduction::none ? g[m] : g0;
        const T hard = k * (T(1) - eps) * (w ? w[y] : T(1));
        const T soft = k * eps / T(C);
        for (std::size_t c = 0; c < C; ++c) {
          const std::size_t j = base + c * S;
          const T v = hard * (p[j] - (std::int64_t(c) == y ? T(1) : T(0))) + soft * (p[j] * class_sum - (w ? w[c] : T(1)));
          d[j] = t.add ? d[j] + v : v;
        }
      }
    }
  });
}

// nll_loss over checked targets. Saved: the targets (saved_indices(0), -1 where ignored), the
// class weights (saved(0), when given); scalars: the reduction, 1/Σw, weighted.
template <class T, class At>
Var<T> nll_loss_op(const Var<T>& log_probs, At at, const NLLLossOptions& o, const ClassLayout& l) {
  Op<T> op("nll_loss", {log_probs});
  const Reduction red = reduction_of("nll_loss", o.reduction());
  const std::vector<double>& w = o.weight();
  check_class_weights("nll_loss", w, l.classes);
  check_targets("nll_loss", l, o.ignore_index(), at);
  const Array<T>& x = op.input(0);
  const std::size_t C = l.classes, S = l.inner;
  const bool weighted = !w.empty();
  const bool recording = op.recording();
  std::int64_t* ys = recording ? op.save_indices(0, {l.positions()}).data() : nullptr;
  if (recording && weighted) {
    T* ws = op.save(0, {C}).data();
    for (std::size_t c = 0; c < C; ++c) ws[c] = T(w[c]);
  }
  Array<T>& out = op.output(red == Reduction::none ? l.target : Shape());
  double total = 0, denom = 0;
  for (std::size_t n = 0; n < l.batch; ++n) {
    for (std::size_t s = 0; s < S; ++s) {
      const std::size_t m = n * S + s;
      const double yv = at(m);
      const bool ignored = yv == double(o.ignore_index());
      double loss = 0;
      if (!ignored) {
        const std::size_t y = std::size_t(yv);
        const double wy = weighted ? w[y] : 1.0;
        loss = -wy * double(x.data()[n * C * S + y * S + s]);
        denom += wy;
      }
      if (ys) ys[m] = ignored ? -1 : std::int64_t(yv);
      if (red == Reduction::none) {
        out.data()[m] = T(loss);
      } else {
        total += loss;
      }
    }
  }
  if (red != Reduction::none) out() = T(red == Reduction::mean ? total / denom : total);
  op.save_scalar(0, double(int(red)));
  op.save_scalar(1, 1.0 / denom);
  op.save_scalar(2, weighted ? 1.0 : 0.0);
  return op.finish([](Backward<T>& b) {
    // dℓ/dx[n, c] = −w_y·[c = y], times the reduction's factor.
    if (!b.needs_grad(0)) return;
    std::size_t N, C, S;
    layout_of(b.input(0).shape(), N, C, S);
    const std::int64_t* ys = b.saved_indices(0).data();
    const auto red = Reduction(int(b.scalar(0)));
    const T* w = b.scalar(2) != 0 ? b.saved(0).data() : nullptr;
    const T* g = b.grad_out().data();
    const T g0 = red == Reduction::none ? T(0) : g[0] * (red == Reduction::mean ? T(b.scalar(1)) : T(1));
    auto t = b.grad_target(0);
    T* d = t.grad.data();
    if (!t.add) std::fill(d, d + t.grad.size(), T(0));
    for (std::size_t n = 0; n < N; ++n) {
      for (std::size_t s = 0; s < S; ++s) {
        const std::size_t m = n * S + s;
        const std::int64_t y = ys[m];
        if (y < 0) continue;
        const T k = red == Reduction::none ? g[m] : g0;
        d[n * C * S + std::size_t(y) * S + s] -= k * (w ? w[y] : T(1));
      }
    }
  });
}

}  // namespace

template <class T>
Var<T> cross_entropy(const Var<T>& logits, const IndexArray& labels, const CrossEntropyOptions& options) {
  const ClassLayout l = class_layout("cross_entropy", logits.shape());
  check_target_shape("cross_entropy", l, logits.shape(), labels.shape());
  return cross_entropy_op(logits, [&](std::size_t m) { return double(labels.data()[m]); }, options, l);
}

template <class T>
Var<T> cross_entropy(const Var<T>& logits, const std::vector<std::int64_t>& labels,
                     const CrossEntropyOptions& options) {
  const ClassLayout l = class_layout("cross_entropy", logits.shape());
  check_target_count("cross_entropy", l, logits.shape(), labels.size());
  return cross_entropy_op(logits, [&](std::size_t m) { return double(labels[m]); }, options, l);
}

template <class T>
Var<T> cross_entropy(const Var<T>& logits, const Array<detail::scalar_t<T>>& labels,
                     const CrossEntropyOptions& options) {
  const ClassLayout l = class_layout("cross_entropy", logits.shape());
  check_target_shape("cross_entropy", l, logits.shape(), labels.shape());
  return cross_entropy_op(logits, [&](std::size_t m) { return double(labels.data()[m]); }, options, l);
}

template <class T>
Var<T> nll_loss(const Var<T>& log_probs, const IndexArray& labels, const NLLLossOptions& options) {
  const ClassLayout l = class_layout("nll_loss", log_probs.shape());
  check_target_shape("nll_loss", l, log_probs.shape(), labels.shape());
  return nll_loss_op(log_probs, [&](std::size_t m) { return double(labels.data()[m]); }, options, l);
}

template <class T>
Var<T> nll_loss(const Var<T>& log_probs, const std::vector<std::int64_t>& labels, const NLLLossOptions& options) {
  const ClassLayout l = class_layout("nll_loss", log_probs.shape());
  check_target_count("nll_loss", l, log_probs.shape(), labels.size());
  return nll_loss_op(log_probs, [&](std::size_t m) { return double(labels[m]); }, options, l);
}

template <class T>
Var<T> nll_loss(const Var<T>& log_probs, const Array<detail::scalar_t<T>>& labels, const NLLLossOptions& options) {
  const ClassLayout l = class_layout("nll_loss", log_probs.shape());
  check_target_shape("nll_loss", l, log_probs.shape(), labels.shape());
  return nll_loss_op(log_probs, [&](std::size_t m) { return double(labels.data()[m]); }, options, l);
}

#define TAPEGRAD_SECTION(T)                                                                                       \
  template Var<T> cross_entropy(const Var<T>&, const IndexArray&, const CrossEntropyOptions&);                     \
  template Var<T> cross_entropy(const Var<T>&, const std::vector<std::int64_t>&, const CrossEntropyOptions&);      \
  template Var<T> cross_entropy(const Var<T>&, const Array<detail::scalar_t<T>>&, const CrossEntropyOptions&);     \
  template Var<T> nll_loss(const Var<T>&, const IndexArray&, const NLLLossOptions&);                               \
  template Var<T> nll_loss(const Var<T>&, const std::vector<std::int64_t>&, const NLLLossOptions&);                \
  template Var<T> nll_loss(const Var<T>&, const Array<detail::scalar_t<T>>&, const NLLLossOptions&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

// ---- binary cross-entropy ----------------------------------------------------------------------

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

// The output of an elementwise loss reduced as `red`, and the factor its backward applies to
// the incoming gradient of a reduced loss (1/N for the mean).
template <class T>
Array<T>& loss_output(Op<T>& op, Reduction red) {
  const Array<T>& a = op.input(0);
  TG_CHECK(ValueError, a.size() > 0 || red != Reduction::mean, op.name(), ": empty input of shape ",
           to_string(a.shape()));
  op.save_scalar(0, double(int(red)));
  op.save_scalar(1, red == Reduction::mean ? 1.0 / double(a.size()) : 1.0);
  return op.output(red == Reduction::none ? a.shape() : Shape());
}

// Element i's share of the incoming gradient, in a backward rule of an elementwise loss whose
// scalar(0) is the reduction and scalar(1) the mean's factor.
template <class T>
struct LossGrad {
  explicit LossGrad(const Backward<T>& b)
      : none(Reduction(int(b.scalar(0))) == Reduction::none),
        g(b.grad_out().data()),
        g0(none ? T(0) : g[0] * T(b.scalar(1))) {}
  T operator[](std::size_t i) const { return none ? g[i] : g0; }
  bool none;
  const T* g;
  T g0;
};

// Stores element i's loss (reduction "none") or adds it to the total.
template <class T>
void put(Array<T>& out, Reduction red, std::size_t i, double v, double& total) {
  if (red == Reduction::none) {
    out.data()[i] = T(v);
  } else {
    total += v;
  }
}
template <class T>
void finish_total(Array<T>& out, Reduction red, double total, std::size_t n) {
  if (red != Reduction::none) out() = T(red == Reduction::mean ? total / double(n) : total);
}
}  // namespace

template <class T>
Var<T> binary_cross_entropy(const Var<T>& p, const Var<T>& y, const BCEOptions& options) {
  Op<T> op("binary_cross_entropy", {p, y});
  check_same_shape(op);
  check_bce_weights("binary_cross_entropy", options);
  const Reduction red = reduction_of("binary_cross_entropy", options.reduction());
  const Array<T>& pv = op.input(0);
  const Array<T>& yv = op.input(1);
  check_targets("binary_cross_entropy", yv);
  for (std::size_t i = 0; i < pv.size(); ++i) {
    const T pi = pv.data()[i];
    TG_CHECK(ValueError, pi >= T(0) && pi <= T(1), "binary_cross_entropy: predictions must lie in [0, 1], but element ",
             i, " is ", pi, " (for logits use binary_cross_entropy_with_logits)");
  }
  Array<T>& out = loss_output(op, red);
  const double w1 = options.pos_weight(), w0 = options.neg_weight();
  double total = 0;
  for (std::size_t i = 0; i < pv.size(); ++i) {
    const T pi = pv.data()[i], yi = yv.data()[i];
    put(out, red, i, -(w1 * double(yi * clamped_log(pi)) + w0 * double((T(1) - yi) * clamped_log(T(1) - pi))), total);
  }
  finish_total(out, red, total, pv.size());
  op.save_scalar(2, w1);
  op.save_scalar(3, w0);
  return op.finish([](Backward<T>& b) {
    const Array<T>& pv = b.input(0);
    const Array<T>& yv = b.input(1);
    const T w1 = T(b.scalar(2)), w0 = T(b.scalar(3));
    const LossGrad<T> g(b);
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
        d[i] = (t.add ? d[i] : T(0)) + g[i] * v;
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
Var<T> binary_cross_entropy_with_logits(const Var<T>& z, const Var<T>& y, const BCEOptions& options) {
  Op<T> op("binary_cross_entropy_with_logits", {z, y});
  check_same_shape(op);
  check_bce_weights("binary_cross_entropy_with_logits", options);
  const Reduction red = reduction_of("binary_cross_entropy_with_logits", options.reduction());
  const Array<T>& zv = op.input(0);
  const Array<T>& yv = op.input(1);
  check_targets("binary_cross_entropy_with_logits", yv);
  Array<T>& out = loss_output(op, red);
  const double w1 = options.pos_weight(), w0 = options.neg_weight();
  // σ(z) is saved for backward: it shares e^-|z| with the loss, so backward needs no exp.
  T* sig = op.recording() ? op.save(0, zv.shape()).data() : nullptr;
  double total = 0;
  for (std::size_t i = 0; i < zv.size(); ++i) {
    const T zi = zv.data()[i], yi = yv.data()[i];
    // −log σ(z) = softplus(−z) = softplus(z) − z,  −log(1 − σ(z)) = softplus(z)
    const T e = std::exp(-std::abs(zi));
    const T sp = std::max(zi, T(0)) + std::log1p(e);
    put(out, red, i, w1 * double(yi * (sp - zi)) + w0 * double((T(1) - yi) * sp), total);
    if (sig) sig[i] = zi >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);  // σ(z) without overflow
  }
  finish_total(out, red, total, zv.size());
  op.save_scalar(2, w1);
  op.save_scalar(3, w0);
  return op.finish([](Backward<T>& b) {
    const Array<T>& zv = b.input(0);
    const Array<T>& yv = b.input(1);
    const T* sig = b.saved(0).data();
    const T w1 = T(b.scalar(2)), w0 = T(b.scalar(3));
    const LossGrad<T> g(b);
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
        d[i] = (t.add ? d[i] : T(0)) + g[i] * v;
      }
    }
  });
}

// ---- regression losses -------------------------------------------------------------------------

namespace {
enum class Regression { mse, l1, smooth_l1, huber };

// The loss of one difference d = x − y and its derivative; `h` is β (smooth L1) or δ (Huber).
template <Regression K>
double regression_value(double d, double h) {
  const double a = std::abs(d);
  switch (K) {
    case Regression::mse:
      return d * d;
    case Regression::l1:
      return a;
    case Regression::smooth_l1:
      return h == 0 ? a : (a < h ? 0.5 * d * d / h : a - 0.5 * h);
    case Regression::huber:
      return a < h ? 0.5 * d * d : h * (a - 0.5 * h);
  }
  return 0;
}
template <Regression K, class T>
T regression_slope(T d, T h) {
  const T sign = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));  // sign(0) = 0, as PyTorch
  switch (K) {
    case Regression::mse:
      return T(2) * d;
    case Regression::l1:
      return sign;
    case Regression::smooth_l1:
      return d < -h ? T(-1) : (d > h ? T(1) : (h == T(0) ? sign : d / h));
    case Regression::huber:
      return d < -h ? -h : (d > h ? h : d);
  }
  return T(0);
}

template <Regression K, class T>
Var<T> regression_loss(const char* name, const Var<T>& a, const Var<T>& b, const std::string& reduction, double h) {
  Op<T> op(name, {a, b});
  check_same_shape(op);
  const Reduction red = reduction_of(name, reduction);
  const Array<T>& av = op.input(0);
  const Array<T>& bv = op.input(1);
  Array<T>& out = loss_output(op, red);
  double total = 0;
  for (std::size_t i = 0; i < av.size(); ++i) {
    put(out, red, i, regression_value<K>(double(av.data()[i]) - double(bv.data()[i]), h), total);
  }
  finish_total(out, red, total, av.size());
  op.save_scalar(2, h);
  return op.finish([](Backward<T>& b) {
    const Array<T>& av = b.input(0);
    const Array<T>& bv = b.input(1);
    const T h = T(b.scalar(2));
    const LossGrad<T> g(b);
    for (std::size_t k = 0; k < 2; ++k) {
      if (!b.needs_grad(k)) continue;
      auto t = b.grad_target(k);
      T* d = t.grad.data();
      const T sign = k == 0 ? T(1) : T(-1);  // d/dy = −d/dx
      for (std::size_t i = 0; i < av.size(); ++i) {
        const T v = sign * g[i] * regression_slope<K>(av.data()[i] - bv.data()[i], h);
        d[i] = t.add ? d[i] + v : v;
      }
    }
  });
}
}  // namespace

template <class T>
Var<T> mse_loss(const Var<T>& input, const Var<T>& target, const MSELossOptions& options) {
  return regression_loss<Regression::mse>("mse_loss", input, target, options.reduction(), 0.0);
}

template <class T>
Var<T> l1_loss(const Var<T>& input, const Var<T>& target, const L1LossOptions& options) {
  return regression_loss<Regression::l1>("l1_loss", input, target, options.reduction(), 0.0);
}

template <class T>
Var<T> smooth_l1_loss(const Var<T>& input, const Var<T>& target, const SmoothL1LossOptions& options) {
  TG_CHECK(ValueError, options.beta() >= 0, "smooth_l1_loss: beta must be >= 0, got ", options.beta());
  return regression_loss<Regression::smooth_l1>("smooth_l1_loss", input, target, options.reduction(), options.beta());
}

template <class T>
Var<T> huber_loss(const Var<T>& input, const Var<T>& target, const HuberLossOptions& options) {
  TG_CHECK(ValueError, options.delta() > 0, "huber_loss: delta must be > 0, got ", options.delta());
  return regression_loss<Regression::huber>("huber_loss", input, target, options.reduction(), options.delta());
}

#define TAPEGRAD_SECTION(T)                                                                              \
  template Var<T> binary_cross_entropy(const Var<T>&, const Var<T>&, const BCEOptions&);                 \
  template Var<T> binary_cross_entropy_with_logits(const Var<T>&, const Var<T>&, const BCEOptions&);     \
  template Var<T> mse_loss(const Var<T>&, const Var<T>&, const MSELossOptions&);                         \
  template Var<T> l1_loss(const Var<T>&, const Var<T>&, const L1LossOptions&);                           \
  template Var<T> smooth_l1_loss(const Var<T>&, const Var<T>&, const SmoothL1LossOptions&);              \
  template Var<T> huber_loss(const Var<T>&, const Var<T>&, const HuberLossOptions&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad
