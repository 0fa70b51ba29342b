// layer_norm and batch_norm: values against their definitions, gradchecks, running statistics.
#include "tapegrad/normalization.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tapegrad/gradcheck.hpp"
#include "tapegrad/ops.hpp"

namespace tapegrad {
namespace {

using Vs = std::vector<Var<double>>;

template <class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

const Array<double> kX = xt::reshape_view(xt::sin(xt::linspace<double>(0, 7, 24)) * 3.0 + 1.0, {2, 3, 4});

// (x − mean)/sqrt(var + eps) over groups of K consecutive elements, biased variance.
Array<double> normalize_groups(const Array<double>& x, std::size_t K, double eps) {
  Array<double> y = x;
  for (std::size_t m = 0; m < x.size() / K; ++m) {
    double mu = 0, var = 0;
    for (std::size_t k = 0; k < K; ++k) mu += x.data()[m * K + k] / double(K);
    for (std::size_t k = 0; k < K; ++k) var += std::pow(x.data()[m * K + k] - mu, 2) / double(K);
    for (std::size_t k = 0; k < K; ++k) y.data()[m * K + k] = (x.data()[m * K + k] - mu) / std::sqrt(var + eps);
  }
  return y;
}

TEST(LayerNorm, MatchesTheDefinitionInFloatAndDouble) {
  const Array<double> w{{0.5, -1.0, 2.0, 1.5}, {1.0, 0.2, 0.3, -0.7}, {2.0, 1.0, 1.0, 1.0}};
  const Array<double> b = xt::reshape_view(xt::linspace<double>(-1, 1, 12), {3, 4});
  Tape<double> tape;
  Parameter<double> pw(w), pb(b);
  // normalized over the last two axes (3, 4)
  auto y = layer_norm(tape.constant(kX), {3, 4}, pw, pb, 1e-5);
  const Array<double> want = normalize_groups(kX, 12, 1e-5) * w + b;
  EXPECT_LT(xt::amax(xt::abs(y.value() - want))(), 1e-13);
  // over the last axis, without affine
  auto y1 = layer_norm(tape.constant(kX), {4});
  EXPECT_LT(xt::amax(xt::abs(y1.value() - normalize_groups(kX, 4, 1e-5)))(), 1e-13);
  Tape<float> ft;
  auto yf = layer_norm(ft.constant(xt::cast<float>(kX)), {4}, Var<float>(), Var<float>(), 1e-5);
  EXPECT_LT(xt::amax(xt::abs(xt::cast<double>(yf.value()) - y1.value()))(), 1e-5);
}

TEST(LayerNorm, Gradcheck) {
  const Array<double> w = xt::reshape_view(xt::linspace<double>(0.5, 2, 4), {4});
  const Array<double> b = xt::reshape_view(xt::linspace<double>(-1, 1, 4), {4});
  auto r = gradcheck([](const Vs& v) { return layer_norm(v[0], {4}, v[1], v[2]); }, {kX, w, b});
  EXPECT_TRUE(r.ok) << r.report();
  r = gradcheck([](const Vs& v) { return layer_norm(v[0], {3, 4}); }, {kX});
  EXPECT_TRUE(r.ok) << r.report();
  r = gradcheck([](const Vs& v) { return layer_norm(v[0], {4}, v[1]); }, {kX, w});
  EXPECT_TRUE(r.ok) << r.report();
  r = gradcheck([](const Vs& v) { return layer_norm(v[0], {4}, Var<double>(), v[1], 0.1); }, {kX, b});
  EXPECT_TRUE(r.ok) << r.report();
  // fan-out: the output used twice
  r = gradcheck([](const Vs& v) { auto y = layer_norm(v[0], {4}, v[1]); return y * y + y; }, {kX, w});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(LayerNorm, BadShapesAreReported) {
  Tape<double> tape;
  auto x = tape.constant(kX);
  EXPECT_EQ(message_of([&] { layer_norm(x, {3}); }),
            "layer_norm: normalized_shape (3,) is not the end of the input's shape (2, 3, 4)");
  EXPECT_EQ(message_of([&] { layer_norm(x, {4}, Parameter<double>(Array<double>::from_shape({3}))); }),
            "layer_norm: weight (3,) does not have the normalized_shape (4,)");
  EXPECT_THROW(layer_norm(x, {}), ShapeError);
  EXPECT_THROW(layer_norm(x, {4}, Var<double>(), Var<double>(), -1), ValueError);
}

// x (N, C, L) normalised per channel over N and L.
Array<double> batch_reference(const Array<double>& x, const Array<double>& mean, const Array<double>& var, double eps) {
  Array<double> y = x;
  const std::size_t N = x.shape()[0], C = x.shape()[1], L = x.size() / (N * C);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t i = (n * C + c) * L + l;
        y.data()[i] = (x.data()[i] - mean(c)) / std::sqrt(var(c) + eps);
      }
  return y;
}

TEST(BatchNorm, TrainingUsesBatchStatisticsAndUpdatesRunningOnes) {
  // Channel statistics of kX (2, 3, 4) over its 8 values per channel.
  Array<double> mean = xt::zeros<double>({3}), var = xt::zeros<double>({3});
  for (std::size_t c = 0; c < 3; ++c) {
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t l = 0; l < 4; ++l) mean(c) += kX(n, c, l) / 8;
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t l = 0; l < 4; ++l) var(c) += std::pow(kX(n, c, l) - mean(c), 2) / 8;
  }
  Parameter<double> rm(Array<double>{0.5, 0.0, -1.0}), rv(Array<double>{1.0, 2.0, 0.5});
  const Array<double> rm0 = rm.value(), rv0 = rv.value();
  Parameter<double> w(Array<double>{1.5, -0.5, 2.0}), b(Array<double>{0.1, 0.2, 0.3});
  Tape<double> tape;
  auto y = batch_norm(tape.constant(kX), rm, rv, w, b, true, 0.1, 1e-5);
  Array<double> want = batch_reference(kX, mean, var, 1e-5);
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t l = 0; l < 4; ++l) want(n, c, l) = want(n, c, l) * w.value()(c) + b.value()(c);
  EXPECT_LT(xt::amax(xt::abs(y.value() - want))(), 1e-13);
  // running ← 0.9·running + 0.1·batch, with the unbiased variance (8/7)
  EXPECT_LT(xt::amax(xt::abs(rm.value() - (0.9 * rm0 + 0.1 * mean)))(), 1e-15);
  EXPECT_LT(xt::amax(xt::abs(rv.value() - (0.9 * rv0 + 0.1 * var * 8.0 / 7.0)))(), 1e-15);

  // Evaluation uses the running statistics and updates nothing.
  const Array<double> rm1 = rm.value(), rv1 = rv.value();
  auto e = batch_norm(tape.constant(kX), rm, rv, Var<double>(), Var<double>(), false);
  EXPECT_LT(xt::amax(xt::abs(e.value() - batch_reference(kX, rm1, rv1, 1e-5)))(), 1e-13);
  EXPECT_EQ(rm.value(), rm1);
  EXPECT_EQ(rv.value(), rv1);

  // 2-D input (N, C), float: the same per-channel statistics over N.
  Tape<float> ft;
  Parameter<float> frm(Array<float>{0.f, 0.f}), frv(Array<float>{1.f, 1.f});
  auto f = batch_norm(ft.constant(Array<float>{{1.f, 2.f}, {3.f, 6.f}}), frm, frv, Var<float>(), Var<float>(), true);
  EXPECT_NEAR(f.value()(0, 0), -1.0 / std::sqrt(1 + 1e-5), 1e-6);
  EXPECT_NEAR(f.value()(1, 1), 2.0 / std::sqrt(4 + 1e-5), 1e-6);
  EXPECT_NEAR(frv.value()(1), 0.9 + 0.1 * 8.0, 1e-6);  // unbiased: ((2−4)² + (6−4)²)/1
}

TEST(BatchNorm, Gradcheck) {
  const Array<double> w{1.5, -0.5, 2.0}, b{0.1, 0.2, 0.3};
  for (const bool training : {true, false}) {
    auto r = gradcheck(
        [training](const Vs& v) {
          // Fresh running statistics each call: training updates them.
          Parameter<double> rm(Array<double>{0.5, 0.0, -1.0}), rv(Array<double>{1.0, 2.0, 0.5});
          return batch_norm(v[0], rm, rv, v[1], v[2], training);
        },
        {kX, w, b});
    EXPECT_TRUE(r.ok) << "training " << training << "\n" << r.report();
  }
  auto r = gradcheck([](const Vs& v) { return batch_norm(v[0], Parameter<double>(), Parameter<double>(), v[1], Var<double>(), true); },
                     {Array<double>(xt::reshape_view(kX, {4, 6})), Array<double>(xt::linspace<double>(0.5, 1.5, 6))});
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(BatchNorm, BadInputsAreReportedAndChangeNothing) {
  Tape<double> tape;
  Parameter<double> rm(Array<double>{0.5, 0.0, -1.0}), rv(Array<double>{1.0, 2.0, 0.5});
  const Array<double> rm0 = rm.value();
  auto one = tape.constant(Array<double>{{1.0, 2.0, 3.0}});
  EXPECT_EQ(message_of([&] { batch_norm(one, rm, rv, Var<double>(), Var<double>(), true); }),
            "batch_norm: expected more than 1 value per channel when training, got input (1, 3)");
  EXPECT_EQ(message_of([&] { batch_norm(tape.constant(kX), rm, rv, Parameter<double>(Array<double>{1.0, 2.0}), Var<double>(), true); }),
            "batch_norm: weight (2,) does not fit input (2, 3, 4); expected (3,)");
  EXPECT_EQ(rm.value(), rm0);
  EXPECT_THROW(batch_norm(tape.constant(kX), Parameter<double>(), Parameter<double>()), ValueError);
  EXPECT_THROW(batch_norm(tape.constant(Array<double>{1.0, 2.0}), rm, rv), ShapeError);
  EXPECT_THROW(batch_norm(tape.constant(kX), rm, rv, Var<double>(), Var<double>(), true, 1.5), ValueError);
}

}  // namespace
}  // namespace tapegrad
