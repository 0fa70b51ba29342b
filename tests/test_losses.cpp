// log_softmax, softmax, softmax cross-entropy, class-weighted BCE, and the metrics.
#include "tapegrad/losses.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

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
  EXPECT_THROW(softmax_cross_entropy(tape.constant(Array<double>{1.0, 2.0}), {0}), ShapeError);
  expect_error_with([&] { softmax_cross_entropy(z, {3, 0, 1}, CrossEntropyOptions().class_weights({1, 2})); },
                    "2 class weights for 4 classes");
  expect_error_with([&] { softmax_cross_entropy(z, {3, 0, 1}, CrossEntropyOptions().class_weights({1, 1, 1, -1})); },
                    "class weight 3 is -1");
  expect_error_with([&] { softmax_cross_entropy(z, {1, 1, 1}, CrossEntropyOptions().class_weights({1, 0, 1, 1})); },
                    "are 0");
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
  expect_error_with([&] { bce(p, y, BCEOptions().pos_weight(-1)); }, "bce: pos_weight is -1");
  expect_error_with([&] { bce_with_logits(p, y, BCEOptions().neg_weight(INFINITY)); }, "neg_weight is inf");
  expect_error_with([&] { bce(tape.constant(Array<double>{1.5}), tape.constant(Array<double>{1.0}), BCEOptions()); },
                    "must lie in [0, 1]");
  EXPECT_THROW(bce(p, tape.constant(Array<double>{1.0}), BCEOptions()), ShapeError);
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
