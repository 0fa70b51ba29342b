// Optimizers: SGD's update by hand, learning-rate validation, and seeded XOR training that is
// bit-identical from run to run and converges as the tutorial's does.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <functional>
#include <memory>
#include <string>

#include "tapegrad/debug.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/optim/rmsprop.hpp"
#include "tapegrad/optim/sgd.hpp"

namespace tg = tapegrad;
using tg::Array;

TEST(SGD, UpdateIsValueMinusLrTimesGrad) {
  tg::Parameter<double> w(Array<double>{1.0, -2.0});
  tg::Tape<double> tape;
  tape.backward(tg::sum(tg::mul(tape.constant(Array<double>{3.0, 4.0}), w)));
  tg::optim::SGD<double> opt({w}, 0.5);
  opt.step();
  EXPECT_EQ(w.value(), (Array<double>{1.0 - 0.5 * 3.0, -2.0 - 0.5 * 4.0}));
  opt.zero_grad();
  EXPECT_EQ(w.grad(), (Array<double>{0.0, 0.0}));
  opt.step();  // a zero gradient changes nothing
  EXPECT_EQ(w.value(), (Array<double>{-0.5, -4.0}));
}

TEST(SGD, RejectsBadLearningRates) {
  tg::Parameter<float> w(Array<float>{1.f});
  EXPECT_THROW(tg::optim::SGD<float>({w}, 0.0), tg::ValueError);
  EXPECT_THROW(tg::optim::SGD<float>({w}, -1.0), tg::ValueError);
  EXPECT_THROW(tg::optim::SGD<float>({w}, std::nan("")), tg::ValueError);
  tg::optim::SGD<float> opt({w}, 0.1);
  EXPECT_THROW(opt.set_learning_rate(-0.5), tg::ValueError);
  EXPECT_THROW(opt.set_learning_rate(INFINITY), tg::ValueError);
  EXPECT_DOUBLE_EQ(opt.learning_rate(), 0.1);
  opt.set_learning_rate(0);  // allowed after construction: a schedule may anneal to 0
  EXPECT_THROW(tg::optim::SGD<float>({tg::Parameter<float>()}, 0.1), tg::ValueError);
}

// Anomaly mode checks every parameter an optimizer step updates: a step that makes one NaN or
// Inf (here lr 1e38 with float weights) throws, naming the optimizer and the parameter, and is
// undone: parameters, state and step count are as before it.
TEST(OptimizerAnomaly, AStepThatMakesAWeightNonFiniteIsCaughtAndUndone) {
  using Make = std::function<std::unique_ptr<tg::optim::Optimizer<float>>(std::vector<tg::Parameter<float>>)>;
  const std::vector<std::pair<std::string, Make>> optimizers = {
      {"SGD", [](auto p) { return std::make_unique<tg::optim::SGD<float>>(p, tg::optim::SGDOptions(1e38).momentum(0.9)); }},
      {"Adam", [](auto p) { return std::make_unique<tg::optim::Adam<float>>(p, tg::optim::AdamOptions(1e39)); }},
      {"RMSprop",
       [](auto p) { return std::make_unique<tg::optim::RMSprop<float>>(p, tg::optim::RMSpropOptions(1e39)); }},
  };
  for (const auto& [name, make] : optimizers) {
    SCOPED_TRACE(name);
    tg::Parameter<float> a(Array<float>{1.f, 2.f}), b(Array<float>{{0.5f, -0.5f}});
    auto opt = make({a, b});
    // One ordinary step first, so that the state is not all zeros.
    opt->set_learning_rate(1e-3);
    a.mutable_grad() = Array<float>{0.1f, 0.2f};
    b.mutable_grad() = Array<float>{{0.3f, 0.4f}};
    opt->step();
    const auto state = opt->state_dict();
    const Array<float> a_before = a.value(), b_before = b.value();
    opt->set_learning_rate(name == "SGD" ? 1e38 : 1e39);
    a.mutable_grad() = Array<float>{100.f, 100.f};
    b.mutable_grad() = Array<float>{{100.f, 100.f}};
    {
      opt->step();  // anomaly mode off: the weights become -inf silently
      EXPECT_FALSE(std::isfinite(a.value()(0)));
      a.mutable_value() = a_before;
      b.mutable_value() = b_before;
      opt->load_state_dict(state);  // restores the learning rate too (1e-3), as PyTorch's
      opt->set_learning_rate(name == "SGD" ? 1e38 : 1e39);
    }
    tg::AnomalyGuard anomaly;
    try {
      opt->step();
      ADD_FAILURE() << "no AnomalyError";
    } catch (const tg::AnomalyError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("anomaly in " + name + "::step: parameter 0 (shape (2,)) became -inf at element 0"),
                std::string::npos)
          << msg;
      EXPECT_NE(msg.find("the step was undone"), std::string::npos) << msg;
    }
    EXPECT_EQ(a.value(), a_before);
    EXPECT_EQ(b.value(), b_before);
    const auto after = opt->state_dict();
    EXPECT_EQ(after.step, 1u);
    ASSERT_EQ(after.buffers.size(), state.buffers.size());
    for (std::size_t k = 0; k < after.buffers.size(); ++k) {
      EXPECT_EQ(after.buffers[k].second, state.buffers[k].second) << after.buffers[k].first;
    }
    // An ordinary step still works afterwards, in anomaly mode.
    opt->set_learning_rate(1e-3);
    opt->step();
    EXPECT_EQ(opt->step_count(), 2u);
  }
}

TEST(OptimizerAnomaly, AWeightAlreadyNonFiniteIsReportedAsSuch) {
  tg::Parameter<double> w(Array<double>{1.0, std::numeric_limits<double>::quiet_NaN()});
  tg::optim::SGD<double> opt({w}, 0.1);
  w.mutable_grad() = Array<double>{1.0, 1.0};
  tg::AnomalyGuard anomaly;
  try {
    opt.step();
    ADD_FAILURE() << "no AnomalyError";
  } catch (const tg::AnomalyError& e) {
    EXPECT_NE(std::string(e.what()).find("parameter 0 (shape (2,)) holds nan at element 1 and was already non-finite "
                                         "before this step"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(w.value()(0), 1.0);  // undone
  EXPECT_EQ(opt.step_count(), 0u);
}

namespace {
// The tutorial's XOR run: [2,4,1], sigmoid + BCE, lr 0.5, full batch. Returns the losses.
std::vector<float> train_xor(std::uint64_t seed, int epochs) {
  tg::Rng rng(seed);
  tg::nn::MLP<float> model({2, 4, 1}, rng);
  tg::optim::SGD<float> opt(model.parameters(), 0.5);
  const Array<float> X{{0.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {1.f, 1.f}};
  Array<float> Y{0.f, 1.f, 1.f, 0.f};
  Y.reshape({4, 1});
  tg::Tape<float> tape;
  std::vector<float> losses;
  for (int e = 0; e < epochs; ++e) {
    auto loss = tg::bce(tg::sigmoid(model.forward(tape.constant(X))), tape.constant(Y));
    losses.push_back(loss.item());
    opt.zero_grad();
    tape.backward(loss);
    opt.step();
  }
  return losses;
}
}  // namespace

TEST(Training, SameSeedIsBitIdentical) {
  const auto a = train_xor(7, 300);
  const auto b = train_xor(7, 300);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "epoch " << i;
  EXPECT_NE(train_xor(8, 300).back(), a.back());
}

TEST(Training, XorConvergesWithTheExampleSeed) {
  const auto losses = train_xor(1, 5000);  // examples/xor.cpp's default seed
  EXPECT_LT(losses[4900], 0.05f);
  EXPECT_LT(losses.back(), losses.front());
}
