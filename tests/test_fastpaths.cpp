// Pins every fast path of the core to a simple reference computed another way: the small-GEMM
// loops and the BLAS path against a naive product, the one-pass reductions against xtensor's,
// fused ops against their composition, buffer reuse across steps against a fresh tape, and a
// whole library training step against the backprop written out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tapegrad/kernels.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/optim/sgd.hpp"
#include "tapegrad/random.hpp"
#include "detail/xtensor_extra.hpp"  // xt::view

namespace tg = tapegrad;
using tg::Array;

namespace {

// Naive C = alpha op(A) op(B) + beta C, accumulated in double.
Array<double> naive_gemm(bool ta, bool tb, double alpha, const Array<double>& a, const Array<double>& b, double beta,
                         const Array<double>& c) {
  const std::size_t m = c.shape()[0], n = c.shape()[1], k = ta ? a.shape()[0] : a.shape()[1];
  Array<double> out = c;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::size_t p = 0; p < k; ++p) acc += (ta ? a(p, i) : a(i, p)) * (tb ? b(j, p) : b(p, j));
      out(i, j) = alpha * acc + beta * c(i, j);
    }
  }
  return out;
}

// A (rows, cols) array from row-major values.
template <class T>
Array<T> mat(std::size_t rows, std::size_t cols, std::vector<T> values) {
  Array<T> a = xt::zeros<T>({rows, cols});
  std::copy(values.begin(), values.end(), a.data());
  return a;
}

template <class T>
void expect_near(const Array<T>& got, const Array<T>& want, double tol, const char* what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(double(got.data()[i]), double(want.data()[i]), tol * (1 + std::abs(double(want.data()[i]))))
        << what << " at flat index " << i;
  }
}

}  // namespace

// Sizes on both sides of the small-product threshold, every transpose combination, and the
// three kinds of beta (overwrite, accumulate, scale).
TEST(FastPaths, GemmSmallLoopsAndBlasMatchNaiveProduct) {
  tg::Rng rng(7);
  const std::size_t dims[][3] = {{1, 1, 1}, {4, 4, 2}, {4, 1, 4}, {3, 5, 7}, {16, 16, 16}, {17, 16, 16}, {64, 33, 20}};
  for (const auto& d : dims) {
    const std::size_t m = d[0], n = d[1], k = d[2];
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        for (double beta : {0.0, 1.0, 0.5}) {
          Array<double> a = rng.normal<double>(ta ? tg::Shape{k, m} : tg::Shape{m, k});
          Array<double> b = rng.normal<double>(tb ? tg::Shape{n, k} : tg::Shape{k, n});
          Array<double> c = rng.normal<double>({m, n});
          const Array<double> want = naive_gemm(ta, tb, 1.5, a, b, beta, c);
          tg::kernels::gemm<double>(ta, tb, 1.5, a, b, beta, c);
          expect_near(c, want, 1e-12, "gemm");
        }
      }
    }
  }
}

TEST(FastPaths, GemmWithBetaZeroIgnoresNanInOutput) {
  const Array<float> a = mat<float>(1, 2, {1.f, 2.f}), b = mat<float>(2, 1, {3.f, 4.f});
  Array<float> c = mat<float>(1, 1, {std::nanf("")});
  tg::kernels::gemm<float>(false, false, 1.f, a, b, 0.f, c);
  EXPECT_FLOAT_EQ(c(0, 0), 11.f);
}

TEST(FastPaths, ColumnSumsMatchXtensorSum) {
  tg::Rng rng(3);
  Array<double> g = rng.normal<double>({37, 19});
  Array<double> out = xt::zeros<double>({19});
  tg::kernels::column_sums(g.data(), 37, 19, out.data(), false);
  expect_near<double>(out, xt::eval(xt::sum(g, {0})), 1e-12, "column_sums");
  tg::kernels::column_sums(g.data(), 37, 19, out.data(), true);
  expect_near<double>(out, xt::eval(2.0 * xt::sum(g, {0})), 1e-12, "column_sums add");
}

TEST(FastPaths, SumToMatchesXtensorSumOverBroadcastAxes) {
  tg::Rng rng(5);
  Array<double> g = rng.normal<double>({3, 4, 5});
  struct Case {
    tg::Shape shape;
    std::vector<std::size_t> axes;
  };
  const std::vector<Case> cases = {{{3, 4, 5}, {}}, {{5}, {0, 1}}, {{1, 5}, {0, 1}}, {{4, 1}, {0, 2}},
                                   {{3, 1, 1}, {1, 2}}, {{1}, {0, 1, 2}}, {{}, {0, 1, 2}}};
  for (const auto& c : cases) {
    Array<double> out(c.shape);
    tg::kernels::sum_to(g, out, false);
    Array<double> want = c.axes.empty() ? g : Array<double>(xt::sum(g, c.axes));
    want.reshape(c.shape);
    expect_near(out, want, 1e-12, "sum_to");
  }
}

// linear is one fused op; it must agree with matmul + broadcasting add, values and gradients.
TEST(FastPaths, LinearMatchesMatmulPlusAdd) {
  tg::Rng rng(11);
  tg::Parameter<double> w(rng.normal<double>({6, 3})), b(rng.normal<double>({1, 3}));
  const Array<double> x = rng.normal<double>({5, 6});
  tg::Tape<double> tape;

  auto fused = tg::linear(tape.constant(x), w, b);
  const Array<double> fused_value = fused.value();
  tape.backward(tg::sum(tg::mul(fused, fused)));
  const Array<double> gw = w.grad(), gb = b.grad();

  w.zero_grad();
  b.zero_grad();
  auto composed = tg::add(tg::matmul(tape.constant(x), w), b);
  expect_near(composed.value(), fused_value, 1e-12, "linear value");
  tape.backward(tg::sum(tg::mul(composed, composed)));
  expect_near(w.grad(), gw, 1e-12, "linear dW");
  expect_near(b.grad(), gb, 1e-12, "linear db");
}

TEST(FastPaths, BceWithLogitsMatchesSigmoidThenBce) {
  tg::Rng rng(13);
  tg::Parameter<double> z(rng.normal<double>({8, 1}));
  const Array<double> y = mat<double>(8, 1, {0, 1, 1, 0, 1, 0, 0, 1});
  tg::Tape<double> tape;
  auto fused = tg::bce_with_logits(z, tape.constant(y));
  const double fused_loss = fused.item();
  tape.backward(fused);
  const Array<double> g = z.grad();
  z.zero_grad();
  auto composed = tg::bce(tg::sigmoid(tg::Var<double>(tape.bind(z))), tape.constant(y));
  EXPECT_NEAR(composed.item(), fused_loss, 1e-12);
  tape.backward(composed);
  expect_near(z.grad(), g, 1e-10, "bce_with_logits gradient");
}

TEST(FastPaths, ReluBackwardMatchesMask) {
  tg::Rng rng(17);
  tg::Parameter<float> x(rng.normal<float>({7, 9}));
  const Array<float> seed = rng.normal<float>({7, 9});
  tg::Tape<float> tape;
  auto y = tg::relu(tg::Var<float>(tape.bind(x)));
  tape.backward(y, seed);
  const Array<float> want = xt::where(x.value() > 0.f, seed, 0.f);
  expect_near(x.grad(), want, 0, "relu gradient");
}

// Entries keep their buffers across clear() and reuse them when the same op comes back; a tape
// reused over steps of changing shapes must compute exactly what a fresh tape computes.
TEST(FastPaths, ReusedTapeMatchesFreshTapeAcrossChangingShapes) {
  tg::Rng rng(19);
  tg::Parameter<double> w(rng.normal<double>({4, 3})), b(rng.normal<double>({1, 3}));
  tg::Tape<double> reused;
  for (std::size_t batch : {2, 5, 2, 1, 5, 5}) {
    const Array<double> x = rng.normal<double>({batch, 4});
    auto loss_of = [&](tg::Tape<double>& tape) {
      auto h = tg::relu(tg::linear(tape.constant(x), w, b));
      return tg::mean(tg::mul(h, tg::sigmoid(h)));
    };
    w.zero_grad();
    b.zero_grad();
    tg::Tape<double> fresh;
    auto l1 = loss_of(fresh);
    const double v1 = l1.item();
    fresh.backward(l1);
    const Array<double> gw = w.grad(), gb = b.grad();
    w.zero_grad();
    b.zero_grad();
    auto l2 = loss_of(reused);
    EXPECT_EQ(l2.item(), v1);
    reused.backward(l2);
    EXPECT_EQ(w.grad(), gw);
    EXPECT_EQ(b.grad(), gb);
  }
}

TEST(FastPaths, SteadyLoopHoldsConstantMemoryAndReleaseFreesIt) {
  tg::Rng rng(23);
  tg::nn::MLP<float> model({8, 16, 1}, rng);
  tg::optim::SGD<float> opt(model.parameters(), 0.1);
  tg::Tape<float> tape;
  const Array<float> x = rng.normal<float>({4, 8});
  const Array<float> y = xt::ones<float>({4, 1});
  std::size_t after_first = 0;
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    tape.backward(tg::bce_with_logits(model.forward(tape.constant(x)), tape.constant(y)));
    opt.step();
    EXPECT_EQ(tape.bytes_in_use(), 0u);
    if (step == 0) after_first = tape.bytes_pooled();
    EXPECT_EQ(tape.bytes_pooled(), after_first) << "step " << step;
  }
  EXPECT_GT(after_first, 0u);
  tape.release_memory();
  EXPECT_EQ(tape.bytes_pooled(), 0u);
}

// The library's training step (MLP, tape, bce_with_logits, SGD) against the tutorial's backprop
// written out with plain loops: same weights after several steps.
TEST(FastPaths, TrainingStepMatchesHandWrittenBackprop) {
  tg::Rng rng(29);
  const std::vector<std::size_t> sizes = {5, 7, 6, 1};
  tg::nn::MLP<double> model(sizes, rng);
  const double lr = 0.3;
  tg::optim::SGD<double> opt(model.parameters(), lr);
  const std::size_t batch = 9, L = sizes.size() - 1;
  const Array<double> x = rng.normal<double>({batch, sizes[0]});
  Array<double> y = xt::zeros<double>({batch, std::size_t(1)});
  for (std::size_t i = 0; i < batch; i += 2) y(i, 0) = 1;

  std::vector<Array<double>> W, B;
  for (std::size_t l = 0; l < L; ++l) {
    W.push_back(model.layer(l).weight().value());
    B.push_back(model.layer(l).bias().value());
  }
  tg::Tape<double> tape;
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    tape.backward(tg::bce_with_logits(model.forward(tape.constant(x)), tape.constant(y)));
    opt.step();

    // By hand: h[l+1] = relu(h[l] W + b) (no relu on the logits), dz = (sigmoid(z) - y) / N.
    std::vector<Array<double>> h = {x};
    for (std::size_t l = 0; l < L; ++l) {
      Array<double> z = naive_gemm(false, false, 1, h[l], W[l], 0, xt::zeros<double>({batch, sizes[l + 1]}));
      z += B[l];
      if (l + 1 < L) z = xt::maximum(z, 0.0);
      h.push_back(z);
    }
    Array<double> delta = (1.0 / (1.0 + xt::exp(-h[L])) - y) / double(batch);
    for (std::size_t l = L; l-- > 0;) {
      const Array<double> dW = naive_gemm(true, false, 1, h[l], delta, 0, xt::zeros<double>(W[l].shape()));
      const Array<double> db = xt::sum(delta, {0}, xt::keep_dims);
      if (l > 0) {
        Array<double> prev = naive_gemm(false, true, 1, delta, W[l], 0, xt::zeros<double>(h[l].shape()));
        delta = xt::where(h[l] > 0.0, prev, 0.0);
      }
      W[l] -= lr * dW;
      B[l] -= lr * db;
    }
  }
  for (std::size_t l = 0; l < L; ++l) {
    expect_near(model.layer(l).weight().value(), W[l], 1e-10, "weight");
    expect_near(model.layer(l).bias().value(), B[l], 1e-10, "bias");
  }
}
