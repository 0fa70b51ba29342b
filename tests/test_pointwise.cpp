// The elementwise ops and activations of the N-d vocabulary (tapegrad/pointwise.hpp): values in
// float and double against <cmath>, gradchecks away from kinks, and the gradient PyTorch defines
// at each kink (checked exactly, since central differences cannot).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "op_testing.hpp"
#include "tapegrad/pointwise.hpp"

namespace tg = tapegrad;
using namespace op_testing;

namespace {
// f applied to each element of x.
template <class F>
Array<double> map(const Array<double>& x, F f) {
  Array<double> y = x;
  for (auto& v : y) v = f(v);
  return y;
}
const Array<double> kX = {{-2.5, -1.0, -0.3, 0.0}, {0.4, 1.0, 2.0, 30.0}};
const Array<double> kPositive = {{0.2, 0.5, 1.0, 2.0}, {3.0, 4.5, 7.0, 10.0}};
}  // namespace

TEST(Pointwise, ArithmeticValues) {
  expect_forward([](const auto& v) { return tg::pow(v[0], 3.0); }, {kX}, map(kX, [](double v) { return v * v * v; }));
  expect_forward([](const auto& v) { return tg::pow(v[0], 2.0); }, {kX}, map(kX, [](double v) { return v * v; }));
  expect_forward([](const auto& v) { return tg::pow(v[0], -0.5); }, {kPositive},
                 map(kPositive, [](double v) { return 1 / std::sqrt(v); }));
  expect_forward([](const auto& v) { return tg::pow(v[0], v[1]); }, {kPositive, tg::column({2.0, 0.5})},
                 Array<double>{{0.04, 0.25, 1, 4}, {std::sqrt(3.0), std::sqrt(4.5), std::sqrt(7.0), std::sqrt(10.0)}});
  expect_forward([](const auto& v) { return tg::sqrt(v[0]); }, {kPositive}, map(kPositive, [](double v) { return std::sqrt(v); }));
  expect_forward([](const auto& v) { return tg::rsqrt(v[0]); }, {kPositive},
                 map(kPositive, [](double v) { return 1 / std::sqrt(v); }));
  expect_forward([](const auto& v) { return tg::abs(v[0]); }, {kX}, map(kX, [](double v) { return std::abs(v); }));
  expect_forward([](const auto& v) { return tg::square(v[0]); }, {kX}, map(kX, [](double v) { return v * v; }));
  expect_forward([](const auto& v) { return tg::clamp(v[0], -1.0, 1.0); }, {kX},
                 map(kX, [](double v) { return std::min(std::max(v, -1.0), 1.0); }));
  expect_forward([](const auto& v) { return tg::clamp(v[0], std::nullopt, 0.5); }, {kX},
                 map(kX, [](double v) { return std::min(v, 0.5); }));
  expect_forward([](const auto& v) { return tg::clamp(v[0], 2.0, 1.0); }, {kX}, map(kX, [](double) { return 1.0; }));
  expect_forward([](const auto& v) { return tg::log1p(v[0]); }, {kPositive}, map(kPositive, [](double v) { return std::log1p(v); }));
  expect_forward([](const auto& v) { return tg::sin(v[0]); }, {kX}, map(kX, [](double v) { return std::sin(v); }));
  expect_forward([](const auto& v) { return tg::cos(v[0]); }, {kX}, map(kX, [](double v) { return std::cos(v); }));
  const Array<double> row = {{0.0, -1.0, 5.0, 0.0}};
  expect_forward([](const auto& v) { return tg::maximum(v[0], v[1]); }, {kX, row},
                 Array<double>{{0, -1, 5, 0}, {0.4, 1, 5, 30}});
  expect_forward([](const auto& v) { return tg::minimum(v[0], v[1]); }, {kX, row},
                 Array<double>{{-2.5, -1, -0.3, 0}, {0, -1, 2, 0}});
}

TEST(Pointwise, ActivationValues) {
  const double kSqrt2 = std::sqrt(2.0), kPi = std::acos(-1.0);
  expect_forward([](const auto& v) { return tg::leaky_relu(v[0]); }, {kX},
                 map(kX, [](double v) { return v > 0 ? v : 0.01 * v; }));
  expect_forward([](const auto& v) { return tg::leaky_relu(v[0], 0.2); }, {kX},
                 map(kX, [](double v) { return v > 0 ? v : 0.2 * v; }));
  expect_forward([](const auto& v) { return tg::elu(v[0]); }, {kX},
                 map(kX, [](double v) { return v > 0 ? v : std::expm1(v); }));
  expect_forward([](const auto& v) { return tg::elu(v[0], 0.5); }, {kX},
                 map(kX, [](double v) { return v > 0 ? v : 0.5 * std::expm1(v); }));
  expect_forward([](const auto& v) { return tg::gelu(v[0]); }, {kX},
                 map(kX, [&](double v) { return 0.5 * v * (1 + std::erf(v / kSqrt2)); }));
  expect_forward([](const auto& v) { return tg::gelu(v[0], "tanh"); }, {kX}, map(kX, [&](double v) {
                   return 0.5 * v * (1 + std::tanh(std::sqrt(2 / kPi) * (v + 0.044715 * v * v * v)));
                 }));
  expect_forward([](const auto& v) { return tg::silu(v[0]); }, {kX}, map(kX, [](double v) { return v / (1 + std::exp(-v)); }));
  expect_forward([](const auto& v) { return tg::softplus(v[0]); }, {kX},
                 map(kX, [](double v) { return v > 20 ? v : std::log1p(std::exp(v)); }));
  expect_forward([](const auto& v) { return tg::softplus(v[0], 2.0, 1.0); }, {kX},
                 map(kX, [](double v) { return 2 * v > 1 ? v : std::log1p(std::exp(2 * v)) / 2; }));
}

TEST(Pointwise, Gradcheck) {
  tg::Rng rng(1);
  const auto x = away_from_zero(rng, {3, 4});
  const auto pos = uniform(rng, {3, 4}, 0.3, 3.0);
  expect_gradcheck([](const Vars& v) { return tg::pow(v[0], 3.0); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::pow(v[0], -1.5); }, {pos});
  expect_gradcheck([](const Vars& v) { return tg::pow(v[0], v[1]); }, {pos, randn(rng, {3, 4})});
  expect_gradcheck([](const Vars& v) { return tg::pow(v[0], v[1]); }, {pos, randn(rng, {4})});       // broadcast
  expect_gradcheck([](const Vars& v) { return tg::pow(v[0], v[1]); }, {uniform(rng, {3, 1}, 0.5, 2), randn(rng, {2, 1, 4})});
  expect_gradcheck([](const Vars& v) { return tg::sqrt(v[0]); }, {pos});
  expect_gradcheck([](const Vars& v) { return tg::rsqrt(v[0]); }, {pos});
  expect_gradcheck([](const Vars& v) { return tg::abs(v[0]); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::square(v[0]); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::clamp(v[0], -0.55, 0.45); }, {x * 0.9});
  expect_gradcheck([](const Vars& v) { return tg::maximum(v[0], v[1]); }, {x, randn(rng, {3, 4})});
  expect_gradcheck([](const Vars& v) { return tg::minimum(v[0], v[1]); }, {x, randn(rng, {1, 4})});
  expect_gradcheck([](const Vars& v) { return tg::minimum(v[1], v[0]); }, {x, randn(rng, {2, 3, 1})});
  expect_gradcheck([](const Vars& v) { return tg::log1p(v[0]); }, {pos});
  expect_gradcheck([](const Vars& v) { return tg::sin(v[0]); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::cos(v[0]); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::leaky_relu(v[0], 0.1); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::elu(v[0], 0.7); }, {x * 2.0});
  expect_gradcheck([](const Vars& v) { return tg::gelu(v[0]); }, {x * 2.0});
  expect_gradcheck([](const Vars& v) { return tg::gelu(v[0], "tanh"); }, {x * 2.0});
  expect_gradcheck([](const Vars& v) { return tg::silu(v[0]); }, {x * 2.0});
  expect_gradcheck([](const Vars& v) { return tg::softplus(v[0]); }, {x * 5.0});
  expect_gradcheck([](const Vars& v) { return tg::softplus(v[0], 3.0, 2.0); }, {x});
}

TEST(Pointwise, GradientsAtKinksAsPyTorch) {
  const Array<double> at = {-1.0, 0.0, 1.0, 2.0};
  auto grad = [&](auto f) { return gradient(f, at); };
  EXPECT_EQ(grad([](const tg::Var<double>& v) { return tg::abs(v); }), (Array<double>{-1, 0, 1, 1}));
  EXPECT_EQ(grad([](const tg::Var<double>& v) { return tg::leaky_relu(v, 0.2); }), (Array<double>{0.2, 0.2, 1, 1}));
  EXPECT_EQ(grad([](const tg::Var<double>& v) { return tg::elu(v, 0.5); }),
            (Array<double>{0.5 * std::exp(-1.0), 0.5, 1, 1}));
  // clamp passes the gradient at its bounds, inclusive.
  EXPECT_EQ(grad([](const tg::Var<double>& v) { return tg::clamp(v, 0.0, 1.0); }), (Array<double>{0, 1, 1, 0}));
  EXPECT_EQ(grad([](const tg::Var<double>& v) { return tg::pow(v, 0.0); }), (Array<double>{0, 0, 0, 0}));
  // maximum and minimum split the gradient at ties.
  tg::Parameter<double> a(Array<double>{1.0, 2.0, 3.0}), b(Array<double>{1.0, 5.0, 0.0});
  tg::Tape<double> tape;
  tape.backward(tg::maximum(tape.bind(a), tape.bind(b)), Array<double>{1, 1, 1});
  EXPECT_EQ(a.grad(), (Array<double>{0.5, 0, 1}));
  EXPECT_EQ(b.grad(), (Array<double>{0.5, 1, 0}));
  // pow(x, y) with x = 0: d/dy is 0 where y >= 0.
  tg::Parameter<double> base(Array<double>{0.0, 0.0}), e(Array<double>{2.0, 0.0});
  tape.backward(tg::pow(tape.bind(base), tape.bind(e)), Array<double>{1, 1});
  EXPECT_EQ(e.grad(), (Array<double>{0, 0}));
  EXPECT_EQ(base.grad(), (Array<double>{0, 0}));
}

TEST(Pointwise, NaNPropagatesThroughMaximumAndClamp) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  tg::Tape<double> tape;
  auto a = tape.constant(Array<double>{nan, 1.0});
  auto b = tape.constant(Array<double>{0.0, nan});
  EXPECT_TRUE(std::isnan(tg::maximum(a, b).value()(0)));
  EXPECT_TRUE(std::isnan(tg::maximum(a, b).value()(1)));
  EXPECT_TRUE(std::isnan(tg::minimum(a, b).value()(1)));
  EXPECT_TRUE(std::isnan(tg::clamp(a, 0.0, 1.0).value()(0)));
}

TEST(Pointwise, SoftplusIsStableAndGeluStrings) {
  tg::Tape<float> tape;
  auto big = tape.constant(Array<float>{-200.f, 200.f});
  EXPECT_EQ(tg::softplus(big).value(), (Array<float>{0.f, 200.f}));
  EXPECT_THROW(tg::gelu(big, "erf"), tg::ValueError);
}
