// SGD (plain, momentum, dampening, Nesterov, weight decay) against steps computed from the
// equations in its doc comment, the optimizer base's checks, and state save/restore.
#include "tapegrad/optim/sgd.hpp"

#include <gtest/gtest.h>

#include "optim_testing.hpp"

namespace tapegrad::testing {
namespace {

using optim::SGD;
using optim::SGDOptions;

// The doc comment's equations, one element at a time.
std::vector<Array<double>> sgd_by_hand(int steps, double lr, double mu, double tau, double wd, bool nesterov) {
  std::vector<Array<double>> theta = initial_values();
  std::vector<Array<double>> buf;
  for (const auto& th : theta) buf.push_back(xt::zeros<double>(th.shape()));
  for (int t = 1; t <= steps; ++t) {
    for (std::size_t i = 0; i < theta.size(); ++i) {
      for (std::size_t k = 0; k < theta[i].size(); ++k) {
        double& th = theta[i].data()[k];
        double& b = buf[i].data()[k];
        double g = grad_value(t, i, k);
        if (wd != 0) g = g + wd * th;
        if (mu != 0) {
          b = t == 1 ? g : mu * b + (1 - tau) * g;
          g = nesterov ? g + mu * b : b;
        }
        th = th - lr * g;
      }
    }
  }
  return theta;
}

TEST(SGD, PlainStepByHand) {
  // θ ← θ − γ g: 1 − 0.1·0.5 = 0.95, then 0.95 − 0.1·(−1) = 1.05
  Parameter<double> p(Array<double>{1.0});
  SGD<double> opt({p}, 0.1);
  p.mutable_grad() = Array<double>{0.5};
  opt.step();
  EXPECT_DOUBLE_EQ(p.value()(0), 0.95);
  opt.zero_grad();
  p.mutable_grad() = Array<double>{-1.0};
  opt.step();
  EXPECT_DOUBLE_EQ(p.value()(0), 1.05);
  EXPECT_EQ(opt.state_dict().step, 2u);
  EXPECT_TRUE(opt.state_dict().buffers.empty());  // plain SGD keeps no buffers
}

TEST(SGD, MomentumStepsByHand) {
  // μ = 0.9, γ = 0.1, θ0 = 1, g = 0.5, 0.5:  b1 = 0.5, θ1 = 0.95;  b2 = 0.45 + 0.5 = 0.95, θ2 = 0.855
  Parameter<double> p(Array<double>{1.0});
  SGD<double> opt({p}, SGDOptions(0.1).momentum(0.9));
  for (int t = 0; t < 2; ++t) {
    opt.zero_grad();
    p.mutable_grad() = Array<double>{0.5};
    opt.step();
  }
  EXPECT_NEAR(p.value()(0), 0.855, 1e-15);
}

TEST(SGD, MatchesTheEquations) {
  struct Case {
    double lr, mu, tau, wd;
    bool nesterov;
  };
  for (const Case& c : {Case{0.1, 0, 0, 0, false}, Case{0.1, 0, 0, 0.2, false}, Case{0.05, 0.9, 0, 0, false},
                        Case{0.05, 0.9, 0.3, 0.1, false}, Case{0.05, 0.8, 0, 0, true}, Case{0.05, 0.8, 0, 0.2, true}}) {
    auto params = make_params(initial_values());
    SGD<double> opt(params, SGDOptions(c.lr).momentum(c.mu).dampening(c.tau).weight_decay(c.wd).nesterov(c.nesterov));
    run(opt, params, 1, 5);
    SCOPED_TRACE(::testing::Message() << "lr " << c.lr << " momentum " << c.mu << " dampening " << c.tau
                                      << " weight_decay " << c.wd << " nesterov " << c.nesterov);
    expect_close(params, sgd_by_hand(5, c.lr, c.mu, c.tau, c.wd, c.nesterov));
  }
}

TEST(SGD, NesterovDiffersFromMomentum) {
  auto a = make_params(initial_values());
  auto b = make_params(initial_values());
  SGD<double> plain(a, SGDOptions(0.05).momentum(0.8));
  SGD<double> nesterov(b, SGDOptions(0.05).momentum(0.8).nesterov(true));
  run(plain, a, 1, 3);
  run(nesterov, b, 1, 3);
  EXPECT_GT(xt::amax(xt::abs(a[0].value() - b[0].value()))(), 1e-3);
}

TEST(SGD, StateRoundTripContinuesIdentically) {
  expect_state_round_trip(
      [](std::vector<Parameter<double>>& p) { return SGD<double>(p, SGDOptions(0.05).momentum(0.9)); });
  expect_state_round_trip([](std::vector<Parameter<double>>& p) {
    return SGD<double>(p, SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(0.1));
  });
  auto params = make_params(initial_values());
  SGD<double> opt(params, SGDOptions(0.1).momentum(0.5));
  std::vector<std::string> keys;
  for (const auto& [k, v] : opt.state_dict().buffers) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"momentum_buffer.0", "momentum_buffer.1"}));
}

TEST(SGD, LoadingAnotherOptimizersStateIsRefused) {
  auto params = make_params(initial_values());
  SGD<double> with_momentum(params, SGDOptions(0.1).momentum(0.5));
  SGD<double> plain(params, 0.1);
  expect_value_error([&] { plain.load_state_dict(with_momentum.state_dict()); },
                     {"SGD::load_state_dict", "unexpected 'momentum_buffer.0'", "unexpected 'momentum_buffer.1'"});
  expect_value_error([&] { with_momentum.load_state_dict(plain.state_dict()); },
                     {"missing 'momentum_buffer.0'", "missing 'momentum_buffer.1'"});
  OptimizerState<double> twice = with_momentum.state_dict();
  twice.buffers.push_back(twice.buffers[0]);
  expect_value_error([&] { with_momentum.load_state_dict(twice); }, {"'momentum_buffer.0' appears more than once"});
}

TEST(SGD, InvalidOptionsNameTheOption) {
  auto params = make_params(initial_values());
  expect_value_error([&] { SGD<double>(params, 0.0); }, {"SGD", "lr"});
  expect_value_error([&] { SGD<double>(params, std::nan("")); }, {"SGD", "lr"});
  expect_value_error([&] { SGD<double>(params, SGDOptions(0.1).momentum(-0.5)); }, {"SGD", "momentum"});
  expect_value_error([&] { SGD<double>(params, SGDOptions(0.1).dampening(1.5)); }, {"SGD", "dampening"});
  expect_value_error([&] { SGD<double>(params, SGDOptions(0.1).weight_decay(-1)); }, {"SGD", "weight_decay"});
  expect_value_error([&] { SGD<double>(params, SGDOptions(0.1).nesterov(true)); }, {"SGD", "nesterov", "momentum"});
  expect_value_error([&] { SGD<double>(params, SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)); },
                     {"SGD", "nesterov", "dampening"});
}

TEST(Optimizer, RejectsUndefinedAndRepeatedParameters) {
  auto params = make_params(initial_values());
  expect_value_error([&] { SGD<double>({params[0], Parameter<double>()}, 0.1); }, {"SGD", "parameter 1 is undefined"});
  expect_value_error([&] { SGD<double>({params[0], params[1], params[0]}, 0.1); },
                     {"parameters 0 and 2 are the same parameter"});
}

TEST(Optimizer, LearningRateCanBeChanged) {
  Parameter<double> p(Array<double>{1.0});
  SGD<double> opt({p}, 0.1);
  opt.set_learning_rate(0.5);
  EXPECT_EQ(opt.learning_rate(), 0.5);
  p.mutable_grad() = Array<double>{1.0};
  opt.step();
  EXPECT_DOUBLE_EQ(p.value()(0), 0.5);
  EXPECT_THROW(opt.set_learning_rate(-0.1), ValueError);
  EXPECT_THROW(opt.set_learning_rate(INFINITY), ValueError);
  EXPECT_EQ(opt.learning_rate(), 0.5);
  EXPECT_EQ(opt.step_count(), 1u);
}

TEST(SGD, FloatWorks) {
  Parameter<float> p(Array<float>{1.f, 2.f});
  SGD<float> opt({p}, SGDOptions(0.5).momentum(0.5).nesterov(true));
  p.mutable_grad() = Array<float>{1.f, -1.f};
  opt.step();
  // b = g, θ ← θ − γ (g + μ b) = θ − 0.5 · 1.5 g
  EXPECT_FLOAT_EQ(p.value()(0), 0.25f);
  EXPECT_FLOAT_EQ(p.value()(1), 2.75f);
}

}  // namespace
}  // namespace tapegrad::testing

// Reading a gradient is not a gradient: a parameter whose gradient was only read is skipped by
// step(), weight decay included (it used to move 1 -> 0.95).
TEST(SGD, ReadingAGradientDoesNotMakeTheStepMoveAParameter) {
  tapegrad::Parameter<double> p(tapegrad::Array<double>{1.0});
  tapegrad::optim::SGD<double> opt({p}, tapegrad::optim::SGDOptions(0.1).weight_decay(0.5));
  EXPECT_DOUBLE_EQ(p.grad()(0), 0.0);
  opt.step();
  EXPECT_DOUBLE_EQ(p.value()(0), 1.0);
}
