// The training toolkit together: an MLP with Dropout, softmax cross-entropy, Adam, a cosine
// schedule and accuracy, on three Gaussian blobs; and a training run resumed from saved state.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "tapegrad/tapegrad.hpp"

namespace tapegrad {
namespace {

struct Blobs {
  Array<float> x;
  std::vector<std::int64_t> y;
};

// 3 classes centred at angles 0, 120, 240 degrees on a circle of radius 2, unit-variance noise.
Blobs make_blobs(std::size_t per_class, std::uint64_t seed) {
  Rng rng(seed);
  Blobs b;
  b.x = rng.normal<float>({3 * per_class, 2});
  for (std::size_t c = 0; c < 3; ++c) {
    for (std::size_t i = 0; i < per_class; ++i) {
      const std::size_t n = c * per_class + i;
      b.x(n, 0) += 2.f * float(std::cos(2.0943951 * double(c)));
      b.x(n, 1) += 2.f * float(std::sin(2.0943951 * double(c)));
      b.y.push_back(std::int64_t(c));
    }
  }
  return b;
}

std::shared_ptr<nn::Sequential<float>> make_net(Rng& rng) {
  auto net = std::make_shared<nn::Sequential<float>>();
  net->push_back(std::make_shared<nn::Linear<float>>(nn::LinearOptions(2, 32), rng));
  net->push_back(std::make_shared<nn::ReLU<float>>());
  net->push_back(std::make_shared<nn::Dropout<float>>(0.1, rng));
  net->push_back(std::make_shared<nn::Linear<float>>(nn::LinearOptions(32, 3), rng));
  return net;
}

TEST(Training, AdamSoftmaxCrossEntropyDropoutAndCosineLearnBlobs) {
  const Blobs train = make_blobs(100, 1), test = make_blobs(100, 2);
  Rng rng(0);
  auto net = make_net(rng);
  optim::Adam<float> opt(net->parameters(), optim::AdamOptions(0.02));
  optim::CosineAnnealingLR<float> schedule(opt, 200, 1e-4);
  Tape<float> tape;
  float first_loss = 0, last_loss = 0;
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    auto loss = softmax_cross_entropy(net->forward(tape.constant(train.x)), train.y);
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
    tape.backward(loss);
    opt.step();
    schedule.step();
  }
  EXPECT_LT(last_loss, 0.5f * first_loss);
  net->eval();
  NoGradGuard no_grad;
  const double acc = accuracy(net->forward(tape.constant(test.x)).value(), test.y);
  tape.clear();
  // The Bayes accuracy of these blobs is about 0.92 (centres 3.5 apart, unit noise).
  EXPECT_GE(acc, 0.88) << "test accuracy " << acc;
}

TEST(Training, ResumingFromStateDictsMatchesAnUninterruptedRun) {
  const Blobs data = make_blobs(20, 3);
  auto train = [&](auto& net, optim::Optimizer<float>& opt, int steps) {
    Tape<float> tape;
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      tape.backward(softmax_cross_entropy(net.forward(tape.constant(data.x)), data.y));
      opt.step();
    }
  };
  Rng r1(4), r2(4);
  auto net = make_net(r1), copy = make_net(r2);
  net->eval();  // no dropout: the two runs must see the same computation
  copy->eval();
  optim::Adam<float> opt(net->parameters(), optim::AdamOptions(0.01).amsgrad(true));
  train(*net, opt, 5);
  // "Checkpoint": parameter values and optimizer state, into a fresh model and optimizer.
  auto src = net->named_parameters();
  auto dst = copy->named_parameters();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i].second.mutable_value() = src[i].second.value();
  optim::Adam<float> resumed(copy->parameters(), optim::AdamOptions(0.01).amsgrad(true));
  resumed.load_state_dict(opt.state_dict());
  train(*net, opt, 5);
  train(*copy, resumed, 5);
  for (std::size_t i = 0; i < src.size(); ++i) {
    EXPECT_EQ(src[i].second.value(), dst[i].second.value()) << src[i].first;
  }
}

}  // namespace
}  // namespace tapegrad
