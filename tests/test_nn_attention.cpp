// nn::MultiheadAttention (nn/attention.hpp): PyTorch's parameters and initialisation, forward
// against a plain reference (projections, heads, masks, averaged weights), gradients of inputs
// and parameters against central differences, batch_first and not, no allocation per step.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "io_test_util.hpp"  // LargestAllocation: counts allocations, sanitizer-safe
#include "detail/xtensor_extra.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/nn/attention.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/reduction.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using tg::Array;
using Vars = std::vector<tg::Var<double>>;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// PyTorch's multi_head_attention_forward with plain loops, batch-first inputs (B, L, E).
// kpm: (B, S), true = ignore. Returns the output and the weights (B, H, L, S).
void reference(nn::MultiheadAttention<double>& m, const Array<double>& xq, const Array<double>& xk,
               const Array<double>& xv, const tg::BoolArray* kpm, const Array<double>* attn_mask, bool causal,
               Array<double>& out, Array<double>& weights) {
  const std::size_t B = xq.shape()[0], L = xq.shape()[1], S = xk.shape()[1], E = xq.shape()[2];
  const std::size_t H = m.options().num_heads(), dh = E / H;
  const Array<double>& W = m.in_proj_weight().value();
  const Array<double>& bi = m.in_proj_bias().value();
  auto proj = [&](const Array<double>& x, std::size_t r0, std::size_t len) {
    Array<double> y = xt::zeros<double>({B, len, E});
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t t = 0; t < len; ++t)
        for (std::size_t o = 0; o < E; ++o) {
          double a = bi(r0 + o);
          for (std::size_t i = 0; i < E; ++i) a += x(b, t, i) * W(r0 + o, i);
          y(b, t, o) = a;
        }
    return y;
  };
  const Array<double> q = proj(xq, 0, L), k = proj(xk, E, S), v = proj(xv, 2 * E, S);
  Array<double> o = xt::zeros<double>({B, L, E});
  weights = xt::zeros<double>({B, H, L, S});
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t i = 0; i < L; ++i) {
        std::vector<double> s(S);
        double mx = -kInf;
        for (std::size_t j = 0; j < S; ++j) {
          double a = 0;
          for (std::size_t e = 0; e < dh; ++e) a += q(b, i, h * dh + e) * k(b, j, h * dh + e);
          a /= std::sqrt(double(dh));
          if (kpm && (*kpm)(b, j)) a = -kInf;
          if (attn_mask) a += (*attn_mask)(i, j);
          if (causal && j > i) a = -kInf;
          s[j] = a;
          mx = std::max(mx, a);
        }
        double sum = 0;
        for (auto& x : s) sum += (x = std::exp(x - mx));
        for (std::size_t j = 0; j < S; ++j) weights(b, h, i, j) = s[j] / sum;
        for (std::size_t e = 0; e < dh; ++e) {
          double a = 0;
          for (std::size_t j = 0; j < S; ++j) a += weights(b, h, i, j) * v(b, j, h * dh + e);
          o(b, i, h * dh + e) = a;
        }
      }
  const Array<double>& Wo = m.out_proj().weight().value();  // (in, out)
  const Array<double>& bo = m.out_proj().bias().value();
  out = xt::zeros<double>({B, L, E});
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t t = 0; t < L; ++t)
      for (std::size_t c = 0; c < E; ++c) {
        double a = bo(0, c);
        for (std::size_t i = 0; i < E; ++i) a += o(b, t, i) * Wo(i, c);
        out(b, t, c) = a;
      }
}

// Central differences of a scalar function of the module's parameters against their gradients.
void check_parameter_gradients(nn::Module<double>& m, const std::function<tg::Var<double>(tg::Tape<double>&)>& loss) {
  tg::Tape<double> tape;
  m.zero_grad();
  tape.backward(loss(tape));
  for (auto& [name, p] : m.named_parameters()) {
    const Array<double> g = p.grad();
    for (std::size_t i = 0; i < p.value().size(); i += 3) {  // every third element
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

TEST(NnAttention, ParametersAsPyTorch) {
  tg::Rng rng(0);
  nn::MultiheadAttention<float> m(nn::MultiheadAttentionOptions(8, 2), rng);
  std::vector<std::string> names;
  for (const auto& [n, p] : m.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(m.in_proj_weight().shape(), (tg::Shape{24, 8}));
  EXPECT_EQ(m.in_proj_bias().shape(), (tg::Shape{24}));
  EXPECT_LE(xt::amax(xt::abs(m.in_proj_weight().value()))(), std::sqrt(6.f / 32.f));
  EXPECT_LE(xt::amax(xt::abs(m.out_proj().weight().value()))(), 1 / std::sqrt(8.f));
  EXPECT_EQ(xt::amax(xt::abs(m.in_proj_bias().value()))(), 0.f);
  EXPECT_THROW(nn::MultiheadAttention<float>(nn::MultiheadAttentionOptions(10, 3), rng), tg::ValueError);
}

TEST(NnAttention, ForwardMatchesTheReference) {
  tg::Rng rng(1);
  nn::MultiheadAttention<double> m(nn::MultiheadAttentionOptions(6, 3).batch_first(true), rng);
  m.in_proj_bias().mutable_value() = rng.normal<double>({18});
  m.out_proj().bias().mutable_value() = rng.normal<double>({1, 6});
  const Array<double> x = rng.normal<double>({2, 4, 6}), y = rng.normal<double>({2, 5, 6}), z = rng.normal<double>({2, 5, 6});
  tg::BoolArray kpm = xt::zeros<bool>({2, 5});
  kpm(0, 4) = kpm(1, 0) = kpm(1, 2) = true;
  const Array<double> am = rng.normal<double>({4, 5});
  tg::Tape<double> tape;
  Array<double> out, w;
  // Self-attention (one projection), causal.
  auto xs = tape.constant(x);
  auto r = m.forward(xs, xs, xs, {}, true, {}, false, true);
  reference(m, x, x, x, nullptr, nullptr, true, out, w);
  EXPECT_TRUE(xt::allclose(r.output.value(), out, 1e-12, 1e-12));
  EXPECT_TRUE(xt::allclose(r.weights.value(), w, 1e-12, 1e-12));
  // Key = value, with both masks; weights averaged over heads.
  auto ys = tape.constant(y);
  r = m.forward(xs, ys, ys, kpm, true, am);
  reference(m, x, y, y, &kpm, &am, false, out, w);
  EXPECT_TRUE(xt::allclose(r.output.value(), out, 1e-12, 1e-12));
  EXPECT_TRUE(xt::allclose(r.weights.value(), xt::mean(w, {1}), 1e-12, 1e-12));
  // All three different, no weights.
  r = m.forward(xs, ys, tape.constant(z), kpm, false);
  reference(m, x, y, z, &kpm, nullptr, false, out, w);
  EXPECT_TRUE(xt::allclose(r.output.value(), out, 1e-12, 1e-12));
  EXPECT_FALSE(r.weights.defined());
}

TEST(NnAttention, SequenceFirstAndUnbatchedAgreeWithBatchFirst) {
  tg::Rng rng(2), rng2(2);
  nn::MultiheadAttention<double> bf(nn::MultiheadAttentionOptions(4, 2).batch_first(true), rng);
  nn::MultiheadAttention<double> sf(nn::MultiheadAttentionOptions(4, 2), rng2);
  const Array<double> x = rng.normal<double>({3, 5, 4});
  const Array<double> xt_ = xt::transpose(x, {1, 0, 2});
  tg::Tape<double> tape;
  auto a = tape.constant(x), b = tape.constant(xt_);
  const auto ra = bf.forward(a, a, a);
  const auto rb = sf.forward(b, b, b);
  EXPECT_TRUE(xt::allclose(Array<double>(xt::transpose(rb.output.value(), {1, 0, 2})), ra.output.value(), 1e-12, 1e-12));
  EXPECT_TRUE(xt::allclose(rb.weights.value(), ra.weights.value(), 1e-12, 1e-12));
  const Array<double> x0 = xt::view(x, 1);
  auto u = tape.constant(x0);
  const auto ru = bf.forward(u, u, u);
  EXPECT_TRUE(xt::allclose(ru.output.value(), xt::view(ra.output.value(), 1), 1e-12, 1e-12));
  EXPECT_EQ(ru.weights.shape(), (tg::Shape{5, 5}));
}

TEST(NnAttention, InputGradients) {
  tg::Rng rng(3);
  nn::MultiheadAttention<double> m(nn::MultiheadAttentionOptions(6, 2), rng);
  const Array<double> rw = rng.normal<double>({2, 3, 4});
  tg::BoolArray kpm = xt::zeros<bool>({2, 4});
  kpm(1, 1) = true;
  // Self-attention with the weights in the loss too, and cross-attention with masks.
  auto self = [&](const Vars& v) {
    const auto r = m.forward(v[0], v[0], v[0], {}, true, {}, false, true);
    return tg::add(tg::sum(tg::mul(r.output, r.output)), tg::sum(r.weights));
  };
  auto res = tg::gradcheck(self, {rng.normal<double>({3, 2, 6})});
  EXPECT_TRUE(res.ok) << res.report();
  auto cross = [&](const Vars& v) {
    const auto r = m.forward(v[0], v[1], v[2], kpm, true, {}, true);
    tg::Tape<double>& tape = *v[0].tape();
    return tg::add(tg::sum(tg::mul(r.output, r.output)), tg::sum(tg::mul(r.weights, tape.constant(rw))));
  };
  res = tg::gradcheck(cross, {rng.normal<double>({3, 2, 6}), rng.normal<double>({4, 2, 6}), rng.normal<double>({4, 2, 6})});
  EXPECT_TRUE(res.ok) << res.report();
}

TEST(NnAttention, ParameterGradients) {
  tg::Rng rng(4);
  nn::MultiheadAttention<double> m(nn::MultiheadAttentionOptions(4, 2).batch_first(true), rng);
  const Array<double> x = rng.normal<double>({2, 3, 4}), y = rng.normal<double>({2, 5, 4});
  Array<double> am = rng.normal<double>({3, 5});
  check_parameter_gradients(m, [&](tg::Tape<double>& tape) {
    auto xs = tape.constant(x), ys = tape.constant(y);
    const auto self = m.forward(xs, xs, xs);
    const auto cross = m.forward(xs, ys, ys, {}, false, am);
    return tg::add(tg::sum(tg::mul(self.output, self.output)), tg::sum(tg::mul(cross.output, cross.output)));
  });
}

TEST(NnAttention, DropoutOnlyInTraining) {
  tg::Rng rng(5);
  nn::MultiheadAttention<double> m(nn::MultiheadAttentionOptions(4, 2).dropout(0.5), rng);
  tg::Tape<double> tape;
  auto x = tape.constant(rng.normal<double>({5, 2, 4}));
  const Array<double> a = m.forward(x, x, x).output.value(), b = m.forward(x, x, x).output.value();
  EXPECT_NE(a, b);
  m.eval();
  EXPECT_EQ(m.forward(x, x, x).output.value(), m.forward(x, x, x).output.value());
}

TEST(NnAttention, NoHeapAllocationPerTrainingStep) {
  tg::Rng rng(6);
  nn::MultiheadAttention<float> m(nn::MultiheadAttentionOptions(32, 4).batch_first(true).dropout(0.1), rng);
  tg::optim::Adam<float> opt(m.parameters(), tg::optim::AdamOptions(1e-3));
  tg::Tape<float> tape;
  const Array<float> x = rng.normal<float>({64, 16, 32});
  tg::BoolArray kpm = xt::zeros<bool>({64, 16});
  kpm(3, 15) = true;
  auto step = [&] {
    opt.zero_grad();
    auto xs = tape.constant(x);
    const auto r = m.forward(xs, xs, xs, kpm, true);
    tape.backward(tg::add(tg::mean(r.output), tg::mean(r.weights)));
    opt.step();
  };
  for (int i = 0; i < 30; ++i) step();
  tg_test::LargestAllocation probe;
  for (int i = 0; i < 10; ++i) step();
  EXPECT_EQ(probe.count(), 0u) << "largest " << probe.bytes() << " bytes";
}
