// Modules: registration and dotted names, train/eval, He initialisation, Linear/MLP forward
// against hand-computed values, gradchecks, and bit-identical seeded construction.
#include <gtest/gtest.h>

#include <cmath>

#include "tapegrad/gradcheck.hpp"
#include "tapegrad/nn/activation.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/nn/sequential.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/optim/sgd.hpp"

#include <memory>
#include <string>

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg::Array;

TEST(Module, MlpNamesParametersWithDots) {
  tg::Rng rng(0);
  nn::MLP<float> mlp({2, 4, 3, 1}, rng);
  const auto named = mlp.named_parameters();
  std::vector<std::string> names;
  for (const auto& [n, p] : named) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.1.weight",
                                             "layers.1.bias", "layers.2.weight", "layers.2.bias"}));
  EXPECT_EQ(named[0].second.shape(), (tg::Shape{2, 4}));
  EXPECT_EQ(named[1].second.shape(), (tg::Shape{1, 4}));
  EXPECT_EQ(named[4].second.shape(), (tg::Shape{3, 1}));
  EXPECT_EQ(mlp.parameters().size(), 6u);
}

TEST(Module, RegistryAndAccessorAreTheSameParameter) {
  // libtorch issue #21682: replacing a member left parameters() stale. Here the accessor returns
  // the registry entry itself.
  tg::Rng rng(0);
  nn::Linear<double> fc(nn::LinearOptions(2, 3), rng);
  fc.weight() = tg::Parameter<double>(xt::ones<double>({2, 3}));
  auto params = fc.named_parameters();
  EXPECT_TRUE(params[0].second.same(fc.weight()));
  EXPECT_EQ(params[0].second.value(), (xt::ones<double>({2, 3})));
  fc.weight().mutable_value()(0, 0) = 7;
  EXPECT_EQ(fc.parameters()[0].value()(0, 0), 7);
}

TEST(Module, TrainEvalPropagates) {
  tg::Rng rng(0);
  nn::Sequential<float> seq;
  auto fc = seq.push_back(std::make_shared<nn::Linear<float>>(nn::LinearOptions(2, 2), rng));
  seq.push_back(std::make_shared<nn::ReLU<float>>());
  EXPECT_TRUE(fc->is_training());
  seq.eval();
  EXPECT_FALSE(seq.is_training());
  EXPECT_FALSE(fc->is_training());
  seq.train();
  EXPECT_TRUE(fc->is_training());
}

TEST(Module, SequentialNamesAndForward) {
  tg::Rng rng(1);
  nn::Sequential<double> seq;
  auto fc = seq.push_back(std::make_shared<nn::Linear<double>>(nn::LinearOptions(2, 2), rng));
  seq.push_back(std::make_shared<nn::Tanh<double>>());
  seq.push_back(std::make_shared<nn::Sigmoid<double>>());
  EXPECT_EQ(seq.named_parameters()[0].first, "0.weight");
  fc->weight().mutable_value() = Array<double>{{1, 0}, {0, -1}};
  fc->bias().mutable_value() = Array<double>{{0.5, 0}};
  tg::Tape<double> tape;
  auto y = seq.forward(tape.constant(Array<double>{{1, 2}}));
  EXPECT_DOUBLE_EQ(y.value()(0, 0), 1 / (1 + std::exp(-std::tanh(1.5))));
  EXPECT_DOUBLE_EQ(y.value()(0, 1), 1 / (1 + std::exp(-std::tanh(-2.0))));
}

TEST(Module, BadNamesAndOptionsAreRejected) {
  tg::Rng rng(0);
  EXPECT_THROW(nn::MLP<float>({3}, rng), tg::ValueError);
  EXPECT_THROW(nn::Linear<float>(nn::LinearOptions(0, 3), rng), tg::ValueError);
  nn::Linear<float> nobias(nn::LinearOptions(2, 3).bias(false), rng);
  EXPECT_EQ(nobias.parameters().size(), 1u);
  EXPECT_THROW(nobias.bias(), tg::ValueError);
}

TEST(Linear, ForwardMatchesHandComputation) {
  tg::Rng rng(0);
  nn::Linear<double> fc(nn::LinearOptions(3, 2), rng);
  fc.weight().mutable_value() = Array<double>{{1, 2}, {3, 4}, {5, 6}};
  fc.bias().mutable_value() = Array<double>{{0.5, -0.5}};
  tg::Tape<double> tape;
  auto y = fc.forward(tape.constant(Array<double>{{1, 0, -1}, {2, 1, 0}}));
  EXPECT_EQ(y.value(), (Array<double>{{-3.5, -4.5}, {5.5, 7.5}}));
}

TEST(Linear, NoBiasForward) {
  tg::Rng rng(0);
  nn::Linear<double> fc(nn::LinearOptions(2, 1).bias(false), rng);
  fc.weight().mutable_value() = xt::reshape_view(Array<double>{2, 3}, {2, 1});
  tg::Tape<double> tape;
  EXPECT_EQ(fc.forward(tape.constant(Array<double>{{1, 1}})).value(), (Array<double>(xt::ones<double>({1, 1}) * 5.0)));
}

TEST(Linear, HeInitialisationAsTheTutorial) {
  // randn(fan_in, fan_out) * sqrt(2 / fan_in): the same draws, scaled; zero bias.
  tg::Rng a(123), b(123);
  nn::Linear<double> fc(nn::LinearOptions(400, 300), a);
  const Array<double> draws = b.normal<double>({400, 300});
  EXPECT_EQ(fc.weight().value(), draws * std::sqrt(2.0 / 400));
  EXPECT_EQ(fc.bias().value(), (xt::zeros<double>({1, 300})));
  const double var = xt::variance(fc.weight().value())();
  EXPECT_NEAR(var, 2.0 / 400, 0.05 * 2.0 / 400);
}

TEST(Linear, GradcheckThroughTheModule) {
  tg::Rng rng(4);
  auto fc = std::make_shared<nn::Linear<double>>(nn::LinearOptions(3, 2), rng);
  const Array<double> x = rng.normal<double>({4, 3});
  const auto r = tg::gradcheck(
      [fc](const std::vector<tg::Var<double>>& v) {
        fc->weight().mutable_value() = v[1].value();
        fc->bias().mutable_value() = v[2].value();
        // Route the module's parameters through the checked inputs.
        return tg::linear(v[0], v[1], v[2]);
      },
      {x, fc->weight().value(), fc->bias().value()});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(MLP, ForwardIsLinearReluLinear) {
  tg::Rng rng(5);
  nn::MLP<double> mlp({2, 3, 1}, rng);
  tg::Tape<double> tape;
  const Array<double> x{{0.5, -1.0}, {2.0, 0.25}};
  auto y = mlp.forward(tape.constant(x));
  const Array<double>& w0 = mlp.layer(0).weight().value();
  const Array<double>& b0 = mlp.layer(0).bias().value();
  const Array<double>& w1 = mlp.layer(1).weight().value();
  const Array<double>& b1 = mlp.layer(1).bias().value();
  for (std::size_t i = 0; i < 2; ++i) {
    double out = b1(0, 0);
    for (std::size_t j = 0; j < 3; ++j) {
      double h = b0(0, j);
      for (std::size_t k = 0; k < 2; ++k) h += x(i, k) * w0(k, j);
      out += std::max(h, 0.0) * w1(j, 0);
    }
    EXPECT_NEAR(y.value()(i, 0), out, 1e-14);
  }
}

TEST(MLP, SameSeedSameWeightsBitForBit) {
  tg::Rng a(42), b(42), c(43);
  nn::MLP<float> m1({8, 16, 4}, a), m2({8, 16, 4}, b), m3({8, 16, 4}, c);
  for (std::size_t i = 0; i < m1.parameters().size(); ++i) {
    EXPECT_EQ(m1.parameters()[i].value(), m2.parameters()[i].value());
  }
  EXPECT_NE(m1.parameters()[0].value(), m3.parameters()[0].value());
}

TEST(MLP, ZeroGradResetsEveryParameter) {
  tg::Rng rng(0);
  nn::MLP<double> mlp({2, 3, 1}, rng);
  tg::Tape<double> tape;
  tape.backward(tg::sum(mlp.forward(tape.constant(xt::ones<double>({2, 2})))));
  double total = 0;
  for (auto& p : mlp.parameters()) total += xt::sum(xt::abs(p.grad()))();
  EXPECT_GT(total, 0);
  mlp.zero_grad();
  for (auto& p : mlp.parameters()) EXPECT_EQ(xt::sum(xt::abs(p.grad()))(), 0);
}

// ---- the registry: references, sharing, cycles, depth ---------------------------------------------

namespace {
// Written the natural way: members that are references to successive registrations.
struct ThreeMatrices : nn::Module<float> {
  ThreeMatrices()
      : a(register_parameter("a", tg::Array<float>(xt::ones<float>({2, 2})))),
        b(register_parameter("b", tg::Array<float>(xt::ones<float>({2, 2}) * 2.f))),
        c(register_parameter("c", tg::Array<float>(xt::ones<float>({2, 2}) * 3.f))) {
    for (int i = 0; i < 100; ++i) register_buffer("pad" + std::to_string(i), tg::Array<float>{0.f});
  }
  tg::Var<float> forward(const tg::Var<float>& x) { return tg::matmul(tg::matmul(tg::matmul(x, a), b), c); }
  tg::Parameter<float>& a;
  tg::Parameter<float>& b;
  tg::Parameter<float>& c;
};
}  // namespace

TEST(Module, ReferencesToRegisteredParametersStayValid) {
  ThreeMatrices m;
  tg::Tape<float> tape;
  auto y = m.forward(tape.constant(tg::Array<float>(xt::ones<float>({1, 2}))));
  EXPECT_FLOAT_EQ(y.value()(0, 0), 48.f);  // (1 1)·a = (2 2), ·b = (8 8), ·c = (48 48)
  tape.backward(tg::sum(y));
  EXPECT_TRUE(m.a.has_grad());
  EXPECT_TRUE(m.a.same(m.named_parameters()[0].second));
  EXPECT_EQ(m.named_buffers().size(), 100u);
  EXPECT_EQ(m.parameters().size(), 3u);
  EXPECT_FALSE(m.buffers()[0].requires_grad());
}

TEST(Module, ASubmoduleRegisteredTwiceIsListedOnceUnderItsFirstName) {
  tg::Rng rng(0);
  nn::Sequential<float> net;
  auto fc = std::make_shared<nn::Linear<float>>(nn::LinearOptions(2, 2), rng);
  net.push_back(fc);
  net.push_back(std::make_shared<nn::ReLU<float>>());
  net.push_back(fc);  // applied twice, as PyTorch allows
  const auto named = net.named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "0.weight");
  EXPECT_EQ(named[1].first, "0.bias");
  tg::optim::SGD<float> opt(net.parameters(), 0.1);  // no "same parameter" error
  tg::Tape<float> tape;
  tape.backward(tg::sum(net.forward(tape.constant(tg::Array<float>{{1.f, 2.f}}))));
  opt.step();
}

TEST(Module, ATiedParameterIsListedOnce) {
  struct Tied : nn::Module<float> {
    Tied() : w(register_parameter("w", tg::Array<float>{1.f})) {}
    tg::Parameter<float>& w;
  };
  nn::ModuleList<float> list;
  auto t = std::make_shared<Tied>();
  list.push_back(t);
  list.push_back(std::make_shared<Tied>());
  EXPECT_EQ(list.parameters().size(), 2u);
}

TEST(Module, DeepNestingNeedsNoRecursion) {
  // 100,000 modules, each inside the next (built bottom-up) and then top-down.
  tg::Rng rng(0);
  auto inner = std::make_shared<nn::Sequential<float>>();
  inner->push_back(std::make_shared<nn::Linear<float>>(nn::LinearOptions(1, 1), rng));
  std::shared_ptr<nn::Sequential<float>> outer = inner;
  for (int i = 0; i < 100000; ++i) {
    auto next = std::make_shared<nn::Sequential<float>>();
    next->push_back(outer);
    outer = next;
  }
  const auto named = outer->named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first.size(), 100000u * 2 + std::string("0.weight").size());
  outer->eval();
  EXPECT_FALSE(inner->is_training());
  auto top = std::make_shared<nn::Sequential<float>>();
  auto cur = top;
  for (int i = 0; i < 100000; ++i) cur = cur->push_back(std::make_shared<nn::Sequential<float>>());
  EXPECT_EQ(top->parameters().size(), 0u);
}  // both chains are destroyed here, without recursion (~Module unlinks them iteratively)
