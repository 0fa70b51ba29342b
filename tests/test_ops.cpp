// Every built-in op: forward values against hand-computed ones, and its backward against
// central differences (tapegrad::gradcheck, float64), including broadcasts and fan-out.
#include <gtest/gtest.h>

#include <cmath>

#include "op_testing.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/random.hpp"

namespace tg = tapegrad;
using tg::Array;
using Vars = std::vector<tg::Var<double>>;

namespace {

// A column vector (n, 1): nested initializer lists of one element are ambiguous in xtensor.
Array<double> column(std::initializer_list<double> v) {
  Array<double> a = v;
  a.reshape({v.size(), 1});
  return a;
}

Array<double> randn(tg::Rng& rng, const tg::Shape& shape) { return rng.normal<double>(shape); }

// Values in (lo, hi), away from kinks and domain edges.
Array<double> uniform(tg::Rng& rng, const tg::Shape& shape, double lo, double hi) {
  return rng.uniform<double>(shape, lo, hi);
}

// Away from relu's kink at 0, where central differences are meaningless.
Array<double> away_from_zero(tg::Rng& rng, const tg::Shape& shape) {
  Array<double> a = randn(rng, shape);
  for (auto& v : a) v = v >= 0 ? v + 0.1 : v - 0.1;
  return a;
}

void expect_gradcheck(const tg::GradcheckFn& f, const std::vector<Array<double>>& inputs,
                      tg::GradcheckOptions options = {}) {
  const auto r = tg::gradcheck(f, inputs, options);
  EXPECT_TRUE(r.ok) << r.report();
}

}  // namespace

// ---- forward values --------------------------------------------------------------------------

TEST(OpsForward, MatmulAndLinear) {
  tg::Tape<float> tape;
  auto a = tape.constant(Array<float>{{1.f, 2.f}, {3.f, 4.f}});
  auto b = tape.constant(Array<float>{{5.f, 6.f}, {7.f, 8.f}});
  auto c = tg::matmul(a, b);
  EXPECT_EQ(c.value(), (Array<float>{{19.f, 22.f}, {43.f, 50.f}}));
  auto bias = tape.constant(Array<float>{{1.f, -1.f}});
  auto l = tg::linear(a, b, bias);
  EXPECT_EQ(l.value(), (Array<float>{{20.f, 21.f}, {44.f, 49.f}}));
  auto flat_bias = tape.constant(Array<float>{1.f, -1.f});
  EXPECT_EQ(tg::linear(a, b, flat_bias).value(), l.value());
  EXPECT_EQ(tg::linear(a, b).value(), c.value());
}

TEST(OpsForward, BroadcastingArithmetic) {
  tg::Tape<double> tape;
  auto m = tape.constant(Array<double>{{1, 2, 3}, {4, 5, 6}});
  auto r = tape.constant(Array<double>{{10, 20, 30}});
  auto col = tape.constant(column({2, 4}));
  auto s = tape.constant(Array<double>(2.0));
  EXPECT_EQ(tg::add(m, r).value(), (Array<double>{{11, 22, 33}, {14, 25, 36}}));
  EXPECT_EQ(tg::sub(r, m).value(), (Array<double>{{9, 18, 27}, {6, 15, 24}}));
  EXPECT_EQ(tg::mul(m, col).value(), (Array<double>{{2, 4, 6}, {16, 20, 24}}));
  EXPECT_EQ(tg::div(m, s).value(), (Array<double>{{0.5, 1, 1.5}, {2, 2.5, 3}}));
  EXPECT_EQ((m * 2.0 + 1.0).value(), (Array<double>{{3, 5, 7}, {9, 11, 13}}));
  EXPECT_EQ((1.0 - m).value(), (Array<double>{{0, -1, -2}, {-3, -4, -5}}));
  EXPECT_EQ((-m).value(), (Array<double>{{-1, -2, -3}, {-4, -5, -6}}));
  EXPECT_EQ((m / 2.0).value(), (Array<double>{{0.5, 1, 1.5}, {2, 2.5, 3}}));
  EXPECT_EQ((6.0 / m).value(), (Array<double>{{6, 3, 2}, {1.5, 1.2, 1}}));
}

TEST(OpsForward, Elementwise) {
  tg::Tape<double> tape;
  auto x = tape.constant(Array<double>{-2.0, 0.0, 3.0});
  EXPECT_EQ(tg::relu(x).value(), (Array<double>{0, 0, 3}));
  const auto s = tg::sigmoid(x).value();
  EXPECT_DOUBLE_EQ(s(0), 1 / (1 + std::exp(2.0)));
  EXPECT_DOUBLE_EQ(s(1), 0.5);
  EXPECT_DOUBLE_EQ(tg::tanh(x).value()(2), std::tanh(3.0));
  EXPECT_DOUBLE_EQ(tg::exp(x).value()(0), std::exp(-2.0));
  EXPECT_DOUBLE_EQ(tg::log(tg::exp(x)).value()(2), 3.0);
}

TEST(OpsForward, Reductions) {
  tg::Tape<double> tape;
  auto m = tape.constant(Array<double>{{1, 2, 3}, {4, 5, 6}});
  EXPECT_DOUBLE_EQ(tg::sum(m).item(), 21.0);
  EXPECT_DOUBLE_EQ(tg::mean(m).item(), 3.5);
  EXPECT_EQ(tg::sum(m).value().dimension(), 0u);
  EXPECT_EQ(tg::sum(m, 0).value(), (Array<double>{5, 7, 9}));
  EXPECT_EQ(tg::sum(m, 1).value(), (Array<double>{6, 15}));
  EXPECT_EQ(tg::sum(m, -1, true).value(), (column({6, 15})));
  EXPECT_EQ(tg::mean(m, 0, true).value(), (Array<double>{{2.5, 3.5, 4.5}}));
  EXPECT_THROW(tg::sum(m, 2), tg::ShapeError);
}

TEST(OpsForward, Losses) {
  tg::Tape<double> tape;
  auto p = tape.constant(column({0.9, 0.2}));
  auto y = tape.constant(column({1.0, 0.0}));
  EXPECT_NEAR(tg::bce(p, y).item(), -(std::log(0.9) + std::log(0.8)) / 2, 1e-15);
  // Logs clamped at -100, as PyTorch: p = 0 against y = 1 (and p = 1 against y = 0) costs 100, not inf.
  auto p0 = tape.constant(column({0.0, 1.0}));
  EXPECT_DOUBLE_EQ(tg::bce(p0, y).item(), 100.0);
  auto z = tape.constant(column({2.0, -1.0}));
  auto expected = tg::bce(tg::sigmoid(z), y).item();
  EXPECT_NEAR(tg::bce_with_logits(z, y).item(), expected, 1e-15);
  auto big = tape.constant(column({1e4, -1e4}));
  EXPECT_NEAR(tg::bce_with_logits(big, y).item(), 0.0, 1e-12);
  auto ones = tape.constant(column({1.0, 1.0}));
  EXPECT_NEAR(tg::bce_with_logits(big, ones).item(), 1e4 / 2, 1e-9);
  EXPECT_DOUBLE_EQ(tg::mse(p, y).item(), (0.01 + 0.04) / 2);
}

TEST(OpsForward, FloatAndDoubleAgree) {
  tg::Rng rng(3);
  Array<double> xd = rng.normal<double>({5, 3});
  Array<float> xf = xt::cast<float>(xd);
  tg::Tape<double> td;
  tg::Tape<float> tf;
  const double d = tg::mean(tg::tanh(tg::sigmoid(td.constant(xd)))).item();
  const float f = tg::mean(tg::tanh(tg::sigmoid(tf.constant(xf)))).item();
  EXPECT_NEAR(d, double(f), 1e-6);
}

// ---- shape errors name the op and both shapes ----------------------------------------------

TEST(OpsErrors, ShapeMismatchesNameOpAndShapes) {
  tg::Tape<double> tape;
  auto a = tape.constant(xt::zeros<double>({2, 3}));
  auto b = tape.constant(xt::zeros<double>({4, 1}));
  auto expect_msg = [](auto f, const std::string& op) {
    try {
      f();
      ADD_FAILURE() << op << ": expected ShapeError";
    } catch (const tg::ShapeError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(op), std::string::npos) << m;
      EXPECT_NE(m.find("(2, 3)"), std::string::npos) << m;
      EXPECT_NE(m.find("(4, 1)"), std::string::npos) << m;
    }
  };
  expect_msg([&] { tg::matmul(a, b); }, "matmul");
  expect_msg([&] { tg::add(a, b); }, "add");
  expect_msg([&] { tg::sub(a, b); }, "sub");
  expect_msg([&] { tg::mul(a, b); }, "mul");
  expect_msg([&] { tg::div(a, b); }, "div");
  expect_msg([&] { tg::linear(a, b); }, "linear");
  expect_msg([&] { tg::bce_with_logits(a, b); }, "binary_cross_entropy_with_logits");  // the PyTorch name bce_with_logits forwards to
  expect_msg([&] { tg::mse(a, b); }, "mse_loss");  // mse forwards to mse_loss
}

TEST(OpsErrors, BceRejectsNonProbabilities) {
  tg::Tape<double> tape;
  auto p = tape.constant(Array<double>{0.5, 1.5});
  auto y = tape.constant(Array<double>{0.0, 1.0});
  try {
    tg::bce(p, y);
    FAIL();
  } catch (const tg::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("binary_cross_entropy_with_logits"), std::string::npos) << e.what();
  }
}

// ---- gradient checks: every op --------------------------------------------------------------

TEST(Gradcheck, Matmul) {
  tg::Rng rng(1);
  expect_gradcheck([](const Vars& v) { return tg::matmul(v[0], v[1]); },
                   {randn(rng, {3, 4}), randn(rng, {4, 2})});
}

TEST(Gradcheck, LinearWithBiasRowAndFlat) {
  tg::Rng rng(2);
  auto f = [](const Vars& v) { return tg::linear(v[0], v[1], v[2]); };
  expect_gradcheck(f, {randn(rng, {5, 3}), randn(rng, {3, 4}), randn(rng, {1, 4})});
  expect_gradcheck(f, {randn(rng, {5, 3}), randn(rng, {3, 4}), randn(rng, {4})});
  expect_gradcheck([](const Vars& v) { return tg::linear(v[0], v[1]); }, {randn(rng, {2, 3}), randn(rng, {3, 2})});
}

TEST(Gradcheck, AddSubMulDivSameShape) {
  tg::Rng rng(3);
  const auto a = randn(rng, {3, 4});
  const auto b = uniform(rng, {3, 4}, 0.5, 2.0);
  expect_gradcheck([](const Vars& v) { return tg::add(v[0], v[1]); }, {a, b});
  expect_gradcheck([](const Vars& v) { return tg::sub(v[0], v[1]); }, {a, b});
  expect_gradcheck([](const Vars& v) { return tg::mul(v[0], v[1]); }, {a, b});
  expect_gradcheck([](const Vars& v) { return tg::div(v[0], v[1]); }, {a, b});
}

TEST(Gradcheck, BroadcastRowColumnScalarAndRank) {
  tg::Rng rng(4);
  const auto m = randn(rng, {3, 4});
  const std::vector<tg::Shape> others = {{1, 4}, {4}, {3, 1}, {}, {1, 1}, {2, 3, 4}, {2, 1, 4}};
  for (const auto& shape : others) {
    SCOPED_TRACE(tg::to_string(shape));
    const auto o = uniform(rng, shape, 0.5, 2.0);
    expect_gradcheck([](const Vars& v) { return tg::add(v[0], v[1]); }, {m, o});
    expect_gradcheck([](const Vars& v) { return tg::sub(v[1], v[0]); }, {m, o});
    expect_gradcheck([](const Vars& v) { return tg::mul(v[0], v[1]); }, {m, o});
    expect_gradcheck([](const Vars& v) { return tg::div(v[0], v[1]); }, {m, o});
  }
}

TEST(Gradcheck, ScalarArithmetic) {
  tg::Rng rng(5);
  const auto x = uniform(rng, {2, 3}, 0.5, 2.0);
  expect_gradcheck([](const Vars& v) { return tg::neg(v[0]); }, {x});
  expect_gradcheck([](const Vars& v) { return v[0] * 3.0 - 1.0; }, {x});
  expect_gradcheck([](const Vars& v) { return 2.0 - v[0] / 4.0; }, {x});
  expect_gradcheck([](const Vars& v) { return 3.0 / v[0]; }, {x});
}

TEST(Gradcheck, Activations) {
  tg::Rng rng(6);
  expect_gradcheck([](const Vars& v) { return tg::relu(v[0]); }, {away_from_zero(rng, {4, 5})});
  expect_gradcheck([](const Vars& v) { return tg::sigmoid(v[0]); }, {randn(rng, {4, 5})});
  expect_gradcheck([](const Vars& v) { return tg::tanh(v[0]); }, {randn(rng, {4, 5})});
  expect_gradcheck([](const Vars& v) { return tg::exp(v[0]); }, {randn(rng, {4, 5})});
  expect_gradcheck([](const Vars& v) { return tg::log(v[0]); }, {uniform(rng, {4, 5}, 0.2, 3.0)});
}

TEST(Gradcheck, Reductions) {
  tg::Rng rng(7);
  const auto x = randn(rng, {2, 3, 4});
  expect_gradcheck([](const Vars& v) { return tg::sum(v[0]); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::mean(v[0]); }, {x});
  for (int axis : {0, 1, 2, -1}) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE(axis);
      expect_gradcheck([axis, keep](const Vars& v) { return tg::sum(v[0], axis, keep); }, {x});
      expect_gradcheck([axis, keep](const Vars& v) { return tg::mean(v[0], axis, keep); }, {x});
    }
  }
}

TEST(Gradcheck, Losses) {
  tg::Rng rng(8);
  const auto p = uniform(rng, {6, 2}, 0.05, 0.95);
  const auto y = uniform(rng, {6, 2}, 0.0, 1.0);  // soft targets: the target gradient matters too
  const auto z = randn(rng, {6, 2}) * 3.0;
  expect_gradcheck([](const Vars& v) { return tg::bce(v[0], v[1]); }, {p, y});
  expect_gradcheck([](const Vars& v) { return tg::bce_with_logits(v[0], v[1]); }, {z, y});
  expect_gradcheck([](const Vars& v) { return tg::mse(v[0], v[1]); }, {z, y});
  tg::GradcheckOptions targets_fixed;
  targets_fixed.requires_grad({true, false});
  expect_gradcheck([](const Vars& v) { return tg::bce(tg::sigmoid(v[0]), v[1]); }, {z, y}, targets_fixed);
}

TEST(Gradcheck, FanOutOfInputsAndIntermediates) {
  tg::Rng rng(9);
  const auto x = randn(rng, {3, 3});
  // x used three times, and the intermediate h twice.
  expect_gradcheck(
      [](const Vars& v) {
        auto h = tg::tanh(tg::matmul(v[0], v[0]));
        return tg::add(tg::mul(h, h), tg::mul(v[0], h));
      },
      {x});
}

TEST(Gradcheck, SmallNetworkEndToEnd) {
  tg::Rng rng(10);
  expect_gradcheck(
      [](const Vars& v) {
        auto h = tg::relu(tg::linear(v[0], v[1], v[2]));
        return tg::bce_with_logits(tg::linear(h, v[3], v[4]), v[5]);
      },
      {randn(rng, {4, 3}), randn(rng, {3, 5}), randn(rng, {1, 5}), randn(rng, {5, 1}), randn(rng, {1, 1}),
       uniform(rng, {4, 1}, 0, 1)},
      [] {
        tg::GradcheckOptions o;
        o.requires_grad({false, true, true, true, true, false});
        return o;
      }());
}

TEST(Gradcheck, DetectsAWrongBackwardRule) {
  // A deliberately wrong op (gradient off by a factor 2) must fail the check.
  auto wrong = [](const Vars& v) {
    tg::Op<double> op("wrong_square", {v[0]});
    tg::Array<double>& y = op.output(v[0].shape());
    xt::noalias(y) = v[0].value() * v[0].value();
    return op.finish([](tg::Backward<double>& b) { b.accumulate(0, b.grad_out() * b.input(0)); });
  };
  tg::Rng rng(11);
  const auto r = tg::gradcheck(wrong, {randn(rng, {3})});
  EXPECT_FALSE(r.ok) << r.report();
  EXPECT_GT(r.inputs[0].max_rel_error, 0.3);
}

TEST(Gradcheck, ReportsPerInput) {
  tg::Rng rng(12);
  const auto r = tg::gradcheck([](const Vars& v) { return tg::mul(v[0], v[1]); },
                               {randn(rng, {2}), randn(rng, {2})});
  ASSERT_EQ(r.inputs.size(), 2u);
  EXPECT_LT(r.inputs[0].max_abs_error, 1e-8);
  EXPECT_NE(r.report().find("input 1"), std::string::npos);
}

// ---- N-d products: torch.matmul's rules, bmm, linear on (..., in) --------------------------------------

namespace {
// torch.matmul by its definition: 1-D operands promoted (and the extent of 1 dropped again), batch
// dims broadcast, one naive product per batch.
Array<double> naive_matmul(Array<double> a, Array<double> b) {
  const bool av = a.dimension() == 1, bv = b.dimension() == 1;
  if (av) a.reshape({std::size_t(1), a.size()});
  if (bv) b.reshape({b.size(), std::size_t(1)});
  const std::size_t ra = a.dimension(), rb = b.dimension(), m = a.shape()[ra - 2], k = a.shape()[ra - 1],
                    n = b.shape()[rb - 1];
  const tg::Shape abatch(a.shape().begin(), a.shape().end() - 2), bbatch(b.shape().begin(), b.shape().end() - 2);
  const tg::Shape batch = tg::broadcast_shapes("naive", abatch, bbatch);
  tg::Shape full = batch;
  full.push_back(m);
  full.push_back(k);
  const Array<double> ab = xt::broadcast(a, full);
  full[full.size() - 2] = k;
  full[full.size() - 1] = n;
  const Array<double> bb = xt::broadcast(b, full);
  const std::size_t batches = tg::numel(batch);
  tg::Shape out = batch;
  if (!av) out.push_back(m);
  if (!bv) out.push_back(n);
  Array<double> y = Array<double>::from_shape(out);
  for (std::size_t t = 0; t < batches; ++t) {
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::size_t p = 0; p < k; ++p) s += ab.data()[(t * m + i) * k + p] * bb.data()[(t * k + p) * n + j];
        y.data()[(t * m + i) * n + j] = s;
      }
    }
  }
  return y;
}

template <class T>
Array<double> run_matmul(const Array<double>& a, const Array<double>& b) {
  tg::Tape<T> tape;
  auto y = tg::matmul(tape.constant(Array<T>(xt::cast<T>(a))), tape.constant(Array<T>(xt::cast<T>(b))));
  return xt::cast<double>(y.value());
}
}  // namespace

TEST(Products, MatmulFollowsTorchMatmulForEveryRank) {
  tg::Rng rng(20);
  const std::vector<std::pair<tg::Shape, tg::Shape>> shapes = {
      {{4}, {4}},          {{4}, {4, 3}},          {{3, 4}, {4}},           {{2, 3, 4}, {4, 5}},
      {{2, 3, 4}, {4}},    {{4}, {2, 4, 5}},       {{3, 4}, {2, 4, 5}},     {{2, 3, 4}, {2, 4, 5}},
      {{2, 1, 3, 4}, {5, 4, 2}}, {{1, 3, 4}, {6, 4, 2}}, {{40, 30, 20}, {20, 70}}, {{3, 40, 33}, {3, 33, 65}},
  };
  for (const auto& [sa, sb] : shapes) {
    SCOPED_TRACE(tg::to_string(sa) + " @ " + tg::to_string(sb));
    const auto a = randn(rng, sa), b = randn(rng, sb);
    const Array<double> want = naive_matmul(a, b);
    const Array<double> d = run_matmul<double>(a, b), f = run_matmul<float>(a, b);
    ASSERT_EQ(d.shape(), want.shape());
    ASSERT_EQ(f.shape(), want.shape());
    EXPECT_LT(xt::amax(xt::abs(d - want))(), 1e-12);
    EXPECT_LT(xt::amax(xt::abs(f - want))(), 1e-4);
    if (a.size() * b.size() < 100000) {
      expect_gradcheck([](const Vars& v) { return tg::matmul(v[0], v[1]); }, {a, b});
      continue;
    }
    // The two large cases (the folded and the batched GEMM paths) sum ~1e5 outputs, more than
    // central differences resolve at gradcheck's tolerance; their gradients for a seed of ones are
    // exact products instead: dA = 1 · Bᵀ, dB = Aᵀ · 1 (A's batch folded into rows when B is 2-D).
    const auto swap_last = [](const Array<double>& m) {
      std::vector<std::size_t> order(m.dimension());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::swap(order[order.size() - 1], order[order.size() - 2]);
      return Array<double>(xt::transpose(m, order));
    };
    const Array<double> ones = xt::ones<double>(want.shape());
    const Array<double> da = op_testing::gradient([&](const tg::Var<double>& v) { return tg::matmul(v, v.tape()->constant(b)); }, a);
    EXPECT_LT(xt::amax(xt::abs(da - naive_matmul(ones, swap_last(b))))(), 1e-12);
    Array<double> a_rows = a;
    if (b.dimension() == 2) a_rows.reshape({a.size() / a.shape().back(), a.shape().back()});
    Array<double> ones_rows = ones;
    if (b.dimension() == 2) ones_rows.reshape({ones.size() / ones.shape().back(), ones.shape().back()});
    const Array<double> db = op_testing::gradient([&](const tg::Var<double>& v) { return tg::matmul(v.tape()->constant(a), v); }, b);
    EXPECT_LT(xt::amax(xt::abs(db - naive_matmul(swap_last(a_rows), ones_rows)))(), 1e-12);
  }
  // (k,) @ (k,) is 0-d; a value times itself, in either rank.
  expect_gradcheck([](const Vars& v) { return tg::matmul(v[0], v[0]); }, {randn(rng, {5})});
  expect_gradcheck([](const Vars& v) { return tg::matmul(v[0], v[0]); }, {randn(rng, {2, 3, 3})});
}

TEST(Products, BmmAndNdLinear) {
  tg::Rng rng(21);
  const auto a = randn(rng, {3, 2, 4}), b = randn(rng, {3, 4, 5});
  tg::Tape<double> tape;
  EXPECT_LT(xt::amax(xt::abs(tg::bmm(tape.constant(a), tape.constant(b)).value() - naive_matmul(a, b)))(), 1e-12);
  expect_gradcheck([](const Vars& v) { return tg::bmm(v[0], v[1]); }, {a, b});
  // linear(x, W, b) = x·W + b over x's leading dims; 1-D x too.
  for (const tg::Shape& xs : std::vector<tg::Shape>{{4}, {5, 4}, {2, 3, 4}, {2, 1, 3, 4}}) {
    SCOPED_TRACE(tg::to_string(xs));
    const auto x = randn(rng, xs), w = randn(rng, {4, 6}), bias = randn(rng, {6});
    const Array<double> want = naive_matmul(x, w) + bias;
    auto xv = tape.constant(x);
    EXPECT_LT(xt::amax(xt::abs(tg::linear(xv, tape.constant(w), tape.constant(bias)).value() - want))(), 1e-12);
    EXPECT_EQ(xv.shape(), xs);  // the input's shape is back after its in-place matrix view
    expect_gradcheck([](const Vars& v) { return tg::linear(v[0], v[1], v[2]); }, {x, w, bias});
    expect_gradcheck([](const Vars& v) { return tg::linear(v[0], v[1]); }, {x, w});
  }
  tg::Tape<float> tf;
  const auto y = tg::linear(tf.constant(Array<float>::from_shape({2, 3, 4})), tf.constant(Array<float>::from_shape({4, 6})));
  EXPECT_EQ(y.shape(), (tg::Shape{2, 3, 6}));
}

// ---- a user-defined op (examples/softplus.{hpp,cpp}) through the same API --------------------------

#include "softplus.hpp"

TEST(CustomOp, SoftplusGradcheckAndValues) {
  tg::Rng rng(13);
  expect_gradcheck([](const Vars& v) { return example::softplus(v[0]); }, {randn(rng, {3, 4}) * 4.0});
  tg::Tape<double> tape;
  auto y = example::softplus(tape.constant(Array<double>{-800.0, 0.0, 800.0}));
  EXPECT_DOUBLE_EQ(y.value()(0), 0.0);
  EXPECT_DOUBLE_EQ(y.value()(1), std::log(2.0));
  EXPECT_DOUBLE_EQ(y.value()(2), 800.0);  // no overflow
}
