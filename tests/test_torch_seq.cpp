// The sequence modules against libtorch 1.13 (built only where Debian's libtorch-dev is found):
// tapegrad's parameters are copied into torch's modules *by name* (state_dict keys; Linear
// weights transposed, the one layout tapegrad keeps from the tutorial), and both give the same
// outputs, final states and gradients in float64. This is the check that a tapegrad checkpoint
// loads into PyTorch and computes the same thing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg::Array;

namespace {

torch::Tensor to_torch(const Array<double>& a) {
  std::vector<int64_t> sizes(a.shape().begin(), a.shape().end());
  return torch::from_blob(const_cast<double*>(a.data()), sizes, torch::kDouble).clone();
}

Array<double> from_torch(const torch::Tensor& t) {
  auto c = t.detach().contiguous().to(torch::kDouble);
  tg::Shape shape(c.sizes().begin(), c.sizes().end());
  Array<double> a = Array<double>::from_shape(shape);
  std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), a.data());
  return a;
}

bool is_linear_weight(const std::string& name) {
  for (const char* l : {"out_proj.weight", "linear1.weight", "linear2.weight"}) {
    const std::string s(l);
    if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

// tapegrad's value of parameter `name` as torch's state_dict holds it.
torch::Tensor as_torch_parameter(const std::string& name, const Array<double>& v) {
  if (is_linear_weight(name)) return to_torch(Array<double>(xt::transpose(v)));  // (in, out) -> (out, in)
  if (v.dimension() == 2 && v.shape()[0] == 1 && name.find("bias") != std::string::npos) {
    return to_torch(Array<double>(xt::reshape_view(v, {v.shape()[1]})));  // Linear bias (1, out) -> (out,)
  }
  return to_torch(v);
}

// Copies every tapegrad parameter into the torch module's parameter of the same name; every
// torch parameter must be matched (as load_state_dict with strict = true).
void load_by_name(const nn::Module<double>& from, torch::nn::Module& to) {
  auto params = to.named_parameters();
  std::size_t matched = 0;
  torch::NoGradGuard no_grad;
  for (const auto& [name, p] : from.named_parameters()) {
    ASSERT_TRUE(params.contains(name)) << "torch has no parameter " << name;
    auto dst = params[name];
    auto src = as_torch_parameter(name, p.value());
    ASSERT_EQ(dst.sizes(), src.sizes()) << name;
    dst.copy_(src);
    ++matched;
  }
  EXPECT_EQ(matched, params.size());
}

// Gradients of tapegrad's parameters against torch's, by name, in torch's layout.
void expect_same_gradients(const nn::Module<double>& ours, torch::nn::Module& theirs, double tol = 1e-10) {
  auto params = theirs.named_parameters();
  for (const auto& [name, p] : ours.named_parameters()) {
    const Array<double> g = from_torch(as_torch_parameter(name, p.grad()));
    const Array<double> tgrad = from_torch(params[name].grad());
    EXPECT_TRUE(xt::allclose(g, tgrad, tol, tol)) << name;
  }
}

void expect_close(const Array<double>& a, const torch::Tensor& b, const char* what, double tol = 1e-10) {
  EXPECT_TRUE(xt::allclose(a, from_torch(b), tol, tol)) << what;
}

}  // namespace

TEST(TorchSeq, LstmStackedBidirectional) {
  tg::Rng rng(1);
  nn::LSTM<double> ours(nn::LSTMOptions(3, 5).num_layers(2).bidirectional(true).batch_first(true), rng);
  torch::nn::LSTM theirs(torch::nn::LSTMOptions(3, 5).num_layers(2).bidirectional(true).batch_first(true));
  theirs->to(torch::kDouble);
  load_by_name(ours, *theirs);
  const Array<double> x = rng.normal<double>({4, 6, 3}), h0 = rng.normal<double>({4, 4, 5}),
                      c0 = rng.normal<double>({4, 4, 5});
  tg::Tape<double> tape;
  const auto r = ours.forward(tape.constant(x), tape.constant(h0), tape.constant(c0));
  auto xt_ = to_torch(x).requires_grad_(true);
  auto [out, state] = theirs->forward(xt_, std::make_tuple(to_torch(h0), to_torch(c0)));
  expect_close(r.output.value(), out, "output");
  expect_close(r.h_n.value(), std::get<0>(state), "h_n");
  expect_close(r.c_n.value(), std::get<1>(state), "c_n");
  // Gradients of output + h_n + c_n, weighted.
  const Array<double> w = rng.normal<double>({4, 6, 10});
  auto loss = tg::add(tg::add(tg::sum(tg::mul(r.output, tape.constant(w))), tg::sum(r.h_n)), tg::sum(r.c_n));
  tape.backward(loss);
  auto tloss = (out * to_torch(w)).sum() + std::get<0>(state).sum() + std::get<1>(state).sum();
  tloss.backward();
  expect_same_gradients(ours, *theirs);
}

TEST(TorchSeq, GruAndRnn) {
  tg::Rng rng(2);
  nn::GRU<double> gru(nn::GRUOptions(4, 3).num_layers(2), rng);
  torch::nn::GRU tgru(torch::nn::GRUOptions(4, 3).num_layers(2));
  tgru->to(torch::kDouble);
  load_by_name(gru, *tgru);
  nn::RNN<double> rnn(nn::RNNOptions(4, 3).nonlinearity("relu").bidirectional(true), rng);
  torch::nn::RNN trnn(torch::nn::RNNOptions(4, 3).nonlinearity(torch::kReLU).bidirectional(true));
  trnn->to(torch::kDouble);
  load_by_name(rnn, *trnn);
  const Array<double> x = rng.normal<double>({5, 2, 4});
  tg::Tape<double> tape;
  const auto a = gru.forward(tape.constant(x));
  const auto b = rnn.forward(tape.constant(x));
  auto [ta, tha] = tgru->forward(to_torch(x));
  auto [tb, thb] = trnn->forward(to_torch(x));
  expect_close(a.output.value(), ta, "gru output");
  expect_close(a.h_n.value(), tha, "gru h_n");
  expect_close(b.output.value(), tb, "rnn output");
  expect_close(b.h_n.value(), thb, "rnn h_n");
  tape.backward(tg::add(tg::sum(tg::mul(a.output, a.output)), tg::sum(tg::mul(b.output, b.output))));
  ((ta * ta).sum() + (tb * tb).sum()).backward();
  expect_same_gradients(gru, *tgru);
  expect_same_gradients(rnn, *trnn);
}

TEST(TorchSeq, Cells) {
  tg::Rng rng(3);
  nn::LSTMCell<double> lstm(nn::LSTMCellOptions(3, 4), rng);
  torch::nn::LSTMCell tlstm(torch::nn::LSTMCellOptions(3, 4));
  tlstm->to(torch::kDouble);
  load_by_name(lstm, *tlstm);
  nn::GRUCell<double> gru(nn::GRUCellOptions(3, 4), rng);
  torch::nn::GRUCell tgru(torch::nn::GRUCellOptions(3, 4));
  tgru->to(torch::kDouble);
  load_by_name(gru, *tgru);
  const Array<double> x = rng.normal<double>({2, 3}), h = rng.normal<double>({2, 4}), c = rng.normal<double>({2, 4});
  tg::Tape<double> tape;
  auto [h1, c1] = lstm.forward(tape.constant(x), tape.constant(h), tape.constant(c));
  auto [th1, tc1] = tlstm->forward(to_torch(x), std::make_tuple(to_torch(h), to_torch(c)));
  expect_close(h1.value(), th1, "lstm h");
  expect_close(c1.value(), tc1, "lstm c");
  auto g1 = gru.forward(tape.constant(x), tape.constant(h));
  auto tg1 = tgru->forward(to_torch(x), to_torch(h));
  expect_close(g1.value(), tg1, "gru h");
}

TEST(TorchSeq, MultiheadAttentionWithMasks) {
  tg::Rng rng(4);
  nn::MultiheadAttention<double> ours(nn::MultiheadAttentionOptions(8, 2), rng);
  ours.in_proj_bias().mutable_value() = rng.normal<double>({24});
  torch::nn::MultiheadAttention theirs(torch::nn::MultiheadAttentionOptions(8, 2));
  theirs->to(torch::kDouble);
  load_by_name(ours, *theirs);
  const Array<double> q = rng.normal<double>({5, 3, 8}), kv = rng.normal<double>({6, 3, 8});
  tg::BoolArray kpm = xt::zeros<bool>({3, 6});
  kpm(0, 5) = kpm(2, 1) = true;
  const Array<double> am = rng.normal<double>({5, 6});
  tg::Tape<double> tape;
  const auto r = ours.forward(tape.constant(q), tape.constant(kv), tape.constant(kv), kpm, true, am);
  auto tkpm = torch::zeros({3, 6}, torch::kBool);
  tkpm[0][5] = true;
  tkpm[2][1] = true;
  auto [out, weights] = theirs->forward(to_torch(q), to_torch(kv), to_torch(kv), tkpm, true, to_torch(am));
  expect_close(r.output.value(), out, "output");
  expect_close(r.weights.value(), weights, "averaged weights");
  tape.backward(tg::sum(tg::mul(r.output, r.output)));
  (out * out).sum().backward();
  expect_same_gradients(ours, *theirs);
}

TEST(TorchSeq, TransformerEncoderLayer) {
  // libtorch 1.13's C++ layer is sequence-first and post-norm, relu or gelu.
  for (const char* act : {"relu", "gelu"}) {
    SCOPED_TRACE(act);
    tg::Rng rng(5);
    nn::TransformerEncoderLayer<double> ours(
        nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0).activation(act), rng);
    auto opts = torch::nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0);
    if (std::string(act) == "gelu") opts.activation(torch::kGELU);
    torch::nn::TransformerEncoderLayer theirs(opts);
    theirs->to(torch::kDouble);
    load_by_name(ours, *theirs);
    const Array<double> x = rng.normal<double>({5, 3, 8});
    tg::BoolArray kpm = xt::zeros<bool>({3, 5});
    kpm(1, 4) = true;
    tg::Tape<double> tape;
    auto y = ours.forward(tape.constant(x), {}, kpm);
    auto tkpm = torch::zeros({3, 5}, torch::kBool);
    tkpm[1][4] = true;
    auto ty = theirs->forward(to_torch(x), {}, tkpm);
    expect_close(y.value(), ty, "output");
    tape.backward(tg::sum(tg::mul(y, y)));
    (ty * ty).sum().backward();
    expect_same_gradients(ours, *theirs, 1e-9);
  }
}
