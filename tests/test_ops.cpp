// Every built-in op: forward values against hand-computed ones, and its backward against
// central differences (tapegrad::gradcheck, float64), including broadcasts and fan-out.
#include <gtest/gtest.h>

#include <cmath>

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
