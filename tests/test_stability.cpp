// Numerical stability at extreme inputs (finite values and gradients), and deep graphs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tapegrad/losses.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;
using tg::Array;

namespace {

template <class T>
bool all_finite(const Array<T>& a) {
  for (T v : a) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

const std::vector<double> kExtremes = {-1e4, -1e3, -100, -40, -1, 0, 1, 40, 100, 1e3, 1e4};

template <class T>
Array<T> extremes() {
  Array<T> z = Array<T>::from_shape({kExtremes.size()});
  for (std::size_t i = 0; i < kExtremes.size(); ++i) z(i) = T(kExtremes[i]);
  return z;
}

}  // namespace

template <class T>
class Stability : public ::testing::Test {};
using Floats = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Stability, Floats);

TYPED_TEST(Stability, SigmoidIsFiniteWithFiniteGradientUpTo1e4) {
  using T = TypeParam;
  tg::Tape<T> tape;
  tg::Parameter<T> z(extremes<T>());
  tg::AnomalyGuard anomaly;  // any NaN/Inf in a value or gradient would throw
  auto s = tg::sigmoid(tg::Var<T>(tape.bind(z)));
  const Array<T> y = s.value();
  tape.backward(tg::sum(s));
  ASSERT_TRUE(all_finite(y));
  EXPECT_EQ(y(0), T(0));                    // σ(-1e4) underflows to exactly 0
  EXPECT_EQ(y(kExtremes.size() - 1), T(1));  // σ(1e4) rounds to exactly 1
  EXPECT_EQ(y(5), T(0.5));
  for (std::size_t i = 0; i + 1 < y.size(); ++i) EXPECT_LE(y(i), y(i + 1));
  EXPECT_TRUE(all_finite(z.grad()));
  EXPECT_EQ(z.grad()(0), T(0));
  EXPECT_EQ(z.grad()(5), T(0.25));
}

TYPED_TEST(Stability, BceWithLogitsUpTo1e4) {
  using T = TypeParam;
  const Array<T> zs = extremes<T>();
  for (T target : {T(0), T(1)}) {
    for (std::size_t i = 0; i < zs.size(); ++i) {
      tg::Tape<T> tape;
      tg::Parameter<T> z(Array<T>{zs(i)});
      tg::AnomalyGuard anomaly;
      auto loss = tg::bce_with_logits(tape.bind(z), tape.constant(Array<T>{target}));
      const double l = double(loss.item());
      tape.backward(loss);
      // The exact loss: softplus(z) - z·y, i.e. max(z, 0) - z·y + log1p(exp(-|z|)).
      const double zd = double(zs(i));
      const double expected = std::max(zd, 0.0) - zd * double(target) + std::log1p(std::exp(-std::abs(zd)));
      EXPECT_NEAR(l, expected, 1e-6 * std::max(1.0, expected)) << "z = " << zd << ", y = " << target;
      // Its gradient σ(z) - y, in [-1, 1].
      const double g = double(z.grad()(0));
      const double sig = 1.0 / (1.0 + std::exp(-zd));
      EXPECT_NEAR(g, sig - double(target), 1e-6) << "z = " << zd << ", y = " << target;
    }
  }
}

TYPED_TEST(Stability, BceClampsLogOfZero) {
  using T = TypeParam;
  // p = 0 and p = 1 hit log(0); each log is clamped at -100 (as PyTorch), so the loss is finite,
  // and the gradient's denominator p(1-p) is clamped at 1e-12.
  tg::Tape<T> tape;
  tg::Parameter<T> p(Array<T>{T(0), T(1), T(0), T(1)});
  const Array<T> y{T(1), T(0), T(0), T(1)};
  tg::AnomalyGuard anomaly;
  auto loss = tg::bce(tg::Var<T>(tape.bind(p)), tape.constant(y));
  EXPECT_NEAR(double(loss.item()), (100.0 + 100.0 + 0.0 + 0.0) / 4, 1e-4);
  tape.backward(loss);
  const Array<T>& g = p.grad();
  ASSERT_TRUE(all_finite(g));
  EXPECT_LT(g(0), T(0));  // p = 0, y = 1: push p up
  EXPECT_GT(g(1), T(0));  // p = 1, y = 0: push p down
  EXPECT_EQ(g(2), T(0));  // p = y: no gradient
  EXPECT_EQ(g(3), T(0));
}

TYPED_TEST(Stability, SigmoidThenBceSaturatedStaysFinite) {
  using T = TypeParam;
  // The unfused path with saturated logits: sigmoid gives exactly 0 or 1, bce clamps.
  tg::Tape<T> tape;
  tg::Parameter<T> z(Array<T>{T(-1e4), T(1e4)});
  tg::AnomalyGuard anomaly;
  auto loss = tg::bce(tg::sigmoid(tg::Var<T>(tape.bind(z))), tape.constant(Array<T>{T(1), T(0)}));
  EXPECT_TRUE(std::isfinite(loss.item()));
  tape.backward(loss);
  EXPECT_TRUE(all_finite(z.grad()));
}

TYPED_TEST(Stability, LogSoftmaxOfLogits1e4) {
  using T = TypeParam;
  tg::Tape<T> tape;
  tg::Parameter<T> z(Array<T>{{T(1e4), T(0), T(-1e4)}, {T(1e4), T(1e4), T(-1e4)}});
  tg::AnomalyGuard anomaly;
  auto ls = tg::log_softmax(tg::Var<T>(tape.bind(z)));
  const Array<T> v = ls.value();
  ASSERT_TRUE(all_finite(v));
  // Row 0: the max dominates: (0, -1e4, -2e4). Row 1: two equal maxima share: -log 2.
  EXPECT_EQ(v(0, 0), T(0));
  EXPECT_EQ(v(0, 1), T(-1e4));
  EXPECT_EQ(v(0, 2), T(-2e4));
  EXPECT_NEAR(double(v(1, 0)), -std::log(2.0), 1e-6);
  EXPECT_NEAR(double(v(1, 1)), -std::log(2.0), 1e-6);
  // d/dz of Σ log_softmax·w is w − softmax·Σw: finite, and zero-sum per row.
  const Array<T> w{{T(1), T(2), T(3)}, {T(-1), T(0.5), T(2)}};
  tape.backward(ls, w);
  ASSERT_TRUE(all_finite(z.grad()));
  EXPECT_NEAR(double(z.grad()(0, 0) + z.grad()(0, 1) + z.grad()(0, 2)), 0.0, 1e-5);
  EXPECT_NEAR(double(z.grad()(0, 2)), 3.0, 1e-6);  // softmax ≈ (1, 0, 0): w − (Σw, 0, 0)
}

TYPED_TEST(Stability, SoftmaxCrossEntropyOfLogits1e4) {
  using T = TypeParam;
  tg::Tape<T> tape;
  tg::Parameter<T> z(Array<T>{{T(1e4), T(-1e4)}, {T(-1e4), T(1e4)}});
  tg::AnomalyGuard anomaly;
  // Row 0 right (loss 0), row 1 wrong by 2e4 (loss 2e4): mean 1e4.
  auto loss = tg::softmax_cross_entropy(tg::Var<T>(tape.bind(z)), {0, 0});
  EXPECT_NEAR(double(loss.item()), 1e4, 1e-2);
  tape.backward(loss);
  ASSERT_TRUE(all_finite(z.grad()));
  EXPECT_NEAR(double(z.grad()(1, 0)), -0.5, 1e-6);  // (softmax − onehot) / N
  EXPECT_NEAR(double(z.grad()(1, 1)), 0.5, 1e-6);
}

// ---- deep graphs ---------------------------------------------------------------------------------

TEST(DeepGraph, HundredThousandOpsBackwardAndFree) {
  constexpr int kDepth = 100000;
  tg::Tape<double> tape;
  tg::Parameter<double> x(Array<double>{2.0, 3.0});
  tg::Var<double> h = tape.bind(x);
  for (int i = 0; i < kDepth / 2; ++i) {
    h = tg::relu(h);             // x > 0: the identity, gradient 1
    h = tg::affine(h, 1.0, 0.0);  // h·1 + 0
  }
  auto loss = tg::sum(h);
  EXPECT_EQ(tape.size(), std::size_t(kDepth) + 2);  // the bound parameter, the chain, the sum
  EXPECT_EQ(loss.item(), 5.0);
  tape.backward(loss);  // iterative: no recursion, no stack growth
  EXPECT_EQ(tape.size(), 0u);
  EXPECT_EQ(tape.bytes_in_use(), 0u);
  EXPECT_EQ(x.grad()(0), 1.0);
  EXPECT_EQ(x.grad()(1), 1.0);
}

TEST(DeepGraph, HundredThousandOpsFreedByTheTapesDestructor) {
  tg::Parameter<float> x(Array<float>{1.f});
  {
    tg::Tape<float> tape;
    tg::Var<float> h = tape.bind(x);
    for (int i = 0; i < 100000; ++i) h = tg::tanh(h);
    EXPECT_EQ(tape.size(), 100001u);  // the bound parameter and the chain
  }  // the tape and its 100,000 entries are destroyed here
  SUCCEED();
}

TEST(DeepGraph, HundredThousandOpsWithAnomalyModeAndKeepGraph) {
  tg::Tape<float> tape;
  tg::Parameter<float> x(Array<float>{0.5f});
  tg::AnomalyGuard anomaly;
  tg::Var<float> h = tape.bind(x);
  for (int i = 0; i < 100000; ++i) h = tg::mul(h, tape.constant(Array<float>{1.f}));
  auto loss = tg::sum(h);
  tape.backward(loss, tg::BackwardOptions{true});
  EXPECT_EQ(x.grad()(0), 1.f);
  EXPECT_EQ(tape.size(), 200002u);  // kept: the bound parameter, 100,000 constants and muls, the sum
  tape.clear();
  EXPECT_EQ(tape.size(), 0u);
}
