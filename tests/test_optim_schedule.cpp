// Learning-rate schedules against their closed forms, driving different optimizers.
#include "tapegrad/optim/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "optim_testing.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/optim/rmsprop.hpp"
#include "tapegrad/optim/sgd.hpp"

namespace tapegrad::testing {
namespace {

using namespace tapegrad::optim;

const double kPi = 3.14159265358979323846;

TEST(StepLR, ClosedForm) {
  auto params = make_params(initial_values());
  SGD<double> opt(params, 0.5);
  StepLR<double> schedule(opt, 3, 0.1);
  EXPECT_EQ(opt.learning_rate(), 0.5);  // epoch 0 keeps the base rate
  // γ_e = 0.5 · 0.1^⌊e/3⌋
  const double want[] = {0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005, 0.005};
  for (int e = 1; e < 8; ++e) {
    schedule.step();
    EXPECT_EQ(schedule.epoch(), e);
    EXPECT_NEAR(opt.learning_rate(), want[e], 1e-15) << "epoch " << e;
  }
}

TEST(MultiStepLR, ClosedForm) {
  auto params = make_params(initial_values());
  Adam<double> opt(params, AdamOptions(1.0));
  MultiStepLR<double> schedule(opt, {2, 5}, 0.5);
  const double want[] = {1, 1, 0.5, 0.5, 0.5, 0.25, 0.25};
  for (int e = 0; e < 7; ++e) {
    EXPECT_DOUBLE_EQ(opt.learning_rate(), want[e]) << "epoch " << e;
    schedule.step();
  }
  EXPECT_THROW(MultiStepLR<double>(opt, {3, 3}), ValueError);
}

TEST(ExponentialLR, ClosedForm) {
  auto params = make_params(initial_values());
  RMSprop<double> opt(params, RMSpropOptions(0.2));
  ExponentialLR<double> schedule(opt, 0.9);
  for (int e = 1; e <= 5; ++e) {
    schedule.step();
    EXPECT_NEAR(opt.learning_rate(), 0.2 * std::pow(0.9, e), 1e-15);
  }
}

TEST(CosineAnnealingLR, ClosedForm) {
  auto params = make_params(initial_values());
  Adam<double> opt(params, AdamOptions(0.1));
  CosineAnnealingLR<double> schedule(opt, 10, 0.001);
  for (int e = 1; e <= 10; ++e) {
    schedule.step();
    const double want = 0.001 + (0.1 - 0.001) * (1 + std::cos(kPi * e / 10)) / 2;
    EXPECT_NEAR(opt.learning_rate(), want, 1e-15) << "epoch " << e;
  }
  EXPECT_NEAR(opt.learning_rate(), 0.001, 1e-15);  // η_min at T_max
  schedule.set_epoch(5);                           // half way: the mean of γ₀ and η_min
  EXPECT_NEAR(opt.learning_rate(), (0.1 + 0.001) / 2, 1e-15);
}

TEST(CosineAnnealingLR, AnnealsToZero) {
  Parameter<double> p(Array<double>{1.0});
  SGD<double> opt({p}, SGDOptions(0.1).momentum(0.9));
  CosineAnnealingLR<double> schedule(opt, 4);
  schedule.set_epoch(4);
  EXPECT_EQ(opt.learning_rate(), 0.0);
  p.mutable_grad() = Array<double>{1.0};
  opt.step();
  EXPECT_EQ(p.value()(0), 1.0);  // a zero rate moves nothing
  EXPECT_THROW(CosineAnnealingLR<double>(opt, 0), ValueError);
}

TEST(LRScheduler, ResumesWithSetEpoch) {
  auto a = make_params(initial_values());
  auto b = make_params(initial_values());
  SGD<double> opt_a(a, 0.3);
  SGD<double> opt_b(b, 0.3);
  StepLR<double> sa(opt_a, 2, 0.5);
  for (int e = 0; e < 5; ++e) sa.step();
  StepLR<double> sb(opt_b, 2, 0.5);
  sb.set_epoch(5);
  EXPECT_EQ(opt_a.learning_rate(), opt_b.learning_rate());
  EXPECT_EQ(sb.epoch(), 5);
  EXPECT_THROW(sb.set_epoch(-1), ValueError);
  EXPECT_EQ(sb.epoch(), 5);
}

TEST(LRScheduler, TheOptimizerUsesTheScheduledRate) {
  // SGD with StepLR halving each epoch: θ ← θ − γ_e·g with g = 1 gives 1 − 0.4 − 0.2 − 0.1.
  Parameter<double> p(Array<double>{1.0});
  SGD<double> opt({p}, 0.4);
  StepLR<double> schedule(opt, 1, 0.5);
  for (int e = 0; e < 3; ++e) {
    opt.zero_grad();
    p.mutable_grad() = Array<double>{1.0};
    opt.step();
    schedule.step();
  }
  EXPECT_NEAR(p.value()(0), 1 - 0.4 - 0.2 - 0.1, 1e-15);
}

TEST(LambdaLR, WarmUp) {
  Parameter<float> p(Array<float>{1.f});
  AdamW<float> opt({p}, AdamWOptions(1e-3));
  LambdaLR<float> schedule(opt, [](std::int64_t e) { return std::min(1.0, double(e + 1) / 4); });
  EXPECT_DOUBLE_EQ(opt.learning_rate(), 0.25e-3);
  for (int e = 1; e < 6; ++e) {
    schedule.step();
    EXPECT_DOUBLE_EQ(opt.learning_rate(), 1e-3 * std::min(1.0, (e + 1) / 4.0));
  }
  EXPECT_THROW(LambdaLR<float>(opt, nullptr), ValueError);
  EXPECT_THROW(LambdaLR<float>(opt, [](std::int64_t) { return -1.0; }), ValueError);
}

TEST(LRScheduler, InvalidOptions) {
  Parameter<double> p(Array<double>{1.0});
  SGD<double> opt({p}, 0.1);
  expect_value_error([&] { StepLR<double>(opt, 0); }, {"StepLR", "step_size"});
  expect_value_error([&] { StepLR<double>(opt, 2, 1.5); }, {"StepLR", "gamma"});
  expect_value_error([&] { ExponentialLR<double>(opt, 0); }, {"ExponentialLR", "gamma"});
  expect_value_error([&] { CosineAnnealingLR<double>(opt, 5, 0.2); }, {"CosineAnnealingLR", "eta_min"});
}

}  // namespace
}  // namespace tapegrad::testing
