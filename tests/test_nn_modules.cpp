// The modules Embedding, LayerNorm, BatchNorm1d, Identity; a module with several inputs (the
// residual MLP of examples/residual_mlp.hpp): parameters, buffers, train/eval, checkpoints; and
// a training step with every new op that allocates nothing once warm.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "io_test_util.hpp"  // replaces operator new: LargestAllocation counts allocations
#include "residual_mlp.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tapegrad::nn {
namespace {

std::vector<std::string> names(const std::vector<std::pair<std::string, Parameter<double>>>& named) {
  std::vector<std::string> out;
  for (const auto& [n, p] : named) out.push_back(n);
  return out;
}

TEST(EmbeddingModule, WeightAsPyTorchAndThePaddingRowZeroed) {
  Rng rng(1);
  Embedding<double> e(EmbeddingOptions(100, 30).padding_idx(-1), rng);
  EXPECT_EQ(names(e.named_parameters()), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(e.weight().shape(), (Shape{100, 30}));
  EXPECT_EQ(*e.options().padding_idx(), 99);  // stored as a row
  for (std::size_t k = 0; k < 30; ++k) EXPECT_EQ(e.weight().value()(99, k), 0.0);
  EXPECT_NEAR(xt::mean(e.weight().value())(), 0.0, 0.05);  // N(0, 1)
  Tape<double> tape;
  auto y = e.forward(tape.constant(Array<double>{{3, 99}}));
  EXPECT_EQ(y.shape(), (Shape{1, 2, 30}));
  EXPECT_EQ(y.value()(0, 0, 7), e.weight().value()(3, 7));
  tape.backward(sum(y));
  EXPECT_EQ(e.weight().grad()(3, 0), 1.0);
  EXPECT_EQ(e.weight().grad()(99, 0), 0.0);
  EXPECT_THROW(Embedding<double>(EmbeddingOptions(4, 2).padding_idx(4), rng), ValueError);
  EXPECT_THROW(Embedding<double>(0, 2, rng), ValueError);
}

TEST(LayerNormModule, ParametersForwardAndGradcheck) {
  LayerNorm<double> ln(LayerNormOptions({2, 3}).eps(1e-3));
  EXPECT_EQ(names(ln.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(ln.weight().value(), xt::ones<double>({2, 3}));
  EXPECT_EQ(ln.bias().value(), xt::zeros<double>({2, 3}));
  ln.weight().mutable_value() = Array<double>{{1, 2, 3}, {0.5, 1, -1}};
  ln.bias().mutable_value() = Array<double>{{0, 1, 0}, {1, 0, 2}};
  const Array<double> x = xt::reshape_view(xt::linspace<double>(-1, 2, 12), {2, 2, 3});
  Tape<double> tape;
  auto y = ln.forward(tape.constant(x));
  auto want = layer_norm(tape.constant(x), {2, 3}, ln.weight(), ln.bias(), 1e-3);
  EXPECT_EQ(y.value(), want.value());
  auto r = gradcheck(
      [&](const std::vector<Var<double>>& v) { return ln.forward(v[0]) * v[0]; }, {x});
  EXPECT_TRUE(r.ok) << r.report();
  // No affine part, or no bias.
  EXPECT_TRUE(LayerNorm<double>(LayerNormOptions(3).elementwise_affine(false)).named_parameters().empty());
  LayerNorm<double> nobias(LayerNormOptions(3).bias(false));
  EXPECT_EQ(names(nobias.named_parameters()), (std::vector<std::string>{"weight"}));
  EXPECT_THROW(nobias.bias(), ValueError);
  EXPECT_THROW(LayerNorm<double>(LayerNormOptions(std::vector<std::size_t>{})), ValueError);
}

TEST(BatchNorm1dModule, BuffersTrainAndEval) {
  BatchNorm1d<double> bn(BatchNormOptions(2).momentum(0.5));
  EXPECT_EQ(names(bn.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(names(bn.named_buffers()), (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  for (const auto& p : bn.buffers()) EXPECT_FALSE(p.requires_grad());
  const Array<double> x{{1, 10}, {3, 20}, {5, 60}};  // channel means 3, 30; biased vars 8/3, 1400/3
  Tape<double> tape;
  auto y = bn.forward(tape.constant(x));
  const Array<double> y_train = y.value();
  EXPECT_NEAR(y.value()(0, 0), -2 / std::sqrt(8.0 / 3 + 1e-5), 1e-12);
  EXPECT_NEAR(bn.running_mean().value()(1), 0.5 * 0 + 0.5 * 30, 1e-12);
  EXPECT_NEAR(bn.running_var().value()(0), 0.5 * 1 + 0.5 * 4.0, 1e-12);  // unbiased 8/2
  EXPECT_EQ(bn.num_batches_tracked().value()(), 1.0);
  tape.backward(sum(y * y));
  EXPECT_TRUE(bn.weight().has_grad());
  // Evaluation: the running statistics, nothing updated.
  bn.eval();
  const Array<double> mean = bn.running_mean().value();
  auto e = bn.forward(tape.constant(x));
  EXPECT_NEAR(e.value()(2, 1), (60 - mean(1)) / std::sqrt(bn.running_var().value()(1) + 1e-5), 1e-12);
  EXPECT_EQ(bn.num_batches_tracked().value()(), 1.0);
  EXPECT_EQ(bn.running_mean().value(), mean);
  // A failing call (a batch of one in training) changes no buffer.
  bn.train();
  EXPECT_THROW(bn.forward(tape.constant(Array<double>{{1, 2}})), ValueError);
  EXPECT_EQ(bn.num_batches_tracked().value()(), 1.0);
  EXPECT_THROW(bn.forward(tape.constant(Array<double>{{1, 2, 3}})), ShapeError);
  // (N, C, L), and the cumulative average (momentum none).
  BatchNorm1d<double> avg(BatchNormOptions(2).momentum(std::nullopt).affine(false));
  EXPECT_TRUE(avg.named_parameters().empty());
  avg.forward(tape.constant(Array<double>{{{1, 3}, {0, 0}}, {{1, 3}, {4, 4}}}));  // means 2, 2
  avg.forward(tape.constant(Array<double>{{{5, 7}, {0, 0}}, {{5, 7}, {0, 0}}}));  // means 6, 0
  EXPECT_NEAR(avg.running_mean().value()(0), (2 + 6) / 2.0, 1e-12);
  EXPECT_NEAR(avg.running_mean().value()(1), (2 + 0) / 2.0, 1e-12);
  BatchNorm1d<double> none(BatchNormOptions(2).track_running_stats(false));
  EXPECT_TRUE(none.named_buffers().empty());
  none.eval();
  EXPECT_NEAR(none.forward(tape.constant(x)).value()(0, 0), y_train(0, 0), 1e-12);  // batch statistics
}

TEST(IdentityModule, ReturnsItsInput) {
  Identity<double> id;
  Tape<double> tape;
  auto x = tape.constant(Array<double>{1, 2});
  EXPECT_EQ(id.forward(x).index(), x.index());
  EXPECT_TRUE(id.named_parameters().empty());
}

// ---- a module with several inputs ---------------------------------------------------------------

struct Batch {
  Array<double> numeric{{0.5, -1, 2, 0.1}, {1, 0.3, -0.2, 0}, {-1, 2, 0.4, 1}};
  std::vector<Array<double>> ids{Array<double>{0, 11, 5}, Array<double>{3, 0, 2}};
};

Var<double> forward(residual_mlp::ResidualMLP<double>& m, Tape<double>& tape, const Batch& b) {
  return m.forward(tape.constant(b.numeric), {tape.constant(b.ids[0]), tape.constant(b.ids[1])});
}

TEST(MultiInputModule, ParametersBuffersTrainEvalAndCheckpoint) {
  Rng rng(3);
  residual_mlp::ResidualMLP<double> m(4, {12, 4}, 8, 2, 5, 0.5, rng);
  const auto params = names(m.named_parameters());
  EXPECT_EQ(params.front(), "input_norm.weight");
  EXPECT_NE(std::find(params.begin(), params.end(), "embeddings.1.weight"), params.end());
  EXPECT_NE(std::find(params.begin(), params.end(), "blocks.1.fc2.bias"), params.end());
  EXPECT_EQ(params.back(), "head.bias");
  EXPECT_EQ(names(m.named_buffers()),
            (std::vector<std::string>{"input_norm.running_mean", "input_norm.running_var",
                                      "input_norm.num_batches_tracked"}));
  for (auto& block : m.block_list) init::normal_(block->fc2->weight(), 0.0, 0.1, rng);  // else dropout shows no effect
  Batch b;
  Tape<double> tape;
  // Training: dropout draws differ from call to call; evaluation is deterministic.
  auto t1 = forward(m, tape, b), t2 = forward(m, tape, b);
  EXPECT_NE(t1.value(), t2.value());
  tape.backward(cross_entropy(forward(m, tape, b), {0, 4, 2}));
  for (const auto& [name, p] : m.named_parameters()) {
    EXPECT_TRUE(p.has_grad()) << name;
  }
  m.eval();
  auto e1 = forward(m, tape, b), e2 = forward(m, tape, b);
  EXPECT_EQ(e1.value(), e2.value());

  // A checkpoint holds the buffers too: a second model loaded from it computes the same.
  tg_test::TempDir dir;
  save(m, dir / "m.npz");
  const auto file = io::read_npz<double>(dir / "m.npz");
  bool has_count = false;
  for (const auto& [name, a] : file) has_count = has_count || (name == "input_norm.num_batches_tracked" && a() == 3.0);
  EXPECT_TRUE(has_count);
  Rng other_rng(4);
  residual_mlp::ResidualMLP<double> n(4, {12, 4}, 8, 2, 5, 0.5, other_rng);
  load(n, dir / "m.npz");
  n.eval();
  EXPECT_EQ(n.input_norm->running_mean().value(), m.input_norm->running_mean().value());
  EXPECT_EQ(forward(n, tape, b).value(), e1.value());
  // A checkpoint without the buffers is reported, naming them.
  StateDict<double> params_only;
  for (const auto& [name, p] : m.named_parameters()) params_only.emplace_back(name, p.value());
  try {
    load_state_dict(n, params_only);
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("missing 'input_norm.running_var' (4,)"), std::string::npos) << e.what();
  }
}

// ---- steady state: no allocation --------------------------------------------------------------

TEST(SteadyState, TrainingWithTheNewOpsAllocatesNothing) {
  Rng rng(5);
  residual_mlp::ResidualMLP<float> m(4, {12, 4}, 16, 2, 5, 0.1, rng);
  std::vector<Parameter<float>> decay, rest;
  for (const auto& [name, p] : m.named_parameters()) (name.find("fc") != std::string::npos ? decay : rest).push_back(p);
  using Group = optim::AdamW<float>::Group;
  optim::AdamW<float> opt({Group(decay), Group(rest, optim::AdamWOptions(1e-3).weight_decay(0))}, optim::AdamWOptions(1e-3));
  const std::vector<Parameter<float>> params = opt.parameters();
  Tape<float> tape;
  Array<float> numeric = rng.normal<float>({32, 4});
  Array<float> month = Array<float>::from_shape({32}), year = Array<float>::from_shape({32});
  Array<float> labels = Array<float>::from_shape({32});
  Array<float> target = rng.normal<float>({32, 5});
  for (std::size_t i = 0; i < 32; ++i) {
    month(i) = float(i % 12);
    year(i) = float(i % 4);
    labels(i) = i % 7 == 0 ? -100.f : float(i % 5);
  }
  const auto ce = CrossEntropyOptions().label_smoothing(0.1);
  std::vector<Var<float>> ids(2);  // filled each step: a vector made per step would allocate
  const auto step = [&] {
    opt.zero_grad();
    ids[0] = tape.constant(month);
    ids[1] = tape.constant(year);
    auto logits = m.forward(tape.constant(numeric), ids);
    auto loss = cross_entropy(logits, labels, ce) + 0.1f * huber_loss(logits, tape.constant(target)) +
                0.1f * nll_loss(log_softmax(logits), labels);
    tape.backward(loss);
    nn::utils::clip_grad_norm_(params, 1.0);
    opt.step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: buffers, optimizer state
  tg_test::LargestAllocation probe;
  for (int i = 0; i < 10; ++i) step();
  EXPECT_EQ(probe.count(), 0u) << "largest " << probe.bytes() << " bytes";
}

}  // namespace
}  // namespace tapegrad::nn
