// log_softmax, softmax, softmax cross-entropy, class-weighted BCE, and the metrics.
#include "tapegrad/losses.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "detail/xtensor_extra.hpp"  // xt::row
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/metrics.hpp"

namespace tapegrad {
namespace {

using V = Var<double>;
using Vs = std::vector<Var<double>>;

template <class F>
void expect_error_with(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

const Array<double> kLogits{{0.5, -1.0, 2.0, 0.1}, {1.5, 0.3, -0.7, 0.0}, {-2.0, 1.0, 0.2, 3.0}};

// ---- log_softmax, softmax -------------------------------------------------------------------------

TEST(LogSoftmax, ValuesMatchTheDefinition) {
  Tape<double> tape;
  auto y = log_softmax(tape.constant(kLogits));
  for (std::size_t n = 0; n < 3; ++n) {
    double s = 0;
    for (std::size_t c = 0; c < 4; ++c) s += std::exp(kLogits(n, c));
    for (std::size_t c = 0; c < 4; ++c) EXPECT_NEAR(y.value()(n, c), kLogits(n, c) - std::log(s), 1e-14);
  }
}

TEST(LogSoftmax, Gradcheck) {
  for (int axis : {-1, 0, 1}) {
    auto r = gradcheck([axis](const Vs& v) { return log_softmax(v[0], axis); }, {kLogits});
    EXPECT_TRUE(r.ok) << "axis " << axis << "\n" << r.report();
  }
  Array<double> x3 = xt::reshape_view(xt::linspace<double>(-2, 3, 24), {2, 3, 4});
  auto r = gradcheck([](const Vs& v) { return log_softmax(v[0], 1); }, {x3});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(Softmax, RowsSumToOneAndGradcheck) {
  Tape<double> tape;
  auto p = softmax(tape.constant(kLogits));
  for (std::size_t n = 0; n < 3; ++n) EXPECT_NEAR(xt::sum(xt::row(p.value(), n))(), 1.0, 1e-15);
  EXPECT_NEAR(p.value()(0, 2), std::exp(2.0) / (std::exp(0.5) + std::exp(-1.0) + std::exp(2.0) + std::exp(0.1)),
              1e-15);
  for (int axis : {0, 1}) {
    auto r = gradcheck([axis](const Vs& v) { return softmax(v[0], axis); }, {kLogits});
    EXPECT_TRUE(r.ok) << r.report();
  }
}

TEST(LogSoftmax, StableForHugeLogits) {
  Tape<double> tape;
  Parameter<float> z(Array<float>{{1e4f, 0.f, -1e4f}});
  Tape<float> ftape;
  auto y = log_softmax(ftape.bind(z));
  EXPECT_EQ(y.value()(0, 0), 0.f);
  EXPECT_EQ(y.value()(0, 1), -1e4f);
  EXPECT_EQ(y.value()(0, 2), -2e4f);
  ftape.backward(sum(y));
  for (float g : z.grad()) EXPECT_TRUE(std::isfinite(g));
  EXPECT_THROW(log_softmax(tape.constant(kLogits), 2), ShapeError);
}

// ---- softmax_cross_entropy -------------------------------------------------------------------------

TEST(SoftmaxCrossEntropy, ValueByHand) {
  // rows [1, 2, 3] with label 2 and [1, 1, 1] with label 0:
  // ℓ₀ = log(e + e² + e³) − 3,  ℓ₁ = log 3,  loss = (ℓ₀ + ℓ₁) / 2
  Tape<double> tape;
  auto loss = softmax_cross_entropy(tape.constant(Array<double>{{1, 2, 3}, {1, 1, 1}}), {2, 0});
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  EXPECT_NEAR(loss.item(), (l0 + std::log(3.0)) / 2, 1e-15);
}

TEST(SoftmaxCrossEntropy, WeightedValueByHand) {
  // class weights (1, 2, 0.5): weighted mean (w₂ℓ₀ + w₀ℓ₁) / (w₂ + w₀) = (0.5ℓ₀ + ℓ₁) / 1.5
  Tape<double> tape;
  auto loss = softmax_cross_entropy(tape.constant(Array<double>{{1, 2, 3}, {1, 1, 1}}), {2, 0},
                                    CrossEntropyOptions().class_weights({1, 2, 0.5}));
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  EXPECT_NEAR(loss.item(), (0.5 * l0 + std::log(3.0)) / 1.5, 1e-15);
}

TEST(SoftmaxCrossEntropy, EqualsTheComposedLogSoftmaxLoss) {
  const std::vector<std::int64_t> labels{3, 0, 1};
  Tape<double> tape;
  auto fused = softmax_cross_entropy(tape.constant(kLogits), labels);
  Array<double> onehot = xt::zeros<double>({3, 4});
  for (std::size_t n = 0; n < 3; ++n) onehot(n, std::size_t(labels[n])) = 1;
  auto composed = -sum(mul(log_softmax(tape.constant(kLogits)), tape.constant(onehot))) / 3.0;
  EXPECT_NEAR(fused.item(), composed.item(), 1e-14);
}

TEST(SoftmaxCrossEntropy, Gradcheck) {
  const std::vector<std::int64_t> labels{3, 0, 1};
  auto r = gradcheck([&](const Vs& v) { return softmax_cross_entropy(v[0], labels); }, {kLogits});
  EXPECT_TRUE(r.ok) << r.report();
  r = gradcheck(
      [&](const Vs& v) {
        return softmax_cross_entropy(v[0], labels, CrossEntropyOptions().class_weights({0.2, 1.0, 3.0, 0.0}));
      },
      {kLogits});
  EXPECT_TRUE(r.ok) << r.report();
  // Downstream of other ops, and with a gradient arriving twice (fan-out).
  r = gradcheck(
      [&](const Vs& v) {
        auto z = tanh(v[0]);
        return softmax_cross_entropy(z, labels) + softmax_cross_entropy(z * 2.0, labels);
      },
      {kLogits});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(SoftmaxCrossEntropy, GradientIsSoftmaxMinusOneHotOverN) {
  Tape<double> tape;
  Parameter<double> z(kLogits);
  auto loss = softmax_cross_entropy(tape.bind(z), std::vector<std::int64_t>{3, 0, 1});
  tape.backward(loss);
  Tape<double> t2;
  auto p = softmax(t2.constant(kLogits));
  for (std::size_t n = 0; n < 3; ++n) {
    for (std::size_t c = 0; c < 4; ++c) {
      const double onehot = (n == 0 && c == 3) || (n == 1 && c == 0) || (n == 2 && c == 1);
      EXPECT_NEAR(z.grad()(n, c), (p.value()(n, c) - onehot) / 3, 1e-15);
    }
  }
}

TEST(SoftmaxCrossEntropy, StableForHugeLogits) {
  for (double scale : {1e4, 1e30}) {
    Parameter<float> z(Array<float>{{float(scale), 0.f, float(-scale)}, {0.f, float(scale), 0.f}});
    Tape<float> tape;
    auto loss = softmax_cross_entropy(tape.bind(z), std::vector<std::int64_t>{1, 1});
    // ℓ₀ = logsumexp − z₁ = scale, ℓ₁ = 0
    EXPECT_TRUE(std::isfinite(loss.item()));
    EXPECT_NEAR(loss.item(), float(scale) / 2, float(scale) * 1e-6f);
    tape.backward(loss);
    for (float g : z.grad()) EXPECT_TRUE(std::isfinite(g));
    EXPECT_NEAR(z.grad()(0, 0), 0.5f, 1e-6f);
    EXPECT_NEAR(z.grad()(0, 1), -0.5f, 1e-6f);
  }
}

TEST(SoftmaxCrossEntropy, ArrayLabelsEqualIntegerLabels) {
  Tape<float> tape;
  Array<float> z = xt::cast<float>(kLogits);
  auto a = softmax_cross_entropy(tape.constant(z), std::vector<std::int64_t>{3, 0, 1});
  auto b = softmax_cross_entropy(tape.constant(z), Array<float>{3.f, 0.f, 1.f});
  Array<float> column{3.f, 0.f, 1.f};
  column.reshape({3, 1});
  auto c = softmax_cross_entropy(tape.constant(z), column);
  EXPECT_EQ(a.item(), b.item());
  EXPECT_EQ(a.item(), c.item());
}

TEST(SoftmaxCrossEntropy, BadInputsAreReported) {
  Tape<double> tape;
  auto z = tape.constant(kLogits);
  expect_error_with([&] { softmax_cross_entropy(z, {3, 4, 1}); }, "label 1 is 4, outside the class indices [0, 4)");
  expect_error_with([&] { softmax_cross_entropy(z, {3, 0, -1}); }, "label 2 is -1");
  expect_error_with([&] { softmax_cross_entropy(z, Array<double>{0.0, 1.5, 2.0}); }, "label 1 is 1.5");
  EXPECT_THROW(softmax_cross_entropy(z, Array<double>{0.0, 1.0, std::nan("")}), ValueError);
  EXPECT_THROW(softmax_cross_entropy(z, {3, 0}), ShapeError);
  EXPECT_THROW(softmax_cross_entropy(z, Array<double>{{0.0, 1.0, 2.0}}), ShapeError);
  // (C,) logits with one target are PyTorch's unbatched input.
  EXPECT_NEAR(softmax_cross_entropy(tape.constant(Array<double>{1.0, 2.0}), {0}).item(),
              std::log(std::exp(1.0) + std::exp(2.0)) - 1.0, 1e-15);
  EXPECT_THROW(softmax_cross_entropy(tape.constant(Array<double>(1.0)), {0}), ShapeError);
  expect_error_with([&] { softmax_cross_entropy(z, {3, 0, 1}, CrossEntropyOptions().class_weights({1, 2})); },
                    "2 class weights for 4 classes");
  expect_error_with([&] { softmax_cross_entropy(z, {3, 0, 1}, CrossEntropyOptions().class_weights({1, 1, 1, -1})); },
                    "class weight 3 is -1");
  // Weights that sum to 0 over the targets: the mean is 0/0 = NaN, as in PyTorch.
  EXPECT_TRUE(std::isnan(softmax_cross_entropy(z, {1, 1, 1}, CrossEntropyOptions().class_weights({1, 0, 1, 1})).item()));
  const std::size_t entries = tape.size();
  EXPECT_THROW(softmax_cross_entropy(z, {9, 9, 9}), ValueError);
  EXPECT_EQ(tape.size(), entries);  // a failed op leaves no trace
}

// ---- class-weighted BCE --------------------------------------------------------------------------

const Array<double> kProbs{{0.2, 0.9}, {0.6, 0.05}};
const Array<double> kTargets{{0.0, 1.0}, {1.0, 0.3}};

TEST(WeightedBCE, ValueByHand) {
  Tape<double> tape;
  auto loss = bce(tape.constant(kProbs), tape.constant(kTargets), BCEOptions().pos_weight(3).neg_weight(0.5));
  double want = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const double p = kProbs.data()[i], y = kTargets.data()[i];
    want -= 3 * y * std::log(p) + 0.5 * (1 - y) * std::log(1 - p);
  }
  EXPECT_NEAR(loss.item(), want / 4, 1e-15);
}

TEST(WeightedBCE, UnitWeightsAreBCE) {
  Tape<double> tape;
  Parameter<double> p1(kProbs), p2(kProbs);
  auto a = bce(tape.bind(p1), tape.constant(kTargets));
  auto b = bce(tape.bind(p2), tape.constant(kTargets), BCEOptions());
  EXPECT_NEAR(a.item(), b.item(), 1e-15);
  tape.backward(a + b);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(p1.grad().data()[i], p2.grad().data()[i], 1e-13);
}

TEST(WeightedBCE, Gradcheck) {
  const auto opts = BCEOptions().pos_weight(2.5).neg_weight(0.4);
  // Hard targets (0 and 1) are the edge of the targets' domain [0, 1]: a central difference
  // there steps outside it, so the targets' gradient is checked on soft targets.
  GradcheckOptions hard;
  hard.requires_grad({true, false});
  auto r = gradcheck([&](const Vs& v) { return bce(v[0], v[1], opts); }, {kProbs, kTargets}, hard);
  EXPECT_TRUE(r.ok) << r.report();
  r = gradcheck([&](const Vs& v) { return bce(v[0], v[1], opts); }, {kProbs, Array<double>{{0.1, 0.8}, {0.6, 0.3}}});
  EXPECT_TRUE(r.ok) << r.report();
  const Array<double> soft = 0.05 + 0.9 * xt::abs(xt::sin(kLogits));  // inside (0, 1), as above
  r = gradcheck([&](const Vs& v) { return bce_with_logits(v[0], v[1], opts); }, {kLogits, soft});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(WeightedBCE, LogitsAgreeWithProbabilitiesAndAreStable) {
  const auto opts = BCEOptions().pos_weight(2.5).neg_weight(0.4);
  const Array<double> y = xt::abs(xt::sin(kLogits));
  Tape<double> tape;
  auto a = bce_with_logits(tape.constant(kLogits), tape.constant(y), opts);
  auto b = bce(sigmoid(tape.constant(kLogits)), tape.constant(y), opts);
  EXPECT_NEAR(a.item(), b.item(), 1e-14);
  auto unit = bce_with_logits(tape.constant(kLogits), tape.constant(y), BCEOptions());
  EXPECT_NEAR(unit.item(), bce_with_logits(tape.constant(kLogits), tape.constant(y)).item(), 1e-15);

  Parameter<float> z(Array<float>{1e4f, -1e4f});
  Tape<float> ft;
  auto loss = bce_with_logits(ft.bind(z), ft.constant(Array<float>{0.f, 1.f}), BCEOptions().pos_weight(2));
  EXPECT_NEAR(loss.item(), (1e4f + 2 * 1e4f) / 2, 1e-1f);
  ft.backward(loss);
  EXPECT_NEAR(z.grad()(0), 0.5f, 1e-6f);
  EXPECT_NEAR(z.grad()(1), -1.0f, 1e-6f);
}

TEST(WeightedBCE, BadWeightsAreReported) {
  Tape<double> tape;
  auto p = tape.constant(kProbs), y = tape.constant(kTargets);
  expect_error_with([&] { bce(p, y, BCEOptions().pos_weight(-1)); }, "binary_cross_entropy: pos_weight is -1");
  expect_error_with([&] { bce_with_logits(p, y, BCEOptions().neg_weight(INFINITY)); }, "neg_weight is inf");
  expect_error_with([&] { bce(tape.constant(Array<double>{1.5}), tape.constant(Array<double>{1.0}), BCEOptions()); },
                    "must lie in [0, 1]");
  EXPECT_THROW(bce(p, tape.constant(Array<double>{1.0}), BCEOptions()), ShapeError);
}

// ---- cross_entropy, nll_loss: PyTorch's definitions written out -----------------------------------

// Logits (N, C, S) flattened, targets (N, S): ℓ_n = (1 − ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)
// for targets ≠ ignore; returns the reduced value, or fills `none`.
double ce_reference(const Array<double>& z, const std::vector<std::int64_t>& y, const std::vector<double>& w,
                    std::int64_t ignore, double eps, const std::string& reduction, std::vector<double>* none = nullptr) {
  const std::size_t N = z.dimension() == 1 ? 1 : z.shape()[0];
  const std::size_t C = z.dimension() == 1 ? z.shape()[0] : z.shape()[1];
  const std::size_t S = z.size() / (N * C);
  double total = 0, denom = 0;
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t s = 0; s < S; ++s) {
      const std::int64_t t = y[n * S + s];
      double loss = 0;
      if (t != ignore) {
        double se = 0;
        for (std::size_t c = 0; c < C; ++c) se += std::exp(z.data()[(n * C + c) * S + s]);
        const auto nlp = [&](std::size_t c) { return std::log(se) - z.data()[(n * C + c) * S + s]; };
        const auto wc = [&](std::size_t c) { return w.empty() ? 1.0 : w[c]; };
        loss = (1 - eps) * wc(std::size_t(t)) * nlp(std::size_t(t));
        for (std::size_t c = 0; c < C; ++c) loss += eps / double(C) * wc(c) * nlp(c);
        denom += wc(std::size_t(t));
      }
      if (none) none->push_back(loss);
      total += loss;
    }
  }
  return reduction == "mean" ? total / denom : total;
}

const Array<double> kLogits4 = xt::reshape_view(xt::sin(xt::linspace<double>(0, 11, 2 * 3 * 2 * 2)) * 2.0, {2, 3, 2, 2});
const std::vector<std::int64_t> kTargets4{0, 2, -100, 1, 1, 1, 2, 0};  // (2, 2, 2), one ignored

TEST(CrossEntropy, MatchesTheDefinitionForEveryOption) {
  const std::vector<std::int64_t> labels{3, 0, 1};
  for (const std::string red : {"mean", "sum", "none"}) {
    for (const double eps : {0.0, 0.1, 1.0}) {
      for (const std::vector<double>& w : {std::vector<double>{}, std::vector<double>{0.2, 1.0, 3.0, 0.5}}) {
        for (const std::int64_t ignore : {std::int64_t(-100), std::int64_t(0)}) {
          const auto opts = CrossEntropyOptions().weight(w).label_smoothing(eps).reduction(red).ignore_index(ignore);
          std::vector<double> want_none;
          const double want = ce_reference(kLogits, labels, w, ignore, eps, red, &want_none);
          Tape<double> tape;
          auto loss = cross_entropy(tape.constant(kLogits), labels, opts);
          if (red == "none") {
            ASSERT_EQ(loss.shape(), Shape{3});
            for (std::size_t n = 0; n < 3; ++n) EXPECT_NEAR(loss.value()(n), want_none[n], 1e-14);
          } else {
            EXPECT_NEAR(loss.item(), want, 1e-14) << red << " eps " << eps << " ignore " << ignore;
          }
        }
      }
    }
  }
}

TEST(CrossEntropy, HigherDimensionalInputHasTheClassesOnAxis1) {
  const auto opts = CrossEntropyOptions().weight({0.5, 2.0, 1.0}).label_smoothing(0.2);
  Tape<double> tape;
  IndexArray y = IndexArray::from_shape({2, 2, 2});
  std::copy(kTargets4.begin(), kTargets4.end(), y.begin());
  EXPECT_NEAR(cross_entropy(tape.constant(kLogits4), y, opts).item(),
              ce_reference(kLogits4, kTargets4, opts.weight(), -100, 0.2, "mean"), 1e-14);
  std::vector<double> want;
  ce_reference(kLogits4, kTargets4, opts.weight(), -100, 0.2, "none", &want);
  auto none = cross_entropy(tape.constant(kLogits4), y, CrossEntropyOptions(opts).reduction("none"));
  ASSERT_EQ(none.shape(), (Shape{2, 2, 2}));
  for (std::size_t i = 0; i < 8; ++i) EXPECT_NEAR(none.value().data()[i], want[i], 1e-14);
  EXPECT_EQ(none.value().data()[2], 0.0);  // ignored
  // A flat list of targets in row-major order, and an array of doubles, give the same.
  EXPECT_EQ(cross_entropy(tape.constant(kLogits4), kTargets4, opts).item(),
            cross_entropy(tape.constant(kLogits4), y, opts).item());
}

TEST(CrossEntropy, Gradcheck) {
  IndexArray y = IndexArray::from_shape({2, 2, 2});
  std::copy(kTargets4.begin(), kTargets4.end(), y.begin());
  for (const std::string red : {"mean", "sum", "none"}) {
    for (const double eps : {0.0, 0.3}) {
      const auto opts = CrossEntropyOptions().weight({0.5, 2.0, 1.0}).label_smoothing(eps).reduction(red);
      auto r = gradcheck([&](const Vs& v) { return cross_entropy(v[0], y, opts); }, {kLogits4});
      EXPECT_TRUE(r.ok) << red << " eps " << eps << "\n" << r.report();
      const auto flat = CrossEntropyOptions().label_smoothing(eps).reduction(red).ignore_index(2);
      r = gradcheck([&](const Vs& v) { return cross_entropy(v[0], {3, 0, 2}, flat); }, {kLogits});
      EXPECT_TRUE(r.ok) << red << " eps " << eps << "\n" << r.report();
    }
  }
}

TEST(CrossEntropy, EqualsNllLossOfLogSoftmaxAndFloatAgreesWithDouble) {
  const std::vector<std::int64_t> labels{3, 0, 1};
  for (const std::string red : {"mean", "sum"}) {
    Tape<double> tape;
    const auto w = std::vector<double>{0.2, 1.0, 3.0, 0.5};
    auto a = cross_entropy(tape.constant(kLogits), labels, CrossEntropyOptions().weight(w).reduction(red));
    auto b = nll_loss(log_softmax(tape.constant(kLogits), 1), labels, NLLLossOptions().weight(w).reduction(red));
    EXPECT_NEAR(a.item(), b.item(), 1e-14);
    Tape<float> ft;
    auto f = cross_entropy(ft.constant(xt::cast<float>(kLogits)), labels, CrossEntropyOptions().weight(w).reduction(red));
    EXPECT_NEAR(f.item(), a.item(), 1e-6);
    auto fn = nll_loss(log_softmax(ft.constant(xt::cast<float>(kLogits)), 1), labels, NLLLossOptions().weight(w).reduction(red));
    EXPECT_NEAR(fn.item(), b.item(), 1e-6);
  }
}

TEST(CrossEntropy, IgnoredTargetsGetNoGradientAndAllIgnoredIsNaN) {
  Tape<double> tape;
  Parameter<double> z(kLogits);
  tape.backward(cross_entropy(tape.bind(z), {3, -100, 1}, CrossEntropyOptions().label_smoothing(0.1)));
  for (std::size_t c = 0; c < 4; ++c) EXPECT_EQ(z.grad()(1, c), 0.0);
  EXPECT_TRUE(std::isnan(cross_entropy(tape.constant(kLogits), {-100, -100, -100}).item()));
  EXPECT_EQ(cross_entropy(tape.constant(kLogits), {-100, -100, -100}, CrossEntropyOptions().reduction("sum")).item(), 0.0);
}

TEST(CrossEntropy, BadInputsAreReported) {
  Tape<double> tape;
  auto z = tape.constant(kLogits);
  expect_error_with([&] { cross_entropy(z, {0, 1, 2}, CrossEntropyOptions().reduction("avg")); },
                    "cross_entropy: reduction must be \"mean\", \"sum\" or \"none\", got \"avg\"");
  expect_error_with([&] { cross_entropy(z, {0, 1, 2}, CrossEntropyOptions().label_smoothing(1.5)); },
                    "label_smoothing must be in [0, 1], got 1.5");
  expect_error_with([&] { cross_entropy(z, {0, 1, 7}, CrossEntropyOptions().ignore_index(-1)); },
                    "label 2 is 7, outside the class indices [0, 4) and not ignore_index (-1)");
  expect_error_with([&] { cross_entropy(tape.constant(kLogits4), IndexArray::from_shape({2, 2})); },
                    "targets of shape (2, 2) for input (2, 3, 2, 2); expected (2, 2, 2)");
  expect_error_with([&] { cross_entropy(tape.constant(Array<double>::from_shape({2, 0})), {0, 0}); }, "no classes");
}

TEST(NllLoss, MatchesTheDefinitionAndGradcheck) {
  const Array<double> lp = kLogits - 3.0;  // any values: nll_loss does not need log-probabilities
  for (const std::string red : {"mean", "sum", "none"}) {
    const auto opts = NLLLossOptions().weight({0.2, 1.0, 3.0, 0.5}).reduction(red).ignore_index(1);
    Tape<double> tape;
    auto loss = nll_loss(tape.constant(lp), {3, 1, 0}, opts);
    // −w₃·lp[0, 3], ignored, −w₀·lp[2, 0]; the mean over w₃ + w₀
    const double l0 = -0.5 * lp(0, 3), l2 = -0.2 * lp(2, 0);
    if (red == "none") {
      EXPECT_NEAR(loss.value()(0), l0, 1e-15);
      EXPECT_EQ(loss.value()(1), 0.0);
      EXPECT_NEAR(loss.value()(2), l2, 1e-15);
    } else {
      EXPECT_NEAR(loss.item(), red == "mean" ? (l0 + l2) / 0.7 : l0 + l2, 1e-14);
    }
    auto r = gradcheck([&](const Vs& v) { return nll_loss(v[0], {3, 1, 0}, opts); }, {lp});
    EXPECT_TRUE(r.ok) << red << "\n" << r.report();
  }
  IndexArray y = IndexArray::from_shape({2, 2, 2});
  std::copy(kTargets4.begin(), kTargets4.end(), y.begin());
  auto r = gradcheck([&](const Vs& v) { return nll_loss(v[0], y); }, {kLogits4});
  EXPECT_TRUE(r.ok) << r.report();
  Tape<double> tape;
  expect_error_with([&] { nll_loss(tape.constant(lp), {3, 1, 4}); }, "nll_loss: label 2 is 4");
}

// ---- regression losses ------------------------------------------------------------------------------

const Array<double> kPred{{0.5, -1.0, 2.5}, {0.05, 3.0, -0.2}};
const Array<double> kTarget{{0.0, 0.3, 0.1}, {-0.02, 1.0, 0.6}};  // differences 0.5, -1.3, 2.4, 0.07, 2, -0.8

double regression_reference(const std::string& kind, double d, double h) {
  const double a = std::abs(d);
  if (kind == "mse") return d * d;
  if (kind == "l1") return a;
  if (kind == "smooth_l1") return a < h ? 0.5 * d * d / h : a - 0.5 * h;
  return a < h ? 0.5 * d * d : h * (a - 0.5 * h);  // huber
}

template <class T>
Var<T> regression(const std::string& kind, const Var<T>& a, const Var<T>& b, const std::string& red, double h) {
  if (kind == "mse") return mse_loss(a, b, MSELossOptions().reduction(red));
  if (kind == "l1") return l1_loss(a, b, L1LossOptions().reduction(red));
  if (kind == "smooth_l1") return smooth_l1_loss(a, b, SmoothL1LossOptions().reduction(red).beta(h));
  return huber_loss(a, b, HuberLossOptions().reduction(red).delta(h));
}

TEST(RegressionLosses, MatchTheDefinitionInFloatAndDouble) {
  for (const std::string kind : {"mse", "l1", "smooth_l1", "huber"}) {
    for (const double h : {1.0, 0.6}) {
      for (const std::string red : {"mean", "sum", "none"}) {
        Tape<double> tape;
        Tape<float> ft;
        auto loss = regression<double>(kind, tape.constant(kPred), tape.constant(kTarget), red, h);
        auto lossf = regression<float>(kind, ft.constant(xt::cast<float>(kPred)), ft.constant(xt::cast<float>(kTarget)),
                                       red, h);
        double total = 0;
        for (std::size_t i = 0; i < 6; ++i) {
          const double v = regression_reference(kind, kPred.data()[i] - kTarget.data()[i], h);
          total += v;
          if (red == "none") {
            EXPECT_NEAR(loss.value().data()[i], v, 1e-15) << kind;
            EXPECT_NEAR(lossf.value().data()[i], v, 1e-6) << kind;
          }
        }
        if (red != "none") {
          const double want = red == "mean" ? total / 6 : total;
          EXPECT_NEAR(loss.item(), want, 1e-14) << kind << " " << red;
          EXPECT_NEAR(lossf.item(), want, 1e-5) << kind << " " << red;
        }
      }
    }
  }
}

TEST(RegressionLosses, Gradcheck) {
  // No difference sits at a kink (0, ±β, ±δ), where the central difference is meaningless.
  for (const std::string kind : {"mse", "l1", "smooth_l1", "huber"}) {
    for (const std::string red : {"mean", "sum", "none"}) {
      auto r = gradcheck([&](const Vs& v) { return regression<double>(kind, v[0], v[1], red, 0.6); }, {kPred, kTarget});
      EXPECT_TRUE(r.ok) << kind << " " << red << "\n" << r.report();
    }
  }
  // β = 0 is the L1 loss.
  Tape<double> tape;
  EXPECT_EQ(smooth_l1_loss(tape.constant(kPred), tape.constant(kTarget), SmoothL1LossOptions().beta(0)).item(),
            l1_loss(tape.constant(kPred), tape.constant(kTarget)).item());
  EXPECT_EQ(mse(tape.constant(kPred), tape.constant(kTarget)).item(),
            mse_loss(tape.constant(kPred), tape.constant(kTarget)).item());
}

TEST(RegressionLosses, BadInputsAreReported) {
  Tape<double> tape;
  auto a = tape.constant(kPred), b = tape.constant(kTarget);
  expect_error_with([&] { smooth_l1_loss(a, b, SmoothL1LossOptions().beta(-1)); }, "smooth_l1_loss: beta must be >= 0");
  expect_error_with([&] { huber_loss(a, b, HuberLossOptions().delta(0)); }, "huber_loss: delta must be > 0");
  expect_error_with([&] { l1_loss(a, b, L1LossOptions().reduction("max")); }, "l1_loss: reduction must be");
  expect_error_with([&] { mse_loss(a, tape.constant(Array<double>::from_shape({3, 2}))); }, "mse_loss: shapes (2, 3) and (3, 2)");
  auto e = tape.constant(Array<double>::from_shape({0, 2}));
  EXPECT_EQ(l1_loss(e, e, L1LossOptions().reduction("sum")).item(), 0.0);
  expect_error_with([&] { l1_loss(e, e); }, "l1_loss: empty input of shape (0, 2)");
}

TEST(BinaryCrossEntropy, Reductions) {
  const auto opts = BCEOptions().pos_weight(2.5).neg_weight(0.4);
  const Array<double> soft{{0.1, 0.8}, {0.6, 0.3}};
  Tape<double> tape;
  auto mean = binary_cross_entropy(tape.constant(kProbs), tape.constant(soft), opts);
  auto sum = binary_cross_entropy(tape.constant(kProbs), tape.constant(soft), BCEOptions(opts).reduction("sum"));
  auto none = binary_cross_entropy(tape.constant(kProbs), tape.constant(soft), BCEOptions(opts).reduction("none"));
  EXPECT_NEAR(sum.item(), 4 * mean.item(), 1e-14);
  EXPECT_NEAR(xt::sum(none.value())(), sum.item(), 1e-14);
  auto lsum = binary_cross_entropy_with_logits(tape.constant(kLogits), tape.constant(xt::abs(xt::sin(kLogits))),
                                               BCEOptions(opts).reduction("sum"));
  auto lmean = bce_with_logits(tape.constant(kLogits), tape.constant(xt::abs(xt::sin(kLogits))), opts);
  EXPECT_NEAR(lsum.item(), 12 * lmean.item(), 1e-13);
  for (const std::string red : {"sum", "none"}) {
    auto r = gradcheck([&](const Vs& v) { return binary_cross_entropy(v[0], v[1], BCEOptions(opts).reduction(red)); },
                       {kProbs, soft});
    EXPECT_TRUE(r.ok) << red << "\n" << r.report();
    r = gradcheck(
        [&](const Vs& v) { return binary_cross_entropy_with_logits(v[0], v[1], BCEOptions(opts).reduction(red)); },
        {kLogits, Array<double>(0.05 + 0.9 * xt::abs(xt::sin(kLogits)))});
    EXPECT_TRUE(r.ok) << red << "\n" << r.report();
  }
}

// ---- metrics ----------------------------------------------------------------------------------------

TEST(Accuracy, MultiClass) {
  // arg-max of the rows of kLogits: 2, 0, 3
  EXPECT_DOUBLE_EQ(accuracy(kLogits, std::vector<std::int64_t>{2, 0, 3}), 1.0);
  EXPECT_DOUBLE_EQ(accuracy(kLogits, std::vector<std::int64_t>{2, 1, 3}), 2.0 / 3);
  Array<double> column{0.0, 1.0, 2.0};
  column.reshape({3, 1});
  EXPECT_DOUBLE_EQ(accuracy(kLogits, column), 0.0);
  // Ties go to the first maximum, as argmax does.
  EXPECT_DOUBLE_EQ(accuracy(Array<float>{{1.f, 1.f}}, Array<float>{0.f}), 1.0);
  EXPECT_THROW(accuracy(kLogits, std::vector<std::int64_t>{2, 0}), ShapeError);
  expect_error_with([&] { accuracy(kLogits, std::vector<std::int64_t>{2, 0, 4}); }, "label 2 is 4");
}

TEST(Accuracy, Binary) {
  EXPECT_DOUBLE_EQ(binary_accuracy(kProbs, Array<double>{{0, 1}, {1, 0}}), 1.0);
  EXPECT_DOUBLE_EQ(binary_accuracy(kProbs, Array<double>{{1, 1}, {0, 0}}), 0.5);
  EXPECT_DOUBLE_EQ(binary_accuracy(Array<double>{-0.3, 2.0, 0.1}, Array<double>{0, 1, 0}, 0.0), 2.0 / 3);
  EXPECT_THROW(binary_accuracy(kProbs, Array<double>{1.0}), ShapeError);
}

}  // namespace
}  // namespace tapegrad
