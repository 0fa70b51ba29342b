// scaled_dot_product_attention (tapegrad/attention.hpp): forward against a plain reference of
// PyTorch's definition, gradients against central differences in float64, with boolean and
// additive masks (broadcast), causal masking, dropout, one query, and q = k = v.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "detail/xtensor_extra.hpp"
#include "tapegrad/attention.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/parallel.hpp"
#include "tapegrad/reduction.hpp"

namespace tg = tapegrad;
using tg::Array;
using Vars = std::vector<tg::Var<double>>;

namespace {

// softmax(q kᵀ scale + mask) v over the last two dims, leading dims (N) flattened; `mask` is
// already broadcast to (N, L, S) as an additive array.
Array<double> reference(const Array<double>& q, const Array<double>& k, const Array<double>& v,
                        const Array<double>* mask, bool causal, double scale) {
  const std::size_t r = q.dimension(), L = q.shape()[r - 2], E = q.shape()[r - 1], S = k.shape()[r - 2],
                    Ev = v.shape()[r - 1];
  const std::size_t N = q.size() / (L * E);
  tg::Shape os = q.shape();
  os[r - 1] = Ev;
  Array<double> out = xt::zeros<double>(os);
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t i = 0; i < L; ++i) {
      std::vector<double> s(S);
      double mx = -std::numeric_limits<double>::infinity();
      for (std::size_t j = 0; j < S; ++j) {
        double a = 0;
        for (std::size_t e = 0; e < E; ++e) a += q.data()[(n * L + i) * E + e] * k.data()[(n * S + j) * E + e];
        a *= scale;
        if (mask) a += mask->data()[(n * L + i) * S + j];
        if (causal && j > i) a = -std::numeric_limits<double>::infinity();
        s[j] = a;
        mx = std::max(mx, a);
      }
      double sum = 0;
      for (auto& x : s) sum += (x = std::exp(x - mx));
      for (std::size_t c = 0; c < Ev; ++c) {
        double o = 0;
        for (std::size_t j = 0; j < S; ++j) o += s[j] / sum * v.data()[(n * S + j) * Ev + c];
        out.data()[(n * L + i) * Ev + c] = o;
      }
    }
  }
  return out;
}

void expect_gradcheck(const tg::GradcheckFn& f, const std::vector<Array<double>>& inputs) {
  const auto r = tg::gradcheck(f, inputs, tg::GradcheckOptions().atol(1e-7).rtol(1e-5));
  EXPECT_TRUE(r.ok) << r.report();
}

}  // namespace

TEST(Attention, ForwardMatchesTheDefinition) {
  tg::Rng rng(1);
  const Array<double> q = rng.normal<double>({2, 3, 4, 5}), k = rng.normal<double>({2, 3, 6, 5}),
                      v = rng.normal<double>({2, 3, 6, 7});
  tg::Tape<double> tape;
  const auto o = tg::scaled_dot_product_attention(tape.constant(q), tape.constant(k), tape.constant(v));
  EXPECT_EQ(o.shape(), (tg::Shape{2, 3, 4, 7}));
  EXPECT_TRUE(xt::allclose(o.value(), reference(q, k, v, nullptr, false, 1 / std::sqrt(5.0)), 1e-12, 1e-12));
  // An additive mask (L, S) broadcast over batch and heads, and a scale.
  const Array<double> m = rng.normal<double>({4, 6});
  const Array<double> mb = xt::broadcast(m, {2, 3, 4, 6});
  const auto om = tg::scaled_dot_product_attention(tape.constant(q), tape.constant(k), tape.constant(v),
                                                   tg::AttentionMask<double>(m), 0.0, false, 0.3);
  EXPECT_TRUE(xt::allclose(om.value(), reference(q, k, v, &mb, false, 0.3), 1e-12, 1e-12));
  // A boolean mask (B, 1, L, S): false blocks.
  tg::BoolArray keep = xt::ones<bool>({2, 1, 4, 6});
  keep(0, 0, 1, 2) = false;
  keep(1, 0, 3, 5) = false;
  keep(1, 0, 0, 0) = false;
  Array<double> additive = xt::zeros<double>({2, 3, 4, 6});
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t h = 0; h < 3; ++h)
      for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 6; ++j)
          if (!keep(b, 0, i, j)) additive(b, h, i, j) = -std::numeric_limits<double>::infinity();
  const auto ob = tg::scaled_dot_product_attention(tape.constant(q), tape.constant(k), tape.constant(v), keep);
  EXPECT_TRUE(xt::allclose(ob.value(), reference(q, k, v, &additive, false, 1 / std::sqrt(5.0)), 1e-12, 1e-12));
  // Causal, square.
  const Array<double> ks = rng.normal<double>({2, 3, 4, 5}), vs = rng.normal<double>({2, 3, 4, 7});
  const auto oc = tg::scaled_dot_product_attention(tape.constant(q), tape.constant(ks), tape.constant(vs), {}, 0.0, true);
  EXPECT_TRUE(xt::allclose(oc.value(), reference(q, ks, vs, nullptr, true, 1 / std::sqrt(5.0)), 1e-12, 1e-12));
}

TEST(Attention, FullyMaskedRowGivesZeros) {
  tg::Rng rng(2);
  tg::Tape<double> tape;
  tg::BoolArray keep = xt::ones<bool>({3, 4});
  for (std::size_t j = 0; j < 4; ++j) keep(1, j) = false;
  const auto o = tg::scaled_dot_product_attention(tape.constant(rng.normal<double>({3, 2})),
                                                  tape.constant(rng.normal<double>({4, 2})),
                                                  tape.constant(rng.normal<double>({4, 3})), keep);
  EXPECT_EQ(xt::view(o.value(), 1), (xt::zeros<double>({3})));
  EXPECT_TRUE(xt::all(xt::isfinite(o.value())));
}

TEST(Attention, Gradients) {
  tg::Rng rng(3);
  const std::vector<Array<double>> in = {rng.normal<double>({2, 2, 3, 4}), rng.normal<double>({2, 2, 5, 4}),
                                         rng.normal<double>({2, 2, 5, 3})};
  expect_gradcheck([](const Vars& v) { return tg::scaled_dot_product_attention(v[0], v[1], v[2]); }, in);
  const Array<double> m = rng.normal<double>({2, 1, 3, 5});
  expect_gradcheck(
      [&](const Vars& v) { return tg::scaled_dot_product_attention(v[0], v[1], v[2], tg::AttentionMask<double>(m)); },
      in);
  tg::BoolArray keep = xt::ones<bool>({3, 5});
  keep(0, 1) = keep(2, 4) = keep(1, 0) = false;
  expect_gradcheck([&](const Vars& v) { return tg::scaled_dot_product_attention(v[0], v[1], v[2], keep); }, in);
  // Dropout: the same seed in every evaluation, so the same mask.
  expect_gradcheck(
      [](const Vars& v) {
        tg::Rng r(5);
        return tg::scaled_dot_product_attention(v[0], v[1], v[2], {}, 0.3, false, std::nullopt, &r);
      },
      in);
  // Causal, one query, and one key.
  const std::vector<Array<double>> sq = {rng.normal<double>({3, 4, 2}), rng.normal<double>({3, 4, 2}),
                                         rng.normal<double>({3, 4, 2})};
  expect_gradcheck([](const Vars& v) { return tg::scaled_dot_product_attention(v[0], v[1], v[2], {}, 0.0, true); },
                   sq);
  const std::vector<Array<double>> one = {rng.normal<double>({1, 3}), rng.normal<double>({1, 3}),
                                          rng.normal<double>({1, 2})};
  expect_gradcheck([](const Vars& v) { return tg::scaled_dot_product_attention(v[0], v[1], v[2]); }, one);
  // q = k = v: the three gradients add up in one input.
  expect_gradcheck([](const Vars& v) { return tg::scaled_dot_product_attention(v[0], v[0], v[0]); },
                   {rng.normal<double>({2, 4, 3})});
}

TEST(Attention, LargeHeadsUseTheGemmPathAndThreads) {
  // Above 2^16 multiply-adds per head the products go through kernels::gemm; over many heads
  // the work is cut over threads. Both give the small path's numbers.
  tg::Rng rng(4);
  const Array<double> q = rng.normal<double>({3, 48, 40}), k = rng.normal<double>({3, 48, 40}),
                      v = rng.normal<double>({3, 48, 40});
  const int before = tg::num_threads();
  for (int threads : {1, 2}) {
    tg::set_num_threads(threads);
    tg::Tape<double> tape;
    const auto o = tg::scaled_dot_product_attention(tape.constant(q), tape.constant(k), tape.constant(v));
    EXPECT_TRUE(xt::allclose(o.value(), reference(q, k, v, nullptr, false, 1 / std::sqrt(40.0)), 1e-11, 1e-12));
  }
  tg::set_num_threads(before);
  expect_gradcheck([](const Vars& v) { return tg::scaled_dot_product_attention(v[0], v[1], v[2]); },
                   {rng.normal<double>({1, 48, 40}), rng.normal<double>({1, 40, 40}), rng.normal<double>({1, 40, 41})});
}

TEST(Attention, FloatMatchesDouble) {
  tg::Rng rng(6);
  const Array<double> q = rng.normal<double>({4, 16, 16}), k = rng.normal<double>({4, 16, 16}),
                      v = rng.normal<double>({4, 16, 16});
  tg::Tape<float> tf;
  const auto o = tg::scaled_dot_product_attention(tf.constant(xt::cast<float>(q)), tf.constant(xt::cast<float>(k)),
                                                  tf.constant(xt::cast<float>(v)), {}, 0.0, true);
  const Array<double> ref = reference(q, k, v, nullptr, true, 0.25);
  EXPECT_LT(xt::amax(xt::abs(xt::cast<double>(o.value()) - ref))(), 1e-5);
}
