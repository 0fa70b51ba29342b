// nn::init: fans and gains as PyTorch computes them, and the statistics of each initialiser.
#include "tapegrad/nn/init.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "tapegrad/nn/linear.hpp"

namespace tapegrad::nn {
namespace {

double mean_of(const Array<double>& a) { return xt::mean(a)(); }
double std_of(const Array<double>& a) { return std::sqrt(xt::mean(xt::square(a - mean_of(a)))()); }

TEST(Init, FansAndGainsAsPyTorch) {
  // (out, in, kh, kw) = (16, 8, 3, 3): fan_in = 8·9, fan_out = 16·9
  const init::Fans f = init::calculate_fan_in_and_fan_out({16, 8, 3, 3});
  EXPECT_EQ(f.fan_in, 72u);
  EXPECT_EQ(f.fan_out, 144u);
  EXPECT_EQ(init::calculate_fan_in_and_fan_out({5, 7}).fan_in, 7u);
  EXPECT_THROW(init::calculate_fan_in_and_fan_out({5}), ValueError);
  EXPECT_EQ(init::calculate_gain("linear"), 1.0);
  EXPECT_EQ(init::calculate_gain("conv2d"), 1.0);
  EXPECT_EQ(init::calculate_gain("sigmoid"), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu"), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu", 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_DOUBLE_EQ(init::calculate_gain("selu"), 0.75);
  EXPECT_THROW(init::calculate_gain("swish"), ValueError);
}

TEST(Init, DistributionsHaveTheirMomentsAndBounds) {
  Rng rng(3);
  Parameter<double> w(Array<double>::from_shape({200, 300}));  // fan_in 300, fan_out 200
  init::uniform_(w, -2.0, 3.0, rng);
  EXPECT_GE(xt::amin(w.value())(), -2.0);
  EXPECT_LT(xt::amax(w.value())(), 3.0);
  EXPECT_NEAR(mean_of(w.value()), 0.5, 0.02);
  init::normal_(w, 1.0, 0.5, rng);
  EXPECT_NEAR(mean_of(w.value()), 1.0, 0.01);
  EXPECT_NEAR(std_of(w.value()), 0.5, 0.01);
  init::constant_(w, 0.25);
  EXPECT_TRUE(xt::all(xt::equal(w.value(), 0.25)));
  init::zeros_(w);
  EXPECT_TRUE(xt::all(xt::equal(w.value(), 0.0)));
  init::ones_(w);
  EXPECT_TRUE(xt::all(xt::equal(w.value(), 1.0)));

  init::xavier_uniform_(w, 2.0, rng);
  const double xa = 2.0 * std::sqrt(6.0 / 500);
  EXPECT_LE(xt::amax(xt::abs(w.value()))(), xa);
  EXPECT_NEAR(std_of(w.value()), xa / std::sqrt(3.0), 0.01 * xa);
  init::xavier_normal_(w, rng);
  EXPECT_NEAR(std_of(w.value()), std::sqrt(2.0 / 500), 0.01 * std::sqrt(2.0 / 500));

  init::kaiming_uniform_(w, rng);  // a = 0, fan_in, leaky_relu: gain √2, bound √2·√(3/300)
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 300);
  EXPECT_LE(xt::amax(xt::abs(w.value()))(), bound);
  EXPECT_NEAR(std_of(w.value()), bound / std::sqrt(3.0), 0.01 * bound);
  init::kaiming_uniform_(w, std::sqrt(5.0), rng);  // nn.Linear's default: bound 1/√fan_in
  EXPECT_LE(xt::amax(xt::abs(w.value()))(), 1 / std::sqrt(300.0) + 1e-15);
  init::kaiming_normal_(w, 0.0, "fan_out", "relu", rng);
  EXPECT_NEAR(std_of(w.value()), std::sqrt(2.0 / 200), 0.01 * std::sqrt(2.0 / 200));
  EXPECT_THROW(init::kaiming_normal_(w, 0.0, "fan_avg", rng), ValueError);
  EXPECT_THROW(init::uniform_(w, 1.0, 0.0, rng), ValueError);
  EXPECT_THROW(init::normal_(w, 0.0, -1.0, rng), ValueError);
}

TEST(Init, KaimingOfALinearWeightNeedsFanOut) {
  // tapegrad's Linear weight is (in, out): PyTorch's fan_in (shape[1]) is its out; mode
  // "fan_out" scales by `in`, as Linear's own He-normal default does.
  Rng rng(5);
  Linear<double> fc(LinearOptions(400, 50), rng);
  EXPECT_NEAR(std_of(fc.weight().value()), std::sqrt(2.0 / 400), 0.02 * std::sqrt(2.0 / 400));
  init::kaiming_normal_(fc.weight(), 0.0, "fan_out", "relu", rng);
  EXPECT_NEAR(std_of(fc.weight().value()), std::sqrt(2.0 / 400), 0.02 * std::sqrt(2.0 / 400));
}

TEST(Init, OrthogonalRowsOrColumns) {
  Rng rng(7);
  for (const Shape& shape : {Shape{6, 4}, Shape{4, 6}, Shape{3, 2, 2}}) {
    Parameter<double> w(Array<double>::from_shape(shape));
    init::orthogonal_(w, 1.5, rng);
    const std::size_t rows = shape[0], cols = w.value().size() / rows;
    const std::size_t k = std::min(rows, cols);
    // The smaller Gram matrix is gain²·I.
    for (std::size_t a = 0; a < k; ++a) {
      for (std::size_t b = 0; b < k; ++b) {
        double dot = 0;
        for (std::size_t i = 0; i < std::max(rows, cols); ++i) {
          dot += rows < cols ? w.value().data()[a * cols + i] * w.value().data()[b * cols + i]
                             : w.value().data()[i * cols + a] * w.value().data()[i * cols + b];
        }
        EXPECT_NEAR(dot, a == b ? 2.25 : 0.0, 1e-12) << to_string(shape);
      }
    }
  }
  Parameter<double> v(Array<double>{1.0, 2.0});
  EXPECT_THROW(init::orthogonal_(v, rng), ValueError);
}

TEST(Init, SameSeedSameDrawsAndFloatAgreesWithDouble) {
  Rng a(11), b(11);
  Parameter<float> f(Array<float>::from_shape({3, 4}));
  Parameter<double> d(Array<double>::from_shape({3, 4}));
  init::kaiming_uniform_(f, a);
  init::kaiming_uniform_(d, b);
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(f.value().data()[i], float(d.value().data()[i]));
}

}  // namespace
}  // namespace tapegrad::nn
