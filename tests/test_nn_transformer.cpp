// nn::TransformerEncoderLayer, TransformerEncoder, PositionalEmbedding and the sinusoidal
// encoding (nn/transformer.hpp): PyTorch's names, the pre-norm variant and masks by gradient
// checks (inputs through gradcheck, parameters by central differences), and no allocation per
// training step. tests/test_torch_seq.cpp checks the post-norm layer against libtorch.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "io_test_util.hpp"  // LargestAllocation: counts allocations, sanitizer-safe
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/nn/transformer.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/reduction.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg::Array;
using Vars = std::vector<tg::Var<double>>;

namespace {

std::vector<std::string> names(const nn::Module<double>& m) {
  std::vector<std::string> out;
  for (const auto& [n, p] : m.named_parameters()) out.push_back(n);
  return out;
}

void check_parameter_gradients(nn::Module<double>& m, const std::function<tg::Var<double>(tg::Tape<double>&)>& loss) {
  tg::Tape<double> tape;
  m.zero_grad();
  tape.backward(loss(tape));
  for (auto& [name, p] : m.named_parameters()) {
    const Array<double> g = p.grad();
    for (std::size_t i = 0; i < p.value().size(); i += 5) {
      const double x0 = p.value().data()[i], eps = 1e-6;
      p.mutable_value().data()[i] = x0 + eps;
      const double up = loss(tape).item();
      tape.clear();
      p.mutable_value().data()[i] = x0 - eps;
      const double down = loss(tape).item();
      tape.clear();
      p.mutable_value().data()[i] = x0;
      const double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(g.data()[i], numeric, 1e-6 + 1e-5 * std::abs(numeric)) << name << "[" << i << "]";
    }
  }
}

}  // namespace

TEST(NnTransformer, NamesAsPyTorch) {
  tg::Rng rng(0);
  nn::TransformerEncoder<double> enc(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16), 2, rng, true);
  const auto n = names(enc);
  const std::vector<std::string> layer = {"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                                          "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                                          "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                                          "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"};
  ASSERT_EQ(n.size(), 2 * layer.size() + 2);
  for (std::size_t i = 0; i < layer.size(); ++i) {
    EXPECT_EQ(n[i], "layers.0." + layer[i]);
    EXPECT_EQ(n[layer.size() + i], "layers.1." + layer[i]);
  }
  EXPECT_EQ(n[2 * layer.size()], "norm.weight");
  EXPECT_EQ(enc.layer(0).linear1().weight().shape(), (tg::Shape{8, 16}));  // (in, out)
  EXPECT_THROW(nn::TransformerEncoderLayer<double>(nn::TransformerEncoderLayerOptions(8, 3), rng), tg::ValueError);
  EXPECT_THROW(nn::TransformerEncoderLayer<double>(nn::TransformerEncoderLayerOptions(8, 2).activation("tanh"), rng),
               tg::ValueError);
}

TEST(NnTransformer, PreNormGeluWithMasksGradients) {
  tg::Rng rng(1);
  nn::TransformerEncoderLayer<double> layer(
      nn::TransformerEncoderLayerOptions(4, 2).dim_feedforward(6).dropout(0).activation("gelu").norm_first(true).batch_first(true),
      rng);
  tg::BoolArray kpm = xt::zeros<bool>({2, 3});
  kpm(0, 2) = true;
  const Array<double> x = rng.normal<double>({2, 3, 4}), w = rng.normal<double>({2, 3, 4});
  auto f = [&](const Vars& v) {
    tg::Tape<double>& tape = *v[0].tape();
    return tg::sum(tg::mul(layer.forward(v[0], {}, kpm, true), tape.constant(w)));
  };
  const auto r = tg::gradcheck(f, {x});
  EXPECT_TRUE(r.ok) << r.report();
  check_parameter_gradients(layer, [&](tg::Tape<double>& tape) {
    return tg::sum(tg::mul(layer.forward(tape.constant(x), {}, kpm, true), tape.constant(w)));
  });
}

TEST(NnTransformer, PostNormParameterGradients) {
  tg::Rng rng(2);
  nn::TransformerEncoderLayer<double> layer(nn::TransformerEncoderLayerOptions(4, 2).dim_feedforward(6).dropout(0), rng);
  const Array<double> x = rng.normal<double>({3, 2, 4}), w = rng.normal<double>({3, 2, 4});
  check_parameter_gradients(layer, [&](tg::Tape<double>& tape) {
    return tg::sum(tg::mul(layer.forward(tape.constant(x)), tape.constant(w)));
  });
}

TEST(NnTransformer, PositionalEncodings) {
  const Array<double> pe = nn::sinusoidal_positional_encoding<double>(5, 6);
  EXPECT_DOUBLE_EQ(pe(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(pe(0, 1), 1.0);
  EXPECT_NEAR(pe(3, 2), std::sin(3 / std::pow(10000.0, 2.0 / 6)), 1e-15);
  EXPECT_NEAR(pe(3, 5), std::cos(3 / std::pow(10000.0, 4.0 / 6)), 1e-15);
  tg::Rng rng(3);
  nn::PositionalEmbedding<double> pos(7, 3, rng);
  EXPECT_EQ(pos.weight().shape(), (tg::Shape{7, 3}));
  const Array<double> x = rng.normal<double>({2, 4, 3});
  tg::Tape<double> tape;
  auto y = pos.forward(tape.constant(x));
  EXPECT_DOUBLE_EQ(y.value()(1, 2, 0), x(1, 2, 0) + pos.weight().value()(2, 0));
  const Array<double> yv = y.value();
  tape.backward(tg::sum(tg::mul(y, y)));
  // d/dW[t] = Σ_b 2 y[b, t]; rows past the length get nothing.
  EXPECT_NEAR(pos.weight().grad()(1, 1), 2 * (yv(0, 1, 1) + yv(1, 1, 1)), 1e-12);
  EXPECT_EQ(pos.weight().grad()(5, 0), 0.0);
  auto f = [&](const Vars& v) { return tg::sum(tg::mul(pos.forward(v[0]), v[0])); };
  const auto r = tg::gradcheck(f, {x});
  EXPECT_TRUE(r.ok) << r.report();
  EXPECT_THROW(pos.forward(tape.constant(rng.normal<double>({2, 8, 3}))), tg::ShapeError);
}

TEST(NnTransformer, NoHeapAllocationPerTrainingStep) {
  tg::Rng rng(4);
  nn::TransformerEncoder<float> enc(
      nn::TransformerEncoderLayerOptions(32, 4).dim_feedforward(64).dropout(0.1).batch_first(true), 2, rng, true);
  tg::optim::Adam<float> opt(enc.parameters(), tg::optim::AdamOptions(1e-3));
  tg::Tape<float> tape;
  const Array<float> x = rng.normal<float>({32, 12, 32});
  auto step = [&] {
    opt.zero_grad();
    tape.backward(tg::mean(enc.forward(tape.constant(x), {}, {}, true)));
    opt.step();
  };
  for (int i = 0; i < 30; ++i) step();
  tg_test::LargestAllocation probe;
  for (int i = 0; i < 10; ++i) step();
  EXPECT_EQ(probe.count(), 0u) << "largest " << probe.bytes() << " bytes";
}
