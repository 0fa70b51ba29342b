// nn::Conv2d, nn::ConvTranspose2d and the pooling modules: PyTorch's parameter names, shapes and
// initialisation bounds, forward with fixed weights against hand-computed values, the no-bias
// variant, gradcheck through the module, and a save/load round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "tapegrad/conv.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/io/checkpoint.hpp"
#include "tapegrad/normalization.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/nn/batchnorm.hpp"
#include "tapegrad/nn/conv.hpp"
#include "tapegrad/nn/pooling.hpp"
#include "tapegrad/nn/sequential.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/pooling.hpp"
#include "tapegrad/reduction.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg::Array;

TEST(Conv2dModule, NamesShapesAndPyTorchInitialisation) {
  tg::Rng rng(1);
  nn::Conv2d<float> conv(nn::Conv2dOptions(6, 8, {3, 5}).groups(2).padding(1), rng);
  const auto named = conv.named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_EQ(named[0].second.shape(), (tg::Shape{8, 3, 3, 5}));
  EXPECT_EQ(named[1].first, "bias");
  EXPECT_EQ(named[1].second.shape(), (tg::Shape{8}));
  // kaiming_uniform_(a = √5): U(−1/√fan_in, 1/√fan_in), fan_in = 3·3·5 = 45; the bias the same bound.
  const float bound = 1.f / std::sqrt(45.f);
  EXPECT_LE(xt::amax(xt::abs(conv.weight().value()))(), bound);
  EXPECT_GT(xt::amax(xt::abs(conv.weight().value()))(), 0.9f * bound);  // spread over the range
  EXPECT_LE(xt::amax(xt::abs(conv.bias().value()))(), bound);
  // The same seed, the same weights bit for bit.
  tg::Rng again(1);
  nn::Conv2d<float> twin(nn::Conv2dOptions(6, 8, {3, 5}).groups(2).padding(1), again);
  EXPECT_EQ(twin.weight().value(), conv.weight().value());
  // ConvTranspose2d: weight (in, out / groups, kH, kW); fan_in = out / groups · kH · kW as PyTorch.
  nn::ConvTranspose2d<float> up(nn::ConvTranspose2dOptions(4, 6, 2).stride(2).groups(2), rng);
  EXPECT_EQ(up.weight().shape(), (tg::Shape{4, 3, 2, 2}));
  EXPECT_EQ(up.bias().shape(), (tg::Shape{6}));
  EXPECT_LE(xt::amax(xt::abs(up.weight().value()))(), 1.f / std::sqrt(12.f));
}

TEST(Conv2dModule, FixedWeightsAndNoBias) {
  tg::Rng rng(2);
  nn::Conv2d<double> conv(nn::Conv2dOptions(1, 2, 2).bias(false), rng);
  EXPECT_EQ(conv.named_parameters().size(), 1u);
  EXPECT_THROW(conv.bias(), tg::ValueError);
  // Filter 0 sums a 2×2 block, filter 1 takes its top-left minus its bottom-right.
  conv.weight().mutable_value() = Array<double>{{{{1, 1}, {1, 1}}}, {{{1, 0}, {0, -1}}}};
  tg::Tape<double> tape;
  Array<double> x = xt::arange<double>(1, 10);
  x.reshape({1, 1, 3, 3});
  auto y = conv.forward(tape.constant(x));
  EXPECT_EQ(y.value(), (Array<double>{{{{12, 16}, {24, 28}}, {{-4, -4}, {-4, -4}}}}));

  nn::Conv2d<double> biased(nn::Conv2dOptions(1, 1, 1), rng);
  biased.weight().mutable_value().fill(2);
  biased.bias().mutable_value().fill(-1);
  EXPECT_EQ(biased.forward(tape.constant(x)).value(), 2.0 * x - 1.0);
}

TEST(Conv2dModule, GradcheckThroughTheModule) {
  tg::Rng rng(3);
  auto conv = std::make_shared<nn::Conv2d<double>>(nn::Conv2dOptions(2, 3, 3).stride(2).padding(1), rng);
  const auto r = tg::gradcheck(
      [conv](const std::vector<tg::Var<double>>& v) {
        conv->weight().mutable_value() = v[1].value();
        conv->bias().mutable_value() = v[2].value();
        return tg::conv2d(v[0], v[1], v[2], conv->options().stride(), conv->options().padding());
      },
      {rng.normal<double>({2, 2, 5, 5}), conv->weight().value(), conv->bias().value()});
  EXPECT_TRUE(r.ok) << r.report();
  // And the module's own forward puts its gradients in its parameters.
  tg::Tape<double> tape;
  auto y = conv->forward(tape.constant(rng.normal<double>({2, 2, 5, 5})));
  tape.backward(y, Array<double>(xt::ones<double>(y.shape())));
  EXPECT_TRUE(conv->weight().has_grad());
  EXPECT_NEAR(conv->bias().grad()(0), 2 * 3 * 3, 1e-12);  // two images of 3×3 outputs, each seeded 1
}

TEST(Conv2dModule, SaveLoadRoundTrip) {
  tg::Rng rng(4);
  nn::Sequential<float> net;
  net.push_back(std::make_shared<nn::Conv2d<float>>(nn::Conv2dOptions(1, 4, 3).padding(1), rng));
  net.push_back(std::make_shared<nn::MaxPool2d<float>>(2));
  net.push_back(std::make_shared<nn::ConvTranspose2d<float>>(nn::ConvTranspose2dOptions(4, 2, 2).stride(2), rng));
  const std::string path = testing::TempDir() + "tapegrad_conv_roundtrip.npz";
  tg::save(net, path);
  tg::Rng other(5);
  nn::Sequential<float> copy;
  copy.push_back(std::make_shared<nn::Conv2d<float>>(nn::Conv2dOptions(1, 4, 3).padding(1), other));
  copy.push_back(std::make_shared<nn::MaxPool2d<float>>(2));
  copy.push_back(std::make_shared<nn::ConvTranspose2d<float>>(nn::ConvTranspose2dOptions(4, 2, 2).stride(2), other));
  tg::load(copy, path);
  std::remove(path.c_str());
  const auto a = net.named_parameters(), b = copy.named_parameters();
  ASSERT_EQ(a.size(), 4u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.value(), b[i].second.value());
  }
  EXPECT_EQ(a[0].first, "0.weight");
  EXPECT_EQ(a[3].first, "2.bias");
}

TEST(Conv2dModule, BadOptionsAreValueErrors) {
  tg::Rng rng(6);
  EXPECT_THROW(nn::Conv2d<float>(nn::Conv2dOptions(3, 4, 3).groups(2), rng), tg::ValueError);
  EXPECT_THROW(nn::Conv2d<float>(nn::Conv2dOptions(4, 3, 3).groups(2), rng), tg::ValueError);
  EXPECT_THROW(nn::Conv2d<float>(nn::Conv2dOptions(0, 3, 3), rng), tg::ValueError);
  EXPECT_THROW(nn::Conv2d<float>(nn::Conv2dOptions(1, 3, 0), rng), tg::ValueError);
  EXPECT_THROW(nn::Conv2d<float>(nn::Conv2dOptions(1, 3, 3).stride(0), rng), tg::ValueError);
  EXPECT_THROW(nn::ConvTranspose2d<float>(nn::ConvTranspose2dOptions(1, 3, 3).stride(2).output_padding(2), rng),
               tg::ValueError);
}

TEST(PoolingModules, ForwardAsTheOps) {
  tg::Rng rng(7);
  tg::Tape<double> tape;
  auto x = tape.constant(rng.normal<double>({2, 3, 7, 6}));
  nn::MaxPool2d<double> max2(2);
  EXPECT_EQ(max2.options().stride(), tg::Size2(2));
  EXPECT_EQ(max2.forward(x).value(), tg::max_pool2d(x, 2).value());
  nn::MaxPool2d<double> max3(nn::MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true));
  EXPECT_EQ(max3.forward(x).value(), tg::max_pool2d(x, 3, 2, 1, 1, true).value());
  nn::AvgPool2d<double> avg(nn::AvgPool2dOptions(3).stride(1).padding(1).count_include_pad(false));
  EXPECT_EQ(avg.forward(x).value(), tg::avg_pool2d(x, 3, 1, 1, false, false).value());
  nn::AdaptiveAvgPool2d<double> gap(1);
  EXPECT_EQ(gap.forward(x).shape(), (tg::Shape{2, 3, 1, 1}));
  EXPECT_TRUE(max2.named_parameters().empty());
}

// nn::BatchNorm2d: statistics per channel over N, H and W; PyTorch's names; running statistics
// updated in training (unbiased variance), used in evaluation; gradcheck of the training forward.
TEST(BatchNorm2dModule, PerChannelStatisticsBuffersAndGradcheck) {
  nn::BatchNorm2d<double> bn(nn::BatchNormOptions(2).momentum(0.5));
  const auto named = bn.named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_EQ(named[1].first, "bias");
  const auto buffers = bn.named_buffers();
  ASSERT_EQ(buffers.size(), 3u);
  EXPECT_EQ(buffers[0].first, "running_mean");
  EXPECT_EQ(buffers[1].first, "running_var");
  EXPECT_EQ(buffers[2].first, "num_batches_tracked");
  // x (2, 2, 1, 2): channel 0 holds 1, 3, 5, 7 (mean 4, biased var 5); channel 1 holds 10 four times.
  const Array<double> x{{{{1, 3}}, {{10, 10}}}, {{{5, 7}}, {{10, 10}}}};
  tg::Tape<double> tape;
  auto y = bn.forward(tape.constant(x));
  EXPECT_NEAR(y.value()(1, 0, 0, 1), (7 - 4) / std::sqrt(5 + 1e-5), 1e-12);
  EXPECT_NEAR(y.value()(0, 1, 0, 0), 0, 1e-12);
  EXPECT_NEAR(bn.running_mean().value()(0), 0.5 * 4, 1e-12);
  EXPECT_NEAR(bn.running_var().value()(0), 0.5 * 1 + 0.5 * (20.0 / 3), 1e-12);  // unbiased: 20/3
  EXPECT_EQ(bn.num_batches_tracked().value()(), 1.0);
  bn.eval();
  auto e = bn.forward(tape.constant(x));
  EXPECT_NEAR(e.value()(0, 0, 0, 0), (1 - 2) / std::sqrt(0.5 + 10.0 / 3 + 1e-5), 1e-12);
  EXPECT_EQ(bn.num_batches_tracked().value()(), 1.0);
  EXPECT_THROW(bn.forward(tape.constant(Array<double>{{1, 2}, {3, 4}})), tg::ShapeError);

  tg::Rng rng(4);
  auto train = std::make_shared<nn::BatchNorm2d<double>>(3);
  const auto r = tg::gradcheck(
      [train](const std::vector<tg::Var<double>>& v) {
        train->weight().mutable_value() = v[1].value();
        train->bias().mutable_value() = v[2].value();
        return tg::batch_norm(v[0], tg::Parameter<double>(), tg::Parameter<double>(), v[1], v[2], true);
      },
      {rng.normal<double>({2, 3, 3, 2}), rng.normal<double>({3}), rng.normal<double>({3})});
  EXPECT_TRUE(r.ok) << r.report();
  auto out = train->forward(tape.constant(rng.normal<double>({2, 3, 3, 2})));
  tape.backward(tg::sum(tg::mul(out, out)));
  EXPECT_TRUE(train->weight().has_grad());
  EXPECT_TRUE(train->bias().has_grad());
}
