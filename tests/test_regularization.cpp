// L2 and L1 penalties, dropout (op and module).
#include "tapegrad/regularization.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "tapegrad/gradcheck.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/nn/dropout.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/sequential.hpp"
#include "tapegrad/optim/sgd.hpp"

namespace tapegrad {
namespace {

using Vs = std::vector<Var<double>>;

const Array<double> kX{{0.5, -1.5, 2.0}, {0.0, 0.25, -0.75}};

// ---- penalties --------------------------------------------------------------------------------------

TEST(L2Penalty, ValueAndGradient) {
  Parameter<double> w(kX);
  Tape<double> tape;
  auto y = l2_penalty(tape.bind(w));
  EXPECT_DOUBLE_EQ(y.item(), 0.25 + 2.25 + 4 + 0 + 0.0625 + 0.5625);
  tape.backward(y);
  for (std::size_t i = 0; i < kX.size(); ++i) EXPECT_EQ(w.grad().data()[i], 2 * kX.data()[i]);
  auto r = gradcheck([](const Vs& v) { return l2_penalty(v[0]); }, {kX});
  EXPECT_TRUE(r.ok) << r.report();
  r = gradcheck([](const Vs& v) { return l2_penalty(tanh(v[0])) * 3.0; }, {kX});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(L2Penalty, OverParametersIsTheSum) {
  Parameter<double> a(kX), b(Array<double>{3.0, -4.0});
  Tape<double> tape;
  auto y = l2_penalty(tape, {a, b});
  EXPECT_DOUBLE_EQ(y.item(), 7.125 + 25);  // Σ kX² = 7.125
  tape.backward(y);
  EXPECT_EQ(b.grad(), (Array<double>{6.0, -8.0}));
  Tape<double> t2;
  EXPECT_EQ(l2_penalty(t2, std::vector<Parameter<double>>{}).item(), 0.0);
}

TEST(L2Penalty, HalfLambdaTimesPenaltyIsWeightDecay) {
  // One SGD step on loss + (λ/2)·Σθ² equals one step on loss with weight_decay(λ).
  const double lambda = 0.3;
  Parameter<double> a(kX), b(kX);
  optim::SGD<double> with_penalty({a}, 0.1);
  optim::SGD<double> with_decay({b}, optim::SGDOptions(0.1).weight_decay(lambda));
  Tape<double> tape;
  auto data_loss = [&](const Parameter<double>& p) { return sum(mul(tape.bind(p), tape.constant(kX))); };
  tape.backward(add(data_loss(a), l2_penalty(tape.bind(a)) * (lambda / 2)));
  tape.backward(data_loss(b));
  with_penalty.step();
  with_decay.step();
  for (std::size_t i = 0; i < kX.size(); ++i) {
    EXPECT_NEAR(a.value().data()[i], b.value().data()[i], 1e-15);
    EXPECT_NEAR(a.value().data()[i], kX.data()[i] - 0.1 * (kX.data()[i] + lambda * kX.data()[i]), 1e-15);
  }
}

TEST(L1Penalty, ValueAndSubgradientZeroAtZero) {
  Parameter<double> w(kX);
  Tape<double> tape;
  auto y = l1_penalty(tape.bind(w));
  EXPECT_DOUBLE_EQ(y.item(), 0.5 + 1.5 + 2 + 0 + 0.25 + 0.75);
  tape.backward(y);
  EXPECT_EQ(w.grad(), (Array<double>{{1, -1, 1}, {0, 1, -1}}));  // 0 where the weight is exactly 0
  // The central difference at 0 is (|ε| − |−ε|)/2ε = 0 too, so gradcheck covers that point.
  auto r = gradcheck([](const Vs& v) { return l1_penalty(v[0]); }, {kX});
  EXPECT_TRUE(r.ok) << r.report();
  Parameter<double> b(Array<double>{-2.0, 0.5});
  Tape<double> t2;
  auto z = l1_penalty(t2, {w, b});
  EXPECT_DOUBLE_EQ(z.item(), 5.0 + 2.5);
}

// ---- dropout ----------------------------------------------------------------------------------------

TEST(Dropout, MaskIsInvertedAndSeeded) {
  Rng rng(7);
  const Array<double> m = dropout_mask<double>({200, 500}, 0.3, rng);
  std::size_t zeros = 0;
  for (double v : m) {
    if (v == 0) {
      ++zeros;
    } else {
      EXPECT_EQ(v, 1 / 0.7);
    }
  }
  // 100000 Bernoulli(0.3) draws: the standard deviation of the fraction is 0.0014.
  EXPECT_NEAR(double(zeros) / double(m.size()), 0.3, 0.01);
  Rng same(7), other(8);
  EXPECT_EQ(dropout_mask<double>({200, 500}, 0.3, same), m);
  EXPECT_NE(dropout_mask<double>({200, 500}, 0.3, other), m);
}

TEST(Dropout, ForwardAndBackwardUseTheSameMask) {
  Rng rng(3);
  Parameter<double> x(kX + 1.0);  // no zeros, so a zero in y means a dropped element
  Tape<double> tape;
  auto y = dropout(tape.bind(x), 0.5, rng);
  tape.backward(sum(y));
  const Array<double>& g = x.grad();
  Rng replay(3);
  const Array<double> mask = dropout_mask<double>(kX.shape(), 0.5, replay);
  for (std::size_t i = 0; i < kX.size(); ++i) EXPECT_EQ(g.data()[i], mask.data()[i]);
}

TEST(Dropout, GradcheckWithAFixedMask) {
  Rng rng(11);
  const Array<double> mask = dropout_mask<double>(kX.shape(), 0.4, rng);
  auto r = gradcheck([&](const Vs& v) { return dropout_with_mask(tanh(v[0]), mask); }, {kX});
  EXPECT_TRUE(r.ok) << r.report();
  // The drawing op itself: gradcheck evaluates f many times, so f seeds a fresh generator on
  // each call and every evaluation draws the same mask.
  r = gradcheck(
      [](const Vs& v) {
        Rng fixed(11);
        return dropout(v[0], 0.4, fixed);
      },
      {kX});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(Dropout, EdgeProbabilitiesAndErrors) {
  Rng rng(1);
  Tape<double> tape;
  auto x = tape.constant(kX);
  auto same = dropout(x, 0.0, rng);
  EXPECT_EQ(same.index(), x.index());  // p = 0: x itself, nothing recorded
  EXPECT_EQ(dropout(x, 1.0, rng).value(), Array<double>(xt::zeros<double>(kX.shape())));
  EXPECT_THROW(dropout(x, 1.5, rng), ValueError);
  EXPECT_THROW(dropout(x, -0.1, rng), ValueError);
  EXPECT_THROW(dropout(x, std::nan(""), rng), ValueError);
  EXPECT_THROW(dropout_with_mask(x, Array<double>{1.0, 0.0}), ShapeError);
}

TEST(DropoutModule, IdentityInEvalMode) {
  Rng rng(5);
  nn::Dropout<float> drop(0.5, rng);
  EXPECT_TRUE(drop.parameters().empty());
  Tape<float> tape;
  auto x = tape.constant(Array<float>(xt::ones<float>({4, 8})));
  drop.eval();
  auto y = drop.forward(x);
  EXPECT_EQ(y.value(), x.value());
  drop.train();
  auto z = drop.forward(x);
  EXPECT_NE(z.value(), x.value());
  for (float v : z.value()) EXPECT_TRUE(v == 0.f || v == 2.f);
}

TEST(DropoutModule, SameSeedSameMasksAndMasksChangeBetweenCalls) {
  Rng r1(9), r2(9);
  nn::Dropout<float> a(0.5, r1), b(0.5, r2);
  Tape<float> tape;
  auto x = tape.constant(Array<float>(xt::ones<float>({16, 16})));
  auto a1 = a.forward(x), a2 = a.forward(x);
  auto b1 = b.forward(x), b2 = b.forward(x);
  EXPECT_EQ(a1.value(), b1.value());
  EXPECT_EQ(a2.value(), b2.value());
  EXPECT_NE(a1.value(), a2.value());
  EXPECT_THROW(nn::Dropout<float>(2.0, r1), ValueError);
}

TEST(DropoutModule, InASequentialFollowsTheModelsMode) {
  Rng rng(2);
  nn::Sequential<double> net;
  net.push_back(std::make_shared<nn::Linear<double>>(nn::LinearOptions(3, 4), rng));
  auto drop = net.push_back(std::make_shared<nn::Dropout<double>>(0.5, rng));
  net.eval();
  EXPECT_FALSE(drop->is_training());
  Tape<double> tape;
  auto x = tape.constant(kX);
  EXPECT_EQ(net.forward(x).value(), net.forward(x).value());  // deterministic in eval mode
  net.train();
  EXPECT_NE(net.forward(x).value(), net.forward(x).value());
}

// ---- dropout2d ------------------------------------------------------------------------------------

TEST(Dropout2d, WholeChannelsDroppedOneDrawEach) {
  Rng rng(4);
  Parameter<double> x(Array<double>(xt::ones<double>({8, 16, 3, 3})));
  Tape<double> tape;
  auto y = dropout2d(tape.bind(x), 0.5, rng);
  // One uniform draw per (image, channel), in order; a dropped channel is all zeros, a kept one 2.
  Rng replay(4);
  std::size_t dropped = 0;
  for (std::size_t c = 0; c < 8 * 16; ++c) {
    const bool drop = replay.uniform01() < 0.5;
    dropped += drop;
    for (std::size_t i = 0; i < 9; ++i) EXPECT_EQ(y.value().data()[c * 9 + i], drop ? 0.0 : 2.0);
  }
  EXPECT_GT(dropped, 30u);
  EXPECT_LT(dropped, 98u);
  const Array<double> yv = y.value();
  tape.backward(sum(y));
  EXPECT_EQ(x.grad(), yv);  // the same mask in backward
  // Unbatched (C, H, W): one draw per channel.
  auto u = dropout2d(tape.constant(Array<double>(xt::ones<double>({5, 2, 2}))), 0.5, rng);
  for (std::size_t c = 0; c < 5; ++c) EXPECT_EQ(u.value()(c, 0, 0), u.value()(c, 1, 1));
  EXPECT_THROW(dropout2d(tape.constant(kX), 0.5, rng), ShapeError);
  EXPECT_THROW(dropout2d(u, 1.5, rng), ValueError);
  const auto r = gradcheck(
      [](const Vs& v) {
        Rng fixed(3);
        return dropout2d(tanh(v[0]), 0.3, fixed);
      },
      {Array<double>(xt::ones<double>({2, 3, 2, 2}) * 0.3)});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(Dropout2dModule, IdentityInEvalMode) {
  Rng rng(5);
  nn::Dropout2d<float> drop(0.25, rng);
  Tape<float> tape;
  auto x = tape.constant(Array<float>(xt::ones<float>({4, 8, 2, 2})));
  drop.eval();
  EXPECT_EQ(drop.forward(x).index(), x.index());
  drop.train();
  for (float v : drop.forward(x).value()) EXPECT_TRUE(v == 0.f || v == 1.f / 0.75f);
  EXPECT_THROW(nn::Dropout2d<float>(-1.0, rng), ValueError);
}

}  // namespace
}  // namespace tapegrad
