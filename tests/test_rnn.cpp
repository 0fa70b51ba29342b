// The fused recurrent ops (tapegrad/rnn.hpp): forward against a plain reference written from
// PyTorch's equations, and every gradient (inputs, weights, biases, h0, c0; output, h_n, c_n)
// against central differences in float64, for sequence lengths 1 and several, stacked and
// bidirectional layers, batch_first and unbatched inputs, and the cells.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "detail/xtensor_extra.hpp"  // views
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/rnn.hpp"

namespace tg = tapegrad;
using tg::Array;
using tg::RNNMode;
using Vars = std::vector<tg::Var<double>>;

namespace {

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// One layer, one direction, from PyTorch's equations, with plain loops. x (T, B, I); returns
// the outputs (T, B, H) and sets h, c to the final states.
Array<double> reference_layer(RNNMode mode, const Array<double>& x, const Array<double>& w_ih, const Array<double>& w_hh,
                              const Array<double>* b_ih, const Array<double>* b_hh, Array<double>& h, Array<double>& c,
                              bool reverse) {
  const std::size_t T = x.shape()[0], B = x.shape()[1], I = x.shape()[2], H = w_hh.shape()[1];
  const std::size_t G = tg::gate_count(mode);
  Array<double> out = xt::zeros<double>({T, B, H});
  for (std::size_t s = 0; s < T; ++s) {
    const std::size_t t = reverse ? T - 1 - s : s;
    Array<double> hn = xt::zeros<double>({B, H}), cn = xt::zeros<double>({B, H});
    for (std::size_t b = 0; b < B; ++b) {
      std::vector<double> gx(G * H), gh(G * H);
      for (std::size_t j = 0; j < G * H; ++j) {
        double ax = b_ih ? (*b_ih)(j) : 0, ah = b_hh ? (*b_hh)(j) : 0;
        for (std::size_t i = 0; i < I; ++i) ax += w_ih(j, i) * x(t, b, i);
        for (std::size_t k = 0; k < H; ++k) ah += w_hh(j, k) * h(b, k);
        gx[j] = ax;
        gh[j] = ah;
      }
      for (std::size_t k = 0; k < H; ++k) {
        switch (mode) {
          case RNNMode::rnn_tanh: hn(b, k) = std::tanh(gx[k] + gh[k]); break;
          case RNNMode::rnn_relu: hn(b, k) = std::max(0.0, gx[k] + gh[k]); break;
          case RNNMode::lstm: {
            const double i = sigmoid(gx[k] + gh[k]), f = sigmoid(gx[H + k] + gh[H + k]);
            const double g = std::tanh(gx[2 * H + k] + gh[2 * H + k]), o = sigmoid(gx[3 * H + k] + gh[3 * H + k]);
            cn(b, k) = f * c(b, k) + i * g;
            hn(b, k) = o * std::tanh(cn(b, k));
            break;
          }
          case RNNMode::gru: {
            const double r = sigmoid(gx[k] + gh[k]), z = sigmoid(gx[H + k] + gh[H + k]);
            const double n = std::tanh(gx[2 * H + k] + r * gh[2 * H + k]);
            hn(b, k) = (1 - z) * n + z * h(b, k);
            break;
          }
        }
      }
    }
    h = hn;
    if (mode == RNNMode::lstm) c = cn;
    xt::view(out, t) = h;
  }
  return out;
}

struct Case {
  RNNMode mode;
  std::size_t T, B, I, H, L;
  bool bidirectional, bias, batch_first, with_h0;
};

// Weights in PyTorch's flat order, drawn from U(-0.6, 0.6).
std::vector<Array<double>> make_weights(const Case& c, tg::Rng& rng) {
  const std::size_t G = tg::gate_count(c.mode), D = c.bidirectional ? 2 : 1;
  std::vector<Array<double>> w;
  for (std::size_t l = 0; l < c.L; ++l) {
    for (std::size_t d = 0; d < D; ++d) {
      w.push_back(rng.uniform<double>({G * c.H, l == 0 ? c.I : D * c.H}, -0.6, 0.6));
      w.push_back(rng.uniform<double>({G * c.H, c.H}, -0.6, 0.6));
      if (c.bias) {
        w.push_back(rng.uniform<double>({G * c.H}, -0.6, 0.6));
        w.push_back(rng.uniform<double>({G * c.H}, -0.6, 0.6));
      }
    }
  }
  return w;
}

// The whole network by reference_layer, time-major: output (T, B, D·H), h_n, c_n (L·D, B, H).
void reference(const Case& c, const Array<double>& x_tm, const std::vector<Array<double>>& w, const Array<double>* h0,
               const Array<double>* c0, Array<double>& out, Array<double>& hn, Array<double>& cn) {
  const std::size_t D = c.bidirectional ? 2 : 1, per = c.bias ? 4 : 2;
  hn = xt::zeros<double>({c.L * D, c.B, c.H});
  cn = xt::zeros<double>({c.L * D, c.B, c.H});
  Array<double> in = x_tm;
  for (std::size_t l = 0; l < c.L; ++l) {
    Array<double> layer_out = xt::zeros<double>({c.T, c.B, D * c.H});
    for (std::size_t d = 0; d < D; ++d) {
      const std::size_t k = (l * D + d) * per, s = l * D + d;
      Array<double> h = h0 ? Array<double>(xt::view(*h0, s)) : Array<double>(xt::zeros<double>({c.B, c.H}));
      Array<double> cc = c0 ? Array<double>(xt::view(*c0, s)) : Array<double>(xt::zeros<double>({c.B, c.H}));
      Array<double> o = reference_layer(c.mode, in, w[k], w[k + 1], c.bias ? &w[k + 2] : nullptr,
                                        c.bias ? &w[k + 3] : nullptr, h, cc, d == 1);
      xt::view(layer_out, xt::all(), xt::all(), xt::range(d * c.H, (d + 1) * c.H)) = o;
      xt::view(hn, s) = h;
      xt::view(cn, s) = cc;
    }
    in = layer_out;
  }
  out = in;
}

Array<double> time_major(const Array<double>& x, bool batch_first) {
  return batch_first ? Array<double>(xt::transpose(x, {1, 0, 2})) : x;
}

void check_forward(const Case& c) {
  tg::Rng rng(7);
  const std::size_t D = c.bidirectional ? 2 : 1;
  const auto w = make_weights(c, rng);
  const Array<double> x = c.batch_first ? rng.normal<double>({c.B, c.T, c.I}) : rng.normal<double>({c.T, c.B, c.I});
  const Array<double> h0 = rng.normal<double>({c.L * D, c.B, c.H}), c0 = rng.normal<double>({c.L * D, c.B, c.H});
  tg::Tape<double> tape;
  Vars wv;
  for (const auto& a : w) wv.push_back(tape.constant(a));
  const bool lstm = c.mode == RNNMode::lstm;
  const auto opts = tg::RNNFuncOptions().num_layers(c.L).bias(c.bias).batch_first(c.batch_first).bidirectional(c.bidirectional);
  const auto r = tg::rnn(c.mode, tape.constant(x), wv, c.with_h0 ? tape.constant(h0) : tg::Var<double>(),
                         c.with_h0 && lstm ? tape.constant(c0) : tg::Var<double>(), opts);
  Array<double> out, hn, cn;
  reference(c, time_major(x, c.batch_first), w, c.with_h0 ? &h0 : nullptr, c.with_h0 && lstm ? &c0 : nullptr, out, hn,
            cn);
  EXPECT_TRUE(xt::allclose(r.output.value(), time_major(out, c.batch_first), 1e-12, 1e-12));
  EXPECT_TRUE(xt::allclose(r.h_n.value(), hn, 1e-12, 1e-12));
  if (lstm) {
    EXPECT_TRUE(xt::allclose(r.c_n.value(), cn, 1e-12, 1e-12));
  } else {
    EXPECT_FALSE(r.c_n.defined());
  }
}

// Gradients of a weighted sum of output, h_n and c_n with respect to everything.
void check_gradients(const Case& c) {
  tg::Rng rng(11);
  const std::size_t D = c.bidirectional ? 2 : 1;
  const bool lstm = c.mode == RNNMode::lstm;
  std::vector<Array<double>> inputs = make_weights(c, rng);
  const std::size_t n_w = inputs.size();
  inputs.push_back(c.batch_first ? rng.normal<double>({c.B, c.T, c.I}) : rng.normal<double>({c.T, c.B, c.I}));
  if (c.with_h0) inputs.push_back(rng.normal<double>({c.L * D, c.B, c.H}));
  if (c.with_h0 && lstm) inputs.push_back(rng.normal<double>({c.L * D, c.B, c.H}));
  const Array<double> ro = rng.normal<double>({c.T, c.B, D * c.H}), rh = rng.normal<double>({c.L * D, c.B, c.H}),
                      rc = rng.normal<double>({c.L * D, c.B, c.H});
  const auto opts = tg::RNNFuncOptions().num_layers(c.L).bias(c.bias).batch_first(c.batch_first).bidirectional(c.bidirectional);
  auto f = [&](const Vars& v) {
    Vars w(v.begin(), v.begin() + long(n_w));
    const auto r = tg::rnn(c.mode, v[n_w], w, c.with_h0 ? v[n_w + 1] : tg::Var<double>(),
                           c.with_h0 && lstm ? v[n_w + 2] : tg::Var<double>(), opts);
    tg::Tape<double>& tape = *v[n_w].tape();
    auto out = r.output;
    const Array<double> ro_l = time_major(ro, c.batch_first);
    auto total = tg::add(tg::sum(tg::mul(out, tape.constant(ro_l))), tg::sum(tg::mul(r.h_n, tape.constant(rh))));
    if (lstm) total = tg::add(total, tg::sum(tg::mul(r.c_n, tape.constant(rc))));
    return total;
  };
  const auto result = tg::gradcheck(f, inputs, tg::GradcheckOptions().atol(1e-7).rtol(1e-5));
  EXPECT_TRUE(result.ok) << result.report();
}

std::string name(const Case& c) {
  return std::string(tg::to_string(c.mode)) + " T=" + std::to_string(c.T) + " B=" + std::to_string(c.B) +
         " L=" + std::to_string(c.L) + (c.bidirectional ? " bidirectional" : "") + (c.bias ? "" : " no-bias") +
         (c.batch_first ? " batch_first" : "") + (c.with_h0 ? " h0" : "");
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (RNNMode m : {RNNMode::lstm, RNNMode::gru, RNNMode::rnn_tanh, RNNMode::rnn_relu}) {
    out.push_back({m, 1, 2, 3, 4, 1, false, true, false, false});  // one step
    out.push_back({m, 5, 3, 2, 3, 1, false, true, false, true});   // several, initial states
    out.push_back({m, 4, 2, 3, 3, 2, false, true, true, true});    // stacked, batch_first
    out.push_back({m, 3, 2, 2, 3, 2, true, true, false, true});    // stacked and bidirectional
    out.push_back({m, 3, 2, 3, 2, 1, true, false, true, false});   // bidirectional without bias
  }
  return out;
}

}  // namespace

TEST(Rnn, ForwardMatchesThePyTorchEquations) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(name(c));
    check_forward(c);
  }
}

TEST(Rnn, GradientsMatchCentralDifferences) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(name(c));
    check_gradients(c);
  }
}

TEST(Rnn, UnbatchedInputIsABatchOfOne) {
  tg::Rng rng(3);
  const Case c{RNNMode::lstm, 4, 1, 3, 2, 2, true, true, false, true};
  const auto w = make_weights(c, rng);
  const Array<double> x = rng.normal<double>({4, 3}), h0 = rng.normal<double>({4, 2}), c0 = rng.normal<double>({4, 2});
  tg::Tape<double> tape;
  Vars wv;
  for (const auto& a : w) wv.push_back(tape.constant(a));
  const auto opts = tg::RNNFuncOptions().num_layers(2).bidirectional(true);
  const auto r = tg::lstm(tape.constant(x), wv, tape.constant(h0), tape.constant(c0), opts);
  const auto r3 = tg::lstm(tape.constant(Array<double>(xt::reshape_view(x, {4, 1, 3}))), wv,
                           tape.constant(Array<double>(xt::reshape_view(h0, {4, 1, 2}))),
                           tape.constant(Array<double>(xt::reshape_view(c0, {4, 1, 2}))), opts);
  EXPECT_EQ(r.output.shape(), (tg::Shape{4, 4}));
  EXPECT_EQ(r.h_n.shape(), (tg::Shape{4, 2}));
  EXPECT_TRUE(xt::allclose(r.output.value(), xt::reshape_view(r3.output.value(), {4, 4})));
  EXPECT_TRUE(xt::allclose(r.c_n.value(), xt::reshape_view(r3.c_n.value(), {4, 2})));
}

TEST(Rnn, CellsAreOneStepOfTheLayer) {
  tg::Rng rng(5);
  for (RNNMode m : {RNNMode::lstm, RNNMode::gru, RNNMode::rnn_tanh, RNNMode::rnn_relu}) {
    SCOPED_TRACE(tg::to_string(m));
    const Case c{m, 1, 3, 4, 5, 1, false, true, false, true};
    const auto w = make_weights(c, rng);
    const Array<double> x = rng.normal<double>({3, 4}), h = rng.normal<double>({3, 5}), cs = rng.normal<double>({3, 5});
    tg::Tape<double> tape;
    Vars wv;
    for (const auto& a : w) wv.push_back(tape.constant(a));
    const auto xv = tape.constant(x), hv = tape.constant(h), cv = tape.constant(cs);
    Array<double> h1, c1;
    switch (m) {
      case RNNMode::lstm: {
        auto [hh, cc] = tg::lstm_cell(xv, hv, cv, wv[0], wv[1], wv[2], wv[3]);
        h1 = hh.value();
        c1 = cc.value();
        break;
      }
      case RNNMode::gru: h1 = tg::gru_cell(xv, hv, wv[0], wv[1], wv[2], wv[3]).value(); break;
      case RNNMode::rnn_tanh: h1 = tg::rnn_tanh_cell(xv, hv, wv[0], wv[1], wv[2], wv[3]).value(); break;
      case RNNMode::rnn_relu: h1 = tg::rnn_relu_cell(xv, hv, wv[0], wv[1], wv[2], wv[3]).value(); break;
    }
    Array<double> hr = h, cr = cs;
    reference_layer(m, Array<double>(xt::reshape_view(x, {1, 3, 4})), w[0], w[1], &w[2], &w[3], hr, cr, false);
    EXPECT_TRUE(xt::allclose(h1, hr, 1e-12, 1e-12));
    if (m == RNNMode::lstm) EXPECT_TRUE(xt::allclose(c1, cr, 1e-12, 1e-12));
  }
}

TEST(Rnn, CellGradients) {
  tg::Rng rng(9);
  const std::vector<Array<double>> in = {rng.normal<double>({3, 4}),          rng.normal<double>({3, 2}),
                                         rng.normal<double>({3, 2}),          rng.uniform<double>({8, 4}, -.6, .6),
                                         rng.uniform<double>({8, 2}, -.6, .6), rng.uniform<double>({8}, -.6, .6),
                                         rng.uniform<double>({8}, -.6, .6)};
  const Array<double> r1 = rng.normal<double>({3, 2}), r2 = rng.normal<double>({3, 2});
  auto lstm = [&](const Vars& v) {
    auto [h, c] = tg::lstm_cell(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
    tg::Tape<double>& tape = *v[0].tape();
    return tg::add(tg::sum(tg::mul(h, tape.constant(r1))), tg::sum(tg::mul(c, tape.constant(r2))));
  };
  auto res = tg::gradcheck(lstm, in);
  EXPECT_TRUE(res.ok) << res.report();
  const std::vector<Array<double>> gin = {rng.normal<double>({3, 4}), rng.normal<double>({3, 2}),
                                          rng.uniform<double>({6, 4}, -.6, .6), rng.uniform<double>({6, 2}, -.6, .6),
                                          rng.uniform<double>({6}, -.6, .6), rng.uniform<double>({6}, -.6, .6)};
  auto gru = [&](const Vars& v) { return tg::gru_cell(v[0], v[1], v[2], v[3], v[4], v[5]); };
  res = tg::gradcheck(gru, gin);
  EXPECT_TRUE(res.ok) << res.report();
  // Without hidden state or bias, unbatched.
  const std::vector<Array<double>> rin = {rng.normal<double>({4}), rng.uniform<double>({2, 4}, -.6, .6),
                                          rng.uniform<double>({2, 2}, -.6, .6)};
  auto rnn = [&](const Vars& v) { return tg::rnn_tanh_cell(v[0], tg::Var<double>(), v[1], v[2]); };
  res = tg::gradcheck(rnn, rin);
  EXPECT_TRUE(res.ok) << res.report();
}

TEST(Rnn, FloatMatchesDouble) {
  // The float kernels use their own exp and tanh (src/detail/fastmath.hpp): within float's
  // precision of the double results.
  tg::Rng rng(2);
  for (RNNMode m : {RNNMode::lstm, RNNMode::gru, RNNMode::rnn_tanh}) {
    const Case c{m, 6, 5, 7, 33, 2, true, true, true, true};
    const auto w = make_weights(c, rng);
    const Array<double> x = rng.normal<double>({5, 6, 7});
    tg::Tape<double> td;
    tg::Tape<float> tf;
    Vars wd;
    std::vector<tg::Var<float>> wf;
    for (const auto& a : w) {
      wd.push_back(td.constant(a));
      wf.push_back(tf.constant(xt::cast<float>(a)));
    }
    const auto opts = tg::RNNFuncOptions().num_layers(2).bidirectional(true).batch_first(true);
    const auto rd = tg::rnn(m, td.constant(x), wd, {}, {}, opts);
    const auto rf = tg::rnn(m, tf.constant(xt::cast<float>(x)), wf, {}, {}, opts);
    const double err = xt::amax(xt::abs(xt::cast<double>(rf.output.value()) - rd.output.value()))();
    EXPECT_LT(err, 2e-5) << tg::to_string(m);
  }
}
