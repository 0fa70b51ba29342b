// Optimizers: SGD's update by hand, learning-rate validation, and seeded XOR training that is
// bit-identical from run to run and converges as the tutorial's does.
#include <gtest/gtest.h>

#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/losses.hpp"
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
