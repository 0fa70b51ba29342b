// compare_gradients and the tutorial ops: each quirk shows where the issue says it shows, and
// vanishes once accounted for.
#include "tapegrad/tutorial/compare.hpp"
#include "tapegrad/io/npy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "tapegrad/error.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/tutorial/neural_network.hpp"
#include "tapegrad/tutorial/ops.hpp"

namespace tt = tapegrad::tutorial;
using tapegrad::Array;
using tapegrad::Var;

namespace {

Array<double> mat(std::size_t rows, std::size_t cols, std::vector<double> values) {
  Array<double> a = Array<double>::from_shape({rows, cols});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}
Array<double> xor_X() { return mat(4, 2, {0, 0, 0, 1, 1, 0, 1, 1}); }
Array<double> xor_y() { return mat(4, 1, {0, 1, 1, 0}); }

// The check comparing `a` with `b` at scale `scale`.
template <class T>
const tt::Check& find(const tt::Comparison<T>& c, const std::string& a, const std::string& b, double scale) {
  for (const auto& check : c.checks) {
    if (check.a == a && check.b == b && check.scale == scale) return check;
  }
  throw std::runtime_error("no check " + a + " vs " + b);
}

}  // namespace

TEST(TutorialCompare, XorFromNumpySeed1ShowsEachQuirkWhereExpected) {
  tt::NumpyRandomState rng(1);
  tt::NeuralNetwork<double> net({2, 4, 1}, rng);
  const auto weights = net.weights;
  const auto c = tt::compare_gradients(net, xor_X(), xor_y());
  EXPECT_EQ(net.weights, weights);  // the caller's network is not touched
  ASSERT_EQ(c.parameters,
            (std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}));
  EXPECT_EQ(c.outputs, 1u);

  // As corrected: autograd (bce_with_logits) and the textbook backprop agree to rounding.
  EXPECT_LE(c.headline, 1e-15);
  EXPECT_EQ(c.headline_check, 0u);
  EXPECT_LE(find(c, "autograd_sigmoid_bce", "hand", 1.0).max.max_abs, 1e-15);

  // Quirk 1: output layer identical, first layer off by ~0.03 (lr 0.5).
  const auto& applied = find(c, "applied", "hand", 1.0);
  EXPECT_LE(applied.diffs[2].max_abs, 1e-15);
  EXPECT_LE(applied.diffs[3].max_abs, 1e-15);
  EXPECT_GT(applied.diffs[0].max_abs, 1e-2);
  EXPECT_LT(applied.diffs[0].max_abs, 1e-1);
  // ... and fully explained by the update order.
  EXPECT_LE(find(c, "applied", "hand_as_applied", 1.0).max.max_abs, 1e-15);

  // Quirk 3: the 1e-8 in the loss moves its exact gradient by ~1e-8 from a - y.
  const auto& eps = find(c, "autograd_tutorial_loss", "hand", 1.0);
  EXPECT_GT(eps.max.max_abs, 1e-9);
  EXPECT_LT(eps.max.max_abs, 1e-7);

  // As written, the headline is the first layer's ~0.03.
  tt::CompareOptions written;
  written.as_written(true);
  const auto w = tt::compare_gradients(net, xor_X(), xor_y(), written);
  EXPECT_GT(w.headline, 1e-2);
  EXPECT_EQ(w.headline_check, w.checks.size() - 1);
  const std::string report = tt::format_comparison(w, 1e-10);
  EXPECT_NE(report.find("EXCEEDED"), std::string::npos);
}

TEST(TutorialCompare, QuirkTwoIsAFactorKForKOutputs) {
  tt::NumpyRandomState rng(2);
  tt::NeuralNetwork<double> net({8, 16, 16, 3}, rng);
  const Array<double> X = rng.randn(64, 8);
  const Array<double> y = xt::cast<double>(rng.rand(64, 3) < 0.5);
  const auto c = tt::compare_gradients(net, X, y);
  EXPECT_EQ(c.outputs, 3u);
  EXPECT_LE(c.headline, 1e-14);  // autograd × 3 vs hand
  const auto& unscaled = find(c, "autograd", "hand", 1.0);
  EXPECT_NEAR(unscaled.max.max_rel, 2.0 / 3.0, 1e-12);  // 1 - 1/k
  // Autograd, scaled, against the gradient backward applies: only quirk 1 (two layers below).
  const auto& applied = find(c, "applied", "hand_as_applied", 1.0);
  EXPECT_LE(applied.max.max_abs, 1e-14);
}

TEST(TutorialCompare, SaturatedSigmoidSeparatesTheLosses) {
  // Inputs large enough that |z| > 500 for some examples: the tutorial's a - y and
  // bce_with_logits's σ(z) - y keep a gradient; through a saturated sigmoid it vanishes.
  tt::NeuralNetwork<double> net({mat(2, 2, {1, 0, 0, 1}), mat(2, 1, {1, -1})}, {mat(1, 2, {0, 0}), mat(1, 1, {0})});
  const Array<double> X = mat(3, 2, {1000, 0, 0, 1000, 0.5, 0.25});
  const Array<double> y = mat(3, 1, {0, 1, 1});  // z = 1000 with y = 0; z = -1000 with y = 1
  const auto c = tt::compare_gradients(net, X, y);
  EXPECT_LE(c.headline, 1e-12);
  EXPECT_GT(find(c, "autograd_sigmoid_bce", "hand", 1.0).max.max_abs, 1.0);
  EXPECT_GT(find(c, "autograd_tutorial_loss", "hand", 1.0).max.max_abs, 1.0);
}

TEST(TutorialCompare, FloatWorksEndToEnd) {
  tt::NumpyRandomState rng(1);
  tt::NeuralNetwork<float> net({2, 4, 1}, rng);
  const auto c = tt::compare_gradients(net, Array<float>(xt::cast<float>(xor_X())), Array<float>(xt::cast<float>(xor_y())));
  EXPECT_LE(c.headline, 1e-6);
  EXPECT_GT(find(c, "applied", "hand", 1.0).max.max_abs, 1e-2);
}

TEST(TutorialCompare, DumpWritesEverySetAndReportEndsWithTheHeadline) {
  tt::NumpyRandomState rng(1);
  tt::NeuralNetwork<double> net({2, 4, 1}, rng);
  const auto c = tt::compare_gradients(net, xor_X(), xor_y());
  const auto dir = (std::filesystem::temp_directory_path() /
                    ("tapegrad_test_compare_dump_" + std::to_string(::getpid())))
                       .string();
  std::filesystem::remove_all(dir);
  tt::dump_comparison(c, dir);
  EXPECT_EQ(tapegrad::io::read_npy<double>(dir + "/X.npy"), xor_X());
  EXPECT_EQ(tapegrad::io::read_npy<double>(dir + "/initial.layers.1.weight.npy"), net.weights[1]);
  for (const auto& s : c.sets) {
    for (std::size_t i = 0; i < c.parameters.size(); ++i) {
      EXPECT_EQ(tapegrad::io::read_npy<double>(dir + "/" + s.name + "." + c.parameters[i] + ".npy"), s.grads[i]) << s.name;
    }
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/manifest.txt"));
  std::filesystem::remove_all(dir);

  const std::string report = tt::format_comparison(c, 1e-10);
  const std::string last = "max abs diff autograd vs hand-derived: ";
  const auto pos = report.rfind(last);
  ASSERT_NE(pos, std::string::npos);
  EXPECT_EQ(report.find('\n', pos), report.size() - 1);  // it is the last line
}

TEST(TutorialCompare, BadInputsThrow) {
  tt::NumpyRandomState rng(1);
  tt::NeuralNetwork<double> net({2, 4, 1}, rng);
  EXPECT_THROW(tt::compare_gradients(net, xor_X(), mat(4, 2, {0, 1, 1, 0, 0, 1, 1, 0})), tapegrad::ShapeError);
  EXPECT_THROW(tt::compare_gradients(net, mat(4, 3, std::vector<double>(12, 0.0)), xor_y()), tapegrad::ShapeError);
  tt::CompareOptions bad;
  bad.learning_rate(0);
  EXPECT_THROW(tt::compare_gradients(net, xor_X(), xor_y(), bad), tapegrad::ValueError);
}

TEST(TutorialOps, ClipAndTutorialLossPassGradcheck) {
  // Away from the clip's kinks (the gradient is not defined exactly at them).
  const auto r = tapegrad::gradcheck([](const std::vector<Var<double>>& v) { return tt::clip(v[0], -1.0, 2.0); },
                                     {mat(2, 3, {-3, -0.5, 0.1, 1.5, 2.5, 7})});
  EXPECT_TRUE(r.ok) << r.report();
  const auto l = tapegrad::gradcheck(
      [](const std::vector<Var<double>>& v) { return tt::tutorial_bce(tapegrad::sigmoid(v[0]), v[1]); },
      {mat(3, 2, {-2, 0.5, 1, 3, -0.25, 0}), mat(3, 2, {0, 1, 1, 0, 0.3, 1})});
  EXPECT_TRUE(l.ok) << l.report();
}

TEST(TutorialOps, ClipValuesAndErrors) {
  tapegrad::Tape<double> tape;
  auto x = tape.constant(Array<double>{-600.0, 0.0, 600.0});
  EXPECT_EQ(tt::clip(x, -500.0, 500.0).value(), (Array<double>{-500.0, 0.0, 500.0}));
  EXPECT_THROW(tt::clip(x, 1.0, -1.0), tapegrad::ValueError);
  auto y = tape.constant(Array<double>{1.0, 0.0});
  EXPECT_THROW(tt::tutorial_bce(x, y), tapegrad::ShapeError);
}
