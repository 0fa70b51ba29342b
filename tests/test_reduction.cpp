// Reductions over lists of dims (tapegrad/reduction.hpp): values in float and double against
// xtensor, gradchecks (adjacent and non-adjacent dims, negative dims, keepdim), and the gradients
// PyTorch defines at ties (amax splits, max along a dim picks one).
#include <gtest/gtest.h>

#include <xtensor/xsort.hpp>

#include <cmath>
#include <limits>

#include "op_testing.hpp"
#include "tapegrad/reduction.hpp"

namespace tg = tapegrad;
using namespace op_testing;

TEST(Reduction, SumAndMeanOverDims) {
  const auto x = arange({2, 3, 4});
  expect_forward([](const auto& v) { return tg::sum(v[0], {0, 2}); }, {x}, Array<double>(xt::sum(x, {0, 2})));
  expect_forward([](const auto& v) { return tg::sum(v[0], {-1, 0}, true); }, {x},
                 Array<double>(xt::sum(x, {0, 2}, xt::keep_dims)));
  expect_forward([](const auto& v) { return tg::sum(v[0], {}); }, {x}, Array<double>(276.0));  // every dim
  expect_forward([](const auto& v) { return tg::sum(v[0], 1); }, {x}, Array<double>(xt::sum(x, {1})));
  expect_forward([](const auto& v) { return tg::mean(v[0], {1, 2}); }, {x}, Array<double>(xt::mean(x, {1, 2})));
  expect_forward([](const auto& v) { return tg::mean(v[0], -2, true); }, {x},
                 Array<double>(xt::mean(x, {1}, xt::keep_dims)));
  expect_forward([](const auto& v) { return tg::sum(v[0], {0}); }, {Array<double>::from_shape({0, 3})},
                 Array<double>(xt::zeros<double>({3})));
  expect_forward([](const auto& v) { return tg::sum(v[0], 0); }, {Array<double>(4.0)}, Array<double>(4.0));  // 0-d
}

TEST(Reduction, SumAndMeanGradcheck) {
  tg::Rng rng(1);
  const auto x = randn(rng, {2, 3, 4, 5});
  for (const std::vector<int>& dims : std::vector<std::vector<int>>{{0}, {1, 2}, {0, 2}, {-1, 1}, {0, 1, 3}, {}}) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE(::testing::Message() << dims.size() << " dims, keepdim " << keep);
      expect_gradcheck([&](const Vars& v) { return tg::sum(v[0], dims, keep); }, {x});
      expect_gradcheck([&](const Vars& v) { return tg::mean(v[0], dims, keep); }, {x});
    }
  }
}

TEST(Reduction, AmaxAminSplitTheGradientAmongTies) {
  const Array<double> x = {{1, 3, 3}, {-2, 0, -2}};
  expect_forward([](const auto& v) { return tg::amax(v[0], {1}); }, {x}, Array<double>{3, 0});
  expect_forward([](const auto& v) { return tg::amin(v[0], 1, true); }, {x}, tg::column({1.0, -2.0}));
  expect_forward([](const auto& v) { return tg::amax(v[0]); }, {x}, Array<double>(3.0));
  expect_forward([](const auto& v) { return tg::max(v[0]); }, {x}, Array<double>(3.0));
  expect_forward([](const auto& v) { return tg::min(v[0]); }, {x}, Array<double>(-2.0));
  EXPECT_EQ(gradient([](const tg::Var<double>& v) { return tg::amax(v, 1); }, x),
            (Array<double>{{0, 0.5, 0.5}, {0, 1, 0}}));
  EXPECT_EQ(gradient([](const tg::Var<double>& v) { return tg::amin(v, -1); }, x),
            (Array<double>{{1, 0, 0}, {0.5, 0, 0.5}}));
  EXPECT_EQ(gradient([](const tg::Var<double>& v) { return tg::max(v); }, x), (Array<double>{{0, 0.5, 0.5}, {0, 0, 0}}));
  tg::Rng rng(2);
  const auto r = randn(rng, {3, 4, 5});  // no ties: differentiable
  expect_gradcheck([](const Vars& v) { return tg::amax(v[0], {0, 2}); }, {r});
  expect_gradcheck([](const Vars& v) { return tg::amin(v[0], {-1}, true); }, {r});
}

TEST(Reduction, MaxAlongADimGivesValuesIndicesAndAGradientToTheIndex) {
  const Array<double> x = {{1, 3, 3}, {-2, 0, -2}};
  tg::Tape<double> tape;
  auto [values, indices] = tg::max(tape.constant(x), 1);
  EXPECT_EQ(values.value(), (Array<double>{3, 0}));
  EXPECT_EQ(indices, (tg::IndexArray{1, 1}));  // the first of equal values
  auto low = tg::min(tape.constant(x), 1, true);
  EXPECT_EQ(low.indices, (tg::IndexArray(xt::zeros<std::int64_t>({2, 1}))));
  EXPECT_EQ(low.values.shape(), (tg::Shape{2, 1}));
  EXPECT_EQ(gradient([](const tg::Var<double>& v) { return tg::max(v, 1).values; }, x),
            (Array<double>{{0, 1, 0}, {0, 1, 0}}));
  EXPECT_EQ(gradient([](const tg::Var<double>& v) { return tg::min(v, 0).values; }, x),
            (Array<double>{{0, 0, 0}, {1, 1, 1}}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto with_nan = tg::max(tape.constant(Array<double>{1.0, nan, 5.0, nan}), 0);
  EXPECT_TRUE(std::isnan(with_nan.values.item()));
  EXPECT_EQ(with_nan.indices(), 1);  // the first NaN
  tg::Rng rng(3);
  const auto r = randn(rng, {3, 4, 5});
  expect_gradcheck([](const Vars& v) { return tg::max(v[0], 1).values; }, {r});
  expect_gradcheck([](const Vars& v) { return tg::min(v[0], -1, true).values; }, {r});
  tg::Tape<float> tf;
  EXPECT_EQ(tg::max(tf.constant(Array<float>{{1.f, 4.f}, {3.f, 2.f}}), 0).indices, (tg::IndexArray{1, 0}));
}

TEST(Reduction, LogsumexpIsStable) {
  const Array<double> x = {{1000.0, 1000.0}, {-1000.0, 0.0}};
  expect_forward([](const auto& v) { return tg::logsumexp(v[0], {1}); }, {x},
                 Array<double>{1000 + std::log(2.0), std::log1p(std::exp(-1000.0))});
  const double inf = std::numeric_limits<double>::infinity();
  expect_forward([](const auto& v) { return tg::logsumexp(v[0], -1); }, {Array<double>{-inf, -inf}}, Array<double>(-inf));
  tg::Rng rng(4);
  expect_gradcheck([](const Vars& v) { return tg::logsumexp(v[0], {0, 2}); }, {randn(rng, {3, 4, 5})});
  expect_gradcheck([](const Vars& v) { return tg::logsumexp(v[0], {-1}, true); }, {randn(rng, {3, 4}) * 10.0});
}

TEST(Reduction, VarAndStdWithCorrection) {
  const Array<double> x = {{1, 2, 3, 4}, {2, 2, 2, 2}};
  expect_forward([](const auto& v) { return tg::var(v[0], {1}); }, {x}, Array<double>{5.0 / 3, 0});
  expect_forward([](const auto& v) { return tg::var(v[0], {1}, 0); }, {x}, Array<double>{1.25, 0});
  expect_forward([](const auto& v) { return tg::std(v[0], {1}, 1, true); }, {x}, tg::column({std::sqrt(5.0 / 3), 0.0}));
  expect_forward([](const auto& v) { return tg::var(v[0]); }, {x}, Array<double>(xt::variance(x)() * 8 / 7));
  // std's gradient where the deviation is 0 is 0, as PyTorch (not NaN).
  EXPECT_EQ(gradient([](const tg::Var<double>& v) { return tg::std(v, 1); }, x)(1, 0), 0.0);
  tg::Rng rng(5);
  const auto r = randn(rng, {3, 4, 5});
  expect_gradcheck([](const Vars& v) { return tg::var(v[0], {0, 2}); }, {r});
  expect_gradcheck([](const Vars& v) { return tg::var(v[0], {-1}, 0, true); }, {r});
  expect_gradcheck([](const Vars& v) { return tg::std(v[0]); }, {r});
  expect_gradcheck([](const Vars& v) { return tg::std(v[0], {1}, 2); }, {r});
}

TEST(Reduction, Norms) {
  const Array<double> x = {{3, -4, 0}, {1, -1, 1}};
  const double inf = std::numeric_limits<double>::infinity();
  expect_forward([](const auto& v) { return tg::norm(v[0]); }, {x}, Array<double>(std::sqrt(28.0)));
  expect_forward([](const auto& v) { return tg::norm(v[0], 2, {1}); }, {x}, Array<double>{5, std::sqrt(3.0)});
  expect_forward([](const auto& v) { return tg::norm(v[0], 1, {1}); }, {x}, Array<double>{7, 3});
  expect_forward([&](const auto& v) { return tg::norm(v[0], inf, {1}); }, {x}, Array<double>{4, 1});
  expect_forward([&](const auto& v) { return tg::norm(v[0], -inf, {1}); }, {x}, Array<double>{0, 1});
  expect_forward([](const auto& v) { return tg::norm(v[0], 0, {1}); }, {x}, Array<double>{2, 3});
  expect_forward([](const auto& v) { return tg::norm(v[0], 3, {0}, true); }, {x},
                 Array<double>{{std::cbrt(28.0), std::cbrt(65.0), 1}});
  // The gradient of the inf-norm is split among ties; at a zero norm it is 0.
  EXPECT_EQ(gradient([&](const tg::Var<double>& v) { return tg::norm(v, inf, {1}); }, x),
            (Array<double>{{0, -1, 0}, {1.0 / 3, -1.0 / 3, 1.0 / 3}}));
  EXPECT_EQ(gradient([](const tg::Var<double>& v) { return tg::norm(v, 2, {1}); }, Array<double>{{0, 0}}),
            (Array<double>{{0, 0}}));
  tg::Rng rng(6);
  const auto r = away_from_zero(rng, {3, 4});
  for (double p : {2.0, 1.0, 3.0, 1.5, 0.5}) {
    SCOPED_TRACE(p);
    expect_gradcheck([p](const Vars& v) { return tg::norm(v[0], p); }, {r});
    expect_gradcheck([p](const Vars& v) { return tg::norm(v[0], p, {-1}, true); }, {r});
  }
  expect_gradcheck([&](const Vars& v) { return tg::norm(v[0], inf, {0}); }, {r});
}
