// The recurrent modules (nn/rnn.hpp): PyTorch's parameter names, order, shapes and
// initialisation; forward against the functional ops; dropout between layers; checkpoints;
// cells; training; no heap allocation per training step after warm-up.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "io_test_util.hpp"  // LargestAllocation: counts allocations, sanitizer-safe
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/io/checkpoint.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/rnn.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/parallel.hpp"
#include "tapegrad/reduction.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg::Array;

namespace {

std::vector<std::string> names(const nn::Module<float>& m) {
  std::vector<std::string> out;
  for (const auto& [n, p] : m.named_parameters()) out.push_back(n);
  return out;
}

}  // namespace

TEST(NnRnn, LstmParametersAreNamedAndShapedAsPyTorch) {
  tg::Rng rng(0);
  nn::LSTM<float> lstm(nn::LSTMOptions(10, 20).num_layers(2).bidirectional(true), rng);
  EXPECT_EQ(names(lstm), (std::vector<std::string>{
                             "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                             "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1",
                             "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse",
                             "bias_ih_l1_reverse", "bias_hh_l1_reverse"}));
  EXPECT_EQ(lstm.parameter("weight_ih_l0").shape(), (tg::Shape{80, 10}));
  EXPECT_EQ(lstm.parameter("weight_hh_l0").shape(), (tg::Shape{80, 20}));
  EXPECT_EQ(lstm.parameter("bias_ih_l0").shape(), (tg::Shape{80}));
  EXPECT_EQ(lstm.parameter("weight_ih_l1").shape(), (tg::Shape{80, 40}));  // both directions below
  EXPECT_EQ(lstm.flat_weights().size(), 16u);
  // PyTorch's initialisation: U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter.
  const float k = 1.f / std::sqrt(20.f);
  for (const auto& p : lstm.parameters()) {
    EXPECT_LE(xt::amax(xt::abs(p.value()))(), k);
    EXPECT_GT(xt::amax(xt::abs(p.value()))(), 0.8f * k);
  }
  nn::GRU<float> gru(nn::GRUOptions(3, 5).bias(false), rng);
  EXPECT_EQ(names(gru), (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"}));
  EXPECT_EQ(gru.parameter("weight_ih_l0").shape(), (tg::Shape{15, 3}));
  nn::RNN<float> rnn(nn::RNNOptions(3, 5).nonlinearity("relu"), rng);
  EXPECT_EQ(rnn.parameter("weight_hh_l0").shape(), (tg::Shape{5, 5}));
  EXPECT_EQ(rnn.mode(), tg::RNNMode::rnn_relu);
}

TEST(NnRnn, CellsAreNamedAsPyTorch) {
  tg::Rng rng(0);
  nn::LSTMCell<float> lstm(nn::LSTMCellOptions(3, 4), rng);
  EXPECT_EQ(names(lstm), (std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}));
  EXPECT_EQ(lstm.weight_ih().shape(), (tg::Shape{16, 3}));
  nn::GRUCell<float> gru(nn::GRUCellOptions(3, 4).bias(false), rng);
  EXPECT_EQ(names(gru), (std::vector<std::string>{"weight_ih", "weight_hh"}));
  EXPECT_THROW(gru.bias_ih(), tg::ValueError);
  nn::RNNCell<float> rnn(nn::RNNCellOptions(3, 4), rng);
  EXPECT_EQ(rnn.weight_hh().shape(), (tg::Shape{4, 4}));
}

TEST(NnRnn, ForwardIsTheFunctionalOp) {
  tg::Rng rng(1);
  nn::GRU<double> gru(nn::GRUOptions(3, 4).num_layers(2).batch_first(true), rng);
  tg::Tape<double> tape;
  const auto x = tape.constant(rng.normal<double>({2, 5, 3}));
  const auto h0 = tape.constant(rng.normal<double>({2, 2, 4}));
  const auto a = gru.forward(x, h0);
  const auto b = tg::gru(x, gru.flat_weights(), h0, tg::RNNFuncOptions().num_layers(2).batch_first(true));
  EXPECT_EQ(a.output.value(), b.output.value());
  EXPECT_EQ(a.h_n.value(), b.h_n.value());
  EXPECT_EQ(a.output.shape(), (tg::Shape{2, 5, 4}));
}

TEST(NnRnn, DropoutBetweenLayersOnlyInTraining) {
  tg::Rng rng(2);
  nn::LSTM<double> lstm(nn::LSTMOptions(3, 4).num_layers(3).dropout(0.5), rng);
  tg::Tape<double> tape;
  const auto x = tape.constant(rng.normal<double>({5, 2, 3}));
  const Array<double> train1 = lstm.forward(x).output.value();
  const Array<double> train2 = lstm.forward(x).output.value();
  EXPECT_NE(train1, train2);  // new masks every call
  lstm.eval();
  const Array<double> eval1 = lstm.forward(x).output.value();
  EXPECT_EQ(eval1, lstm.forward(x).output.value());
  const auto plain = tg::lstm(x, lstm.flat_weights(), {}, {}, tg::RNNFuncOptions().num_layers(3));
  EXPECT_EQ(eval1, plain.output.value());
}

TEST(NnRnn, CheckpointRoundTrip) {
  tg::Rng rng(3), rng2(4);
  nn::LSTM<float> a(nn::LSTMOptions(3, 4).num_layers(2), rng);
  nn::LSTM<float> b(nn::LSTMOptions(3, 4).num_layers(2), rng2);
  const std::string path = ::testing::TempDir() + "tapegrad_lstm_ckpt.npz";
  tg::save(a, path);
  tg::load(b, path);
  std::remove(path.c_str());
  tg::Tape<float> tape;
  const auto x = tape.constant(rng.normal<float>({6, 2, 3}));
  EXPECT_EQ(a.forward(x).output.value(), b.forward(x).output.value());
}

TEST(NnRnn, CellsMatchTheFunctionalSteps) {
  tg::Rng rng(5);
  nn::LSTMCell<double> cell(nn::LSTMCellOptions(3, 4), rng);
  tg::Tape<double> tape;
  const auto x = tape.constant(rng.normal<double>({2, 3}));
  auto [h, c] = cell.forward(x);
  auto [h2, c2] = tg::lstm_cell(x, tg::Var<double>(), tg::Var<double>(), tg::Var<double>(cell.weight_ih()),
                                tg::Var<double>(cell.weight_hh()), tg::Var<double>(cell.bias_ih()),
                                tg::Var<double>(cell.bias_hh()));
  EXPECT_EQ(h.value(), h2.value());
  EXPECT_EQ(c.value(), c2.value());
  // Unrolled over three steps, the cell gives the sequence module's result.
  nn::LSTM<double> seq(nn::LSTMOptions(3, 4), rng);
  for (const char* n : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
    seq.parameter(std::string(n) + "_l0").mutable_value() = cell.named_parameters()[0].second.value();
  }
  seq.parameter("weight_ih_l0").mutable_value() = cell.weight_ih().value();
  seq.parameter("weight_hh_l0").mutable_value() = cell.weight_hh().value();
  seq.parameter("bias_ih_l0").mutable_value() = cell.bias_ih().value();
  seq.parameter("bias_hh_l0").mutable_value() = cell.bias_hh().value();
  const Array<double> xs = rng.normal<double>({3, 2, 3});
  tg::Var<double> hh, cc;
  for (std::size_t t = 0; t < 3; ++t) {
    Array<double> xt = xt::zeros<double>({2, 3});
    std::copy(xs.data() + t * 6, xs.data() + t * 6 + 6, xt.data());
    std::tie(hh, cc) = cell.forward(tape.constant(xt), hh, cc);
  }
  const auto r = seq.forward(tape.constant(xs));
  EXPECT_TRUE(xt::allclose(r.c_n.value(), xt::reshape_view(cc.value(), {1, 2, 4}), 1e-12, 1e-12));
  EXPECT_TRUE(xt::allclose(r.h_n.value(), xt::reshape_view(hh.value(), {1, 2, 4}), 1e-12, 1e-12));
}

TEST(NnRnn, TwoThreadsGiveTheOneThreadResult) {
  // The recurrence splits along the batch (16 rows and more per thread): the same arithmetic.
  tg::Rng rng(6);
  nn::LSTM<double> lstm(nn::LSTMOptions(5, 8).num_layers(2).bidirectional(true).batch_first(true), rng);
  const Array<double> x = rng.normal<double>({48, 7, 5});
  const int before = tg::num_threads();
  std::vector<Array<double>> results;
  for (int threads : {1, 2}) {
    tg::set_num_threads(threads);
    tg::Tape<double> tape;
    lstm.zero_grad();
    const auto r = lstm.forward(tape.constant(x));
    auto loss = tg::add(tg::sum(r.output), tg::sum(tg::mul(r.c_n, r.c_n)));
    results.push_back(r.output.value());
    tape.backward(loss);
    for (const auto& p : lstm.parameters()) results.push_back(p.grad());
  }
  tg::set_num_threads(before);
  const std::size_t half = results.size() / 2;
  for (std::size_t i = 0; i < half; ++i) EXPECT_TRUE(xt::allclose(results[i], results[half + i], 1e-12, 1e-12)) << i;
}

TEST(NnRnn, LstmLearnsToCompareTheFirstAndLastSteps) {
  // Label 1 when the first step's value exceeds the last's: it needs memory across the sequence.
  // The logit is w·h_n + c (broadcast mul, sum over the hidden axis), so the test needs no shape op.
  tg::Rng rng(7);
  nn::LSTM<float> lstm(nn::LSTMOptions(1, 16).batch_first(true), rng);
  tg::Parameter<float> w(rng.uniform<float>({1, 1, 16}, -0.25f, 0.25f)), c(xt::zeros<float>({1, 1}));
  auto params = lstm.parameters();
  params.push_back(w);
  params.push_back(c);
  tg::optim::Adam<float> opt(params, tg::optim::AdamOptions(1e-2));
  tg::Tape<float> tape;
  double correct = 0, seen = 0;
  for (int step = 0; step < 400; ++step) {
    Array<float> x = rng.uniform<float>({32, 6, 1}, -1.f, 1.f);
    Array<float> y = xt::zeros<float>({1, 32});
    for (std::size_t b = 0; b < 32; ++b) y(0, b) = x(b, 0, 0) > x(b, 5, 0) ? 1.f : 0.f;
    opt.zero_grad();
    const auto r = lstm.forward(tape.constant(x));
    auto logits = tg::add(tg::sum(tg::mul(r.h_n, w), 2), c);  // (1, 32)
    if (step >= 350) {
      for (std::size_t b = 0; b < 32; ++b) correct += (logits.value()(0, b) > 0) == (y(0, b) > 0.5f);
      seen += 32;
    }
    auto loss = tg::bce_with_logits(logits, tape.constant(y));
    tape.backward(loss);
    opt.step();
  }
  EXPECT_GT(correct / seen, 0.9);
}

TEST(NnRnn, NoHeapAllocationPerTrainingStep) {
  tg::Rng rng(8);
  nn::LSTM<float> lstm(nn::LSTMOptions(4, 16).num_layers(2).bidirectional(true).batch_first(true).dropout(0.2), rng);
  tg::optim::Adam<float> opt(lstm.parameters(), tg::optim::AdamOptions(1e-3));
  tg::Tape<float> tape;
  Array<float> x = rng.normal<float>({40, 9, 4});
  auto step = [&] {
    opt.zero_grad();
    const auto r = lstm.forward(tape.constant(x));
    auto loss = tg::add(tg::mean(r.output), tg::mean(r.c_n));
    tape.backward(loss);
    opt.step();
  };
  // Warm-up: the tape's buffers, and each thread's packing buffers on its first product (a pool
  // worker may run its first slice only after a few steps: the caller takes back a slice the
  // worker has not started).
  for (int i = 0; i < 30; ++i) step();
  tg_test::LargestAllocation probe;
  for (int i = 0; i < 20; ++i) step();
  EXPECT_EQ(probe.count(), 0u) << "largest " << probe.bytes() << " bytes";
}
