// RMSprop (plain, centered, with momentum and weight decay) against steps computed from the
// equations in its doc comment, and state save/restore.
#include "tapegrad/optim/rmsprop.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "optim_testing.hpp"

namespace tapegrad::testing {
namespace {

using optim::RMSprop;
using optim::RMSpropOptions;

std::vector<Array<double>> rmsprop_by_hand(int steps, double lr, double alpha, double eps, double wd, double mu,
                                           bool centered) {
  std::vector<Array<double>> theta = initial_values();
  std::vector<Array<double>> v, gave, b;
  for (const auto& th : theta) {
    v.push_back(xt::zeros<double>(th.shape()));
    gave.push_back(xt::zeros<double>(th.shape()));
    b.push_back(xt::zeros<double>(th.shape()));
  }
  for (int t = 1; t <= steps; ++t) {
    for (std::size_t i = 0; i < theta.size(); ++i) {
      for (std::size_t k = 0; k < theta[i].size(); ++k) {
        double& th = theta[i].data()[k];
        double g = grad_value(t, i, k);
        if (wd != 0) g = g + wd * th;
        double& vk = v[i].data()[k];
        vk = alpha * vk + (1 - alpha) * g * g;
        double vt = vk;
        if (centered) {
          double& ga = gave[i].data()[k];
          ga = alpha * ga + (1 - alpha) * g;
          vt = vt - ga * ga;
        }
        if (mu > 0) {
          double& bk = b[i].data()[k];
          bk = mu * bk + g / (std::sqrt(vt) + eps);
          th = th - lr * bk;
        } else {
          th = th - lr * g / (std::sqrt(vt) + eps);
        }
      }
    }
  }
  return theta;
}

TEST(RMSprop, FirstStepByHand) {
  // α = 0.99: v1 = 0.01·g², θ1 = θ0 − γ g / (0.1|g| + ε) = 1 − 0.01·0.5/(0.05 + 1e-8)
  Parameter<double> p(Array<double>{1.0});
  RMSprop<double> opt({p}, RMSpropOptions(0.01));
  p.mutable_grad() = Array<double>{0.5};
  opt.step();
  EXPECT_NEAR(p.value()(0), 1 - 0.01 * 0.5 / (0.05 + 1e-8), 1e-15);
}

TEST(RMSprop, MatchesTheEquations) {
  struct Case {
    double alpha, wd, mu;
    bool centered;
  };
  for (const Case& c : {Case{0.99, 0, 0, false}, Case{0.9, 0.1, 0, false}, Case{0.9, 0, 0.5, false},
                        Case{0.8, 0, 0, true}, Case{0.8, 0.2, 0.7, true}}) {
    auto params = make_params(initial_values());
    RMSprop<double> opt(params, RMSpropOptions(0.01).alpha(c.alpha).eps(1e-6).weight_decay(c.wd).momentum(c.mu).centered(
                                    c.centered));
    run(opt, params, 1, 5);
    SCOPED_TRACE(::testing::Message() << "alpha " << c.alpha << " weight_decay " << c.wd << " momentum " << c.mu
                                      << " centered " << c.centered);
    expect_close(params, rmsprop_by_hand(5, 0.01, c.alpha, 1e-6, c.wd, c.mu, c.centered));
  }
}

TEST(RMSprop, StateRoundTripContinuesIdentically) {
  expect_state_round_trip([](std::vector<Parameter<double>>& p) { return RMSprop<double>(p); });
  expect_state_round_trip([](std::vector<Parameter<double>>& p) {
    return RMSprop<double>(p, RMSpropOptions(0.01).momentum(0.5).centered(true));
  });
  auto params = make_params(initial_values());
  RMSprop<double> opt(params, RMSpropOptions().momentum(0.5).centered(true));
  std::vector<std::string> keys;
  for (const auto& [k, v] : opt.state_dict().buffers) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"square_avg.0", "square_avg.1", "momentum_buffer.0",
                                             "momentum_buffer.1", "grad_avg.0", "grad_avg.1"}));
}

TEST(RMSprop, InvalidOptionsNameTheOption) {
  auto params = make_params(initial_values());
  expect_value_error([&] { RMSprop<double>(params, RMSpropOptions(-1)); }, {"RMSprop", "lr"});
  expect_value_error([&] { RMSprop<double>(params, RMSpropOptions().alpha(1)); }, {"RMSprop", "alpha"});
  expect_value_error([&] { RMSprop<double>(params, RMSpropOptions().eps(0)); }, {"RMSprop", "eps"});
  expect_value_error([&] { RMSprop<double>(params, RMSpropOptions().weight_decay(-0.1)); },
                     {"RMSprop", "weight_decay"});
  expect_value_error([&] { RMSprop<double>(params, RMSpropOptions().momentum(-0.1)); }, {"RMSprop", "momentum"});
}

}  // namespace
}  // namespace tapegrad::testing
