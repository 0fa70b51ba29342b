// Adam and AdamW against steps computed from the equations in their doc comments.
#include "tapegrad/optim/adam.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "optim_testing.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"

namespace tapegrad::testing {
namespace {

using optim::Adam;
using optim::AdamOptions;
using optim::AdamW;
using optim::AdamWOptions;

// The doc comment's equations, one element at a time, written independently of the library.
std::vector<Array<double>> adam_by_hand(int steps, double lr, double b1, double b2, double eps, double wd,
                                        bool amsgrad, bool decoupled) {
  std::vector<Array<double>> theta = initial_values();
  std::vector<Array<double>> m, v, vmax;
  for (const auto& th : theta) {
    m.push_back(xt::zeros<double>(th.shape()));
    v.push_back(xt::zeros<double>(th.shape()));
    vmax.push_back(xt::zeros<double>(th.shape()));
  }
  for (int t = 1; t <= steps; ++t) {
    for (std::size_t i = 0; i < theta.size(); ++i) {
      for (std::size_t k = 0; k < theta[i].size(); ++k) {
        double& th = theta[i].data()[k];
        double g = grad_value(t, i, k);
        if (decoupled) {
          th = th - lr * wd * th;
        } else {
          g = g + wd * th;
        }
        double& mk = m[i].data()[k];
        double& vk = v[i].data()[k];
        double& vmaxk = vmax[i].data()[k];
        mk = b1 * mk + (1 - b1) * g;
        vk = b2 * vk + (1 - b2) * g * g;
        const double mhat = mk / (1 - std::pow(b1, t));
        double vhat;
        if (amsgrad) {
          vmaxk = std::max(vmaxk, vk);
          vhat = vmaxk / (1 - std::pow(b2, t));
        } else {
          vhat = vk / (1 - std::pow(b2, t));
        }
        th = th - lr * mhat / (std::sqrt(vhat) + eps);
      }
    }
  }
  return theta;
}

TEST(Adam, TwoStepsOnAScalarByHand) {
  // lr 0.1, betas (0.9, 0.999), eps 1e-8, θ0 = 1.
  // t=1, g=0.5:  m=0.05, v=0.00025, m̂=0.5, v̂=0.25, θ = 1 − 0.1·0.5/(0.5+1e-8) = 0.900000002
  // t=2, g=−1:   m=−0.055, v=0.00124975, m̂=−0.055/0.19, v̂=0.00124975/0.001999,
  //              θ = 0.900000002 + 0.1·0.28947368.../(0.79068...+1e-8) = 0.93661035424...
  Parameter<double> p(Array<double>{1.0});
  Adam<double> opt({p}, AdamOptions(0.1));
  p.mutable_grad() = Array<double>{0.5};
  opt.step();
  EXPECT_NEAR(p.value()(0), 0.900000002, 1e-15);
  opt.zero_grad();
  p.mutable_grad() = Array<double>{-1.0};
  opt.step();
  EXPECT_NEAR(p.value()(0), 0.9366103542405654, 1e-15);
  const auto state = opt.state_dict();
  EXPECT_EQ(state.step, 2u);
  const StateDict<double>& s = state.buffers;
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].first, "exp_avg.0");
  EXPECT_NEAR(s[0].second(0), -0.055, 1e-16);
  EXPECT_EQ(s[1].first, "exp_avg_sq.0");
  EXPECT_NEAR(s[1].second(0), 0.00124975, 1e-17);
}

TEST(Adam, FiveStepsMatchTheEquations) {
  auto params = make_params(initial_values());
  Adam<double> opt(params, AdamOptions(0.05).betas({0.8, 0.95}).eps(1e-6));
  run(opt, params, 1, 5);
  expect_close(params, adam_by_hand(5, 0.05, 0.8, 0.95, 1e-6, 0, false, false));
}

TEST(Adam, WeightDecayIsAddedToTheGradient) {
  auto params = make_params(initial_values());
  Adam<double> opt(params, AdamOptions(0.05).weight_decay(0.3));
  run(opt, params, 1, 5);
  expect_close(params, adam_by_hand(5, 0.05, 0.9, 0.999, 1e-8, 0.3, false, false));
}

TEST(Adam, AmsgradMatchesTheEquations) {
  auto params = make_params(initial_values());
  Adam<double> opt(params, AdamOptions(0.05).betas({0.5, 0.6}).amsgrad(true));
  run(opt, params, 1, 6);
  expect_close(params, adam_by_hand(6, 0.05, 0.5, 0.6, 1e-8, 0, true, false));
  // With these betas the running maximum matters: plain Adam ends elsewhere.
  const auto plain = adam_by_hand(6, 0.05, 0.5, 0.6, 1e-8, 0, false, false);
  EXPECT_GT(xt::amax(xt::abs(params[0].value() - plain[0]))(), 1e-6);
}

TEST(AdamW, DecoupledWeightDecayMatchesTheEquations) {
  auto params = make_params(initial_values());
  AdamW<double> opt(params, AdamWOptions(0.05).weight_decay(0.3));
  run(opt, params, 1, 5);
  expect_close(params, adam_by_hand(5, 0.05, 0.9, 0.999, 1e-8, 0.3, false, true));
}

TEST(AdamW, DefaultsAreLibtorchs) {
  const AdamWOptions o;
  EXPECT_EQ(o.lr(), 1e-3);
  EXPECT_EQ(o.weight_decay(), 1e-2);
  EXPECT_EQ(o.betas().first, 0.9);
  EXPECT_EQ(o.betas().second, 0.999);
  EXPECT_EQ(o.eps(), 1e-8);
  EXPECT_EQ(AdamOptions().weight_decay(), 0.0);
}

TEST(AdamW, WithoutWeightDecayIsAdam) {
  auto a = make_params(initial_values());
  auto b = make_params(initial_values());
  Adam<double> adam(a, AdamOptions(0.01));
  AdamW<double> adamw(b, AdamWOptions(0.01).weight_decay(0));
  run(adam, a, 1, 4);
  run(adamw, b, 1, 4);
  expect_identical(a, b);
}

TEST(Adam, StateRoundTripContinuesIdentically) {
  expect_state_round_trip([](std::vector<Parameter<double>>& p) { return Adam<double>(p, AdamOptions(0.05)); });
  expect_state_round_trip(
      [](std::vector<Parameter<double>>& p) { return Adam<double>(p, AdamOptions(0.05).amsgrad(true)); });
  expect_state_round_trip(
      [](std::vector<Parameter<double>>& p) { return AdamW<double>(p, AdamWOptions(0.05).weight_decay(0.1)); });
}

TEST(Adam, StateKeys) {
  auto params = make_params(initial_values());
  Adam<double> opt(params, AdamOptions().amsgrad(true));
  std::vector<std::string> keys;
  for (const auto& [k, v] : opt.state_dict().buffers) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"exp_avg.0", "exp_avg.1", "exp_avg_sq.0", "exp_avg_sq.1",
                                             "max_exp_avg_sq.0", "max_exp_avg_sq.1"}));
}

TEST(Adam, LoadReportsEveryMismatchAndChangesNothing) {
  auto params = make_params(initial_values());
  Adam<double> opt(params, AdamOptions(0.05));
  run(opt, params, 1, 2);
  const StateDict<double> before = opt.state_dict().buffers;
  OptimizerState<double> bad{7, before};
  bad.buffers[1].second = xt::zeros<double>({3, 3});         // exp_avg.1 misshapen
  bad.buffers.erase(bad.buffers.begin() + 3);                // exp_avg_sq.1 missing
  bad.buffers.emplace_back("momentum_buffer.0", before[0].second);  // unexpected
  bad.buffers[0].second.fill(123.0);                         // would change exp_avg.0 if applied
  expect_value_error([&] { opt.load_state_dict(bad); },
                     {"Adam::load_state_dict", "3 problems", "'exp_avg.1' has shape (3, 3), expected (3,)",
                      "missing 'exp_avg_sq.1'", "unexpected 'momentum_buffer.0'"});
  const StateDict<double> after = opt.state_dict().buffers;
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t k = 0; k < after.size(); ++k) EXPECT_EQ(after[k].second, before[k].second) << after[k].first;
  EXPECT_EQ(opt.step_count(), 2u);  // not 7
}

TEST(Adam, LoadRejectsAStepCountACheckpointCannotHold) {
  auto params = make_params(initial_values());
  Adam<double> opt(params);
  OptimizerState<double> s = opt.state_dict();
  s.step = std::numeric_limits<std::uint64_t>::max();
  expect_value_error([&] { opt.load_state_dict(s); }, {"'step' is 18446744073709551615, more than 2^63 - 1"});
  EXPECT_EQ(opt.step_count(), 0u);
  s.step = std::uint64_t(1) << 62;  // any integer up to 2^63 - 1 is exact
  opt.load_state_dict(s);
  EXPECT_EQ(opt.step_count(), std::uint64_t(1) << 62);
}

TEST(Adam, InvalidOptionsNameTheOption) {
  auto params = make_params(initial_values());
  expect_value_error([&] { Adam<double>(params, AdamOptions(0)); }, {"Adam", "lr"});
  expect_value_error([&] { Adam<double>(params, AdamOptions().betas({1.0, 0.9})); }, {"Adam", "beta1"});
  expect_value_error([&] { Adam<double>(params, AdamOptions().betas({0.9, -0.1})); }, {"Adam", "beta2"});
  expect_value_error([&] { Adam<double>(params, AdamOptions().eps(0)); }, {"Adam", "eps"});
  expect_value_error([&] { Adam<double>(params, AdamOptions().weight_decay(-1)); }, {"Adam", "weight_decay"});
  expect_value_error([&] { AdamW<double>(params, AdamWOptions().betas({0.9, std::nan("")})); }, {"AdamW", "beta2"});
  expect_value_error([&] { Adam<double> opt(params); opt.set_learning_rate(-1); }, {"Adam", "lr"});
  expect_value_error([&] { Adam<double>(params, AdamOptions(0)); }, {"Adam", "lr", "positive"});
}

TEST(Adam, SkipsFrozenParametersAndThoseWithoutGradient) {
  auto params = make_params(initial_values());
  Adam<double> opt(params, AdamOptions(0.1));
  params[0].set_requires_grad(false);
  opt.zero_grad();
  params[1].mutable_grad().fill(1.0);
  opt.step();
  EXPECT_EQ(params[0].value(), initial_values()[0]);
  EXPECT_NE(params[1].value(), initial_values()[1]);
  params[0].set_requires_grad(true);
  const Array<double> p1 = params[1].value();
  opt.zero_grad();  // no gradient flows into either parameter
  opt.step();
  EXPECT_EQ(params[0].value(), initial_values()[0]);
  EXPECT_EQ(params[1].value(), p1);
}

TEST(Adam, FloatTrainsAQuadraticThroughTheTape) {
  // minimise Σ (w − c)² from w = 0, float32 end to end.
  Parameter<float> w(Array<float>(xt::zeros<float>({3})));
  Tape<float> tape;
  const Array<float> c{1.f, -2.f, 0.5f};
  Adam<float> opt({w}, AdamOptions(0.1));
  for (int t = 0; t < 500; ++t) {
    opt.zero_grad();
    auto d = sub(tape.bind(w), tape.constant(c));
    tape.backward(sum(mul(d, d)));
    opt.step();
  }
  for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(w.value()(k), c(k), 1e-3);
}

}  // namespace
}  // namespace tapegrad::testing

// AdamW's options are their own type: Adam's options, whose weight decay defaults to 0, no
// longer convert silently into AdamW's (whose default is PyTorch's 1e-2).
static_assert(!std::is_constructible_v<tapegrad::optim::AdamW<double>, std::vector<tapegrad::Parameter<double>>, tapegrad::optim::AdamOptions>,
              "AdamW must not accept AdamOptions");
static_assert(!std::is_convertible_v<tapegrad::optim::AdamOptions, tapegrad::optim::AdamWOptions>, "no implicit conversion");

TEST(AdamOptions, DefaultsAreStatedOnce) {
  EXPECT_EQ(tapegrad::optim::AdamOptions().lr(), 1e-3);
  EXPECT_EQ(tapegrad::optim::AdamOptions(0.1).lr(), 0.1);
  EXPECT_EQ(tapegrad::optim::AdamWOptions().weight_decay(), 1e-2);
  EXPECT_EQ(tapegrad::optim::AdamWOptions(0.1).lr(), 0.1);
}
