#pragma once
// Shared by the optimizer tests: small float64 parameters, gradients that change from step to
// step, and element-wise comparison.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::testing {

using optim::OptimizerState;

/// Two parameters of different shapes, with a zero, negative and positive entries.
inline std::vector<Array<double>> initial_values() {
  return {Array<double>{{1.0, -2.0}, {0.5, 3.0}}, Array<double>{0.25, -0.75, 0.0}};
}

inline std::vector<Parameter<double>> make_params(const std::vector<Array<double>>& values) {
  std::vector<Parameter<double>> out;
  for (const auto& v : values) out.emplace_back(v);
  return out;
}

/// The gradient of parameter i at step t (1-based): varied signs and magnitudes, some exactly 0.
inline double grad_value(int t, std::size_t i, std::size_t k) {
  if ((t + int(i) + int(k)) % 5 == 0) return 0.0;
  return std::sin(1.3 * t + 0.7 * double(k) + 2.1 * double(i)) * (1.0 + 0.5 * double(k));
}

/// Sets every parameter's gradient as backward would.
inline void set_grads(std::vector<Parameter<double>>& params, int t) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    Array<double>& g = params[i].mutable_grad();
    for (std::size_t k = 0; k < g.size(); ++k) g.data()[k] = grad_value(t, i, k);
  }
}

/// Runs `steps` steps from step `first`.
template <class Opt>
void run(Opt& opt, std::vector<Parameter<double>>& params, int first, int steps) {
  for (int t = first; t < first + steps; ++t) {
    opt.zero_grad();
    set_grads(params, t);
    opt.step();
  }
}

/// Relative agreement to 1e-12: the equations are evaluated in another order than the library's.
inline void expect_close(const std::vector<Parameter<double>>& params, const std::vector<Array<double>>& expected) {
  ASSERT_EQ(params.size(), expected.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Array<double>& got = params[i].value();
    ASSERT_EQ(got.shape(), expected[i].shape());
    for (std::size_t k = 0; k < got.size(); ++k) {
      const double want = expected[i].data()[k];
      EXPECT_NEAR(got.data()[k], want, 1e-12 * std::max(1.0, std::abs(want))) << "parameter " << i << " element " << k;
    }
  }
}

/// Bit-identical values.
inline void expect_identical(const std::vector<Parameter<double>>& a, const std::vector<Parameter<double>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].value().shape(), b[i].value().shape());
    for (std::size_t k = 0; k < a[i].value().size(); ++k) {
      EXPECT_EQ(a[i].value().data()[k], b[i].value().data()[k]) << "parameter " << i << " element " << k;
    }
  }
}

/// Copies of the parameters' current values, as new parameters.
inline std::vector<Parameter<double>> clone(const std::vector<Parameter<double>>& params) {
  std::vector<Parameter<double>> out;
  for (const auto& p : params) out.emplace_back(p.value());
  return out;
}

/// Runs `make(params)` for 3 steps, saves its state, restores it into a fresh optimizer over
/// copies of the parameters, and checks that 3 more steps of both agree bit for bit.
template <class Make>
void expect_state_round_trip(Make make) {
  auto params = make_params(initial_values());
  auto opt = make(params);
  run(opt, params, 1, 3);
  const OptimizerState<double> saved = opt.state_dict();
  auto params2 = clone(params);
  auto opt2 = make(params2);
  opt2.load_state_dict(saved);
  EXPECT_EQ(opt2.step_count(), 3u);
  run(opt, params, 4, 3);
  run(opt2, params2, 4, 3);
  expect_identical(params, params2);
  // Without the state the steps differ, so the check above means something.
  auto params3 = clone(params);
  auto params4 = clone(params);
  auto restored = make(params3);
  restored.load_state_dict(opt.state_dict());
  auto fresh = make(params4);
  run(restored, params3, 7, 1);
  run(fresh, params4, 7, 1);
  bool differ = false;
  for (std::size_t i = 0; i < params3.size(); ++i) differ = differ || params3[i].value() != params4[i].value();
  EXPECT_TRUE(differ) << "the state made no difference";
}

/// Asserts that `f` throws ValueError whose message contains every string of `parts`.
template <class F>
void expect_value_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no ValueError thrown";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    for (const auto& part : parts) EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
  }
}

}  // namespace tapegrad::testing
