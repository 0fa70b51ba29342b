// Parameter groups (PyTorch's param_groups): each group's options, schedules over groups, and
// state_dict round trips of groups and hyperparameters.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "optim_testing.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/optim/rmsprop.hpp"
#include "tapegrad/optim/schedule.hpp"
#include "tapegrad/optim/sgd.hpp"

namespace tapegrad::testing {
namespace {

using namespace tapegrad::optim;

// Two optimizers over the two parameters, one each, against one optimizer with two groups:
// every step must give bit-identical values.
template <class Make2, class MakeSplit>
void expect_groups_equal_separate_optimizers(Make2 make_grouped, MakeSplit make_one) {
  auto grouped = make_params(initial_values());
  auto separate = make_params(initial_values());
  auto opt = make_grouped(grouped);
  auto first = make_one(std::vector<Parameter<double>>{separate[0]}, 0);
  auto second = make_one(std::vector<Parameter<double>>{separate[1]}, 1);
  for (int t = 1; t <= 6; ++t) {
    opt->zero_grad();
    set_grads(grouped, t);
    opt->step();
    first->zero_grad();
    second->zero_grad();
    set_grads(separate, t);
    first->step();
    second->step();
  }
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(grouped[i].value(), separate[i].value()) << "parameter " << i;
}

TEST(ParamGroups, EachGroupUsesItsOwnOptions) {
  const SGDOptions sgd[2] = {SGDOptions(0.1).momentum(0.9).weight_decay(0.01), SGDOptions(0.05).nesterov(false)};
  expect_groups_equal_separate_optimizers(
      [&](std::vector<Parameter<double>>& p) {
        using G = SGD<double>::Group;
        return std::make_unique<SGD<double>>(std::vector<G>{G({p[0]}), G({p[1]}, sgd[1])}, sgd[0]);
      },
      [&](std::vector<Parameter<double>> p, int i) { return std::make_unique<SGD<double>>(p, sgd[i]); });
  const AdamOptions adam[2] = {AdamOptions(0.01).weight_decay(0.1).amsgrad(true), AdamOptions(0.02).betas({0.8, 0.99})};
  expect_groups_equal_separate_optimizers(
      [&](std::vector<Parameter<double>>& p) {
        using G = Adam<double>::Group;
        return std::make_unique<Adam<double>>(std::vector<G>{G({p[0]}, adam[0]), G({p[1]}, adam[1])}, AdamOptions());
      },
      [&](std::vector<Parameter<double>> p, int i) { return std::make_unique<Adam<double>>(p, adam[i]); });
  const AdamWOptions adamw[2] = {AdamWOptions(0.01), AdamWOptions(0.01).weight_decay(0)};
  expect_groups_equal_separate_optimizers(
      [&](std::vector<Parameter<double>>& p) {
        using G = AdamW<double>::Group;
        return std::make_unique<AdamW<double>>(std::vector<G>{G({p[0]}), G({p[1]}, adamw[1])}, adamw[0]);
      },
      [&](std::vector<Parameter<double>> p, int i) { return std::make_unique<AdamW<double>>(p, adamw[i]); });
  const RMSpropOptions rms[2] = {RMSpropOptions(0.01).centered(true), RMSpropOptions(0.02).momentum(0.5)};
  expect_groups_equal_separate_optimizers(
      [&](std::vector<Parameter<double>>& p) {
        using G = RMSprop<double>::Group;
        return std::make_unique<RMSprop<double>>(std::vector<G>{G({p[0]}, rms[0]), G({p[1]}, rms[1])}, rms[0]);
      },
      [&](std::vector<Parameter<double>> p, int i) { return std::make_unique<RMSprop<double>>(p, rms[i]); });
}

TEST(ParamGroups, SchedulesScaleEveryGroupFromItsOwnBase) {
  auto p = make_params(initial_values());
  using G = SGD<double>::Group;
  SGD<double> opt({G({p[0]}), G({p[1]}, SGDOptions(0.01))}, SGDOptions(0.1));
  StepLR<double> schedule(opt, 2, 0.5);
  EXPECT_EQ(schedule.base_lrs(), (std::vector<double>{0.1, 0.01}));
  schedule.step();
  schedule.step();
  EXPECT_DOUBLE_EQ(opt.learning_rate(0), 0.05);
  EXPECT_DOUBLE_EQ(opt.learning_rate(1), 0.005);
  CosineAnnealingLR<double> cosine(opt, 4);
  cosine.set_epoch(4);
  EXPECT_EQ(opt.learning_rate(0), 0.0);
  EXPECT_EQ(opt.learning_rate(1), 0.0);
  opt.set_learning_rate(0.3);  // every group
  EXPECT_EQ(opt.learning_rate(1), 0.3);
}

TEST(ParamGroups, StateDictRoundTripsGroupsAndHyperparameters) {
  auto p = make_params(initial_values());
  using G = Adam<double>::Group;
  Adam<double> opt({G({p[0]}), G({p[1]}, AdamOptions(0.02).weight_decay(0.5))}, AdamOptions(0.01).amsgrad(true));
  run(opt, p, 1, 3);
  opt.set_learning_rate(1, 0.004);  // as a schedule would
  const OptimizerState<double> saved = opt.state_dict();
  ASSERT_EQ(saved.param_groups.size(), 2u);
  EXPECT_EQ(saved.param_groups[1].params, (std::vector<std::size_t>{1}));
  const Hyperparameters want{{"lr", 0.004}, {"betas.0", 0.9}, {"betas.1", 0.999}, {"eps", 1e-8},
                             {"weight_decay", 0.5}, {"amsgrad", 0.0}};
  EXPECT_EQ(saved.param_groups[1].hyperparameters, want);

  // A fresh optimizer with other hyperparameters takes the saved ones, and continues exactly.
  auto q = make_params(initial_values());
  for (std::size_t i = 0; i < 2; ++i) q[i].mutable_value() = p[i].value();
  Adam<double> other({G({q[0]}), G({q[1]})}, AdamOptions(0.5).amsgrad(true));  // amsgrad in both
  other.load_state_dict(saved);
  EXPECT_EQ(other.learning_rate(1), 0.004);
  EXPECT_EQ(other.group_options(1).weight_decay(), 0.5);
  run(opt, p, 4, 3);
  run(other, q, 4, 3);
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(p[i].value(), q[i].value());

  // Other groups, or bad hyperparameters: every problem listed, nothing changed.
  Adam<double> one(make_params(initial_values()), AdamOptions(0.01).amsgrad(true));
  const auto problems = one.state_problems(saved);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "the state has 2 parameter groups, the optimizer 1");
  OptimizerState<double> bad = saved;
  bad.param_groups[0].hyperparameters[1].second = 1.5;  // beta1
  bad.param_groups[1].hyperparameters.pop_back();       // amsgrad
  try {
    other.load_state_dict(bad);
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("parameter group 0: Adam: betas.first (beta1) must be in [0, 1), got 1.5"), std::string::npos) << m;
    EXPECT_NE(m.find("parameter group 1: missing 'amsgrad'"), std::string::npos) << m;
  }
  EXPECT_EQ(other.learning_rate(1), 0.004);
  // A state without groups (saved before they existed) keeps the optimizer's hyperparameters.
  OptimizerState<double> old = saved;
  old.param_groups.clear();
  other.set_learning_rate(0.25);
  other.load_state_dict(old);
  EXPECT_EQ(other.learning_rate(0), 0.25);
}

TEST(ParamGroups, BadGroupsAreReported) {
  auto p = make_params(initial_values());
  using G = SGD<double>::Group;
  try {
    SGD<double> opt({G({p[0], p[1]}), G({p[1]})}, SGDOptions(0.1));
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "SGD: parameters 1 and 2 are the same parameter (in two parameter groups)");
  }
  try {
    SGD<double> opt({G({p[0]}), G({p[1]}, SGDOptions(0.1).momentum(-1))}, SGDOptions(0.1));
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "SGD: momentum must be >= 0, got -1 (group 1)");
  }
  EXPECT_THROW(SGD<double>({G({p[0]}), G({p[1]})}, SGDOptions(0.1)).set_learning_rate(2, 0.1), ValueError);
}

}  // namespace
}  // namespace tapegrad::testing
