// Anomaly mode, labels, and tape printing (text and DOT).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>

#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;
using tg::Array;

namespace {

// The message of the exception `f` throws as `E` (fails the test if it throws nothing or another).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "threw nothing";
  return "";
}

// A (n, 1) column: xtensor's {{a}, {b}} initializer is ambiguous.
template <class T>
Array<T> column(std::initializer_list<T> v) {
  Array<T> a = Array<T>::from_shape({v.size(), 1});
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(Anomaly, OffByDefaultAndScoped) {
  EXPECT_FALSE(tg::anomaly_enabled());
  {
    tg::AnomalyGuard on;
    EXPECT_TRUE(tg::anomaly_enabled());
    {
      tg::AnomalyGuard off(false);
      EXPECT_FALSE(tg::anomaly_enabled());
    }
    EXPECT_TRUE(tg::anomaly_enabled());
  }
  EXPECT_FALSE(tg::anomaly_enabled());
}

TEST(Anomaly, OffLetsNaNThrough) {
  tg::Tape<double> tape;
  auto x = tape.constant(Array<double>{0.0, 1.0});
  auto y = tg::log(x);  // log(0) = -inf, allowed when anomaly mode is off
  EXPECT_TRUE(std::isinf(y.value()(0)));
}

TEST(Anomaly, ForwardNamesOpLabelFileLineAndShapes) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(column<double>({1.0, -1.0}));
  auto x = tape.constant(Array<double>{{1.0, 1.0}, {2.0, 1.0}});
  tg::AnomalyGuard anomaly;
  tg::Var<double> z;
  std::string msg;
  int line = 0;
  {
    tg::Label model("model");
    z = tg::matmul(x, w);  // (2, 1): 0 and 1
    tg::Label label("loss");
    line = __LINE__ - 1;
    const std::size_t size_before = tape.size();
    msg = message_of<tg::AnomalyError>([&] { tg::log(z); });  // log(0) = -inf
    EXPECT_EQ(tape.size(), size_before) << "the failing op must leave no entry";
  }
  EXPECT_TRUE(contains(msg, "anomaly in forward")) << msg;
  EXPECT_TRUE(contains(msg, "'log'")) << msg;
  EXPECT_TRUE(contains(msg, "model/loss")) << msg;
  EXPECT_TRUE(contains(msg, "test_debug.cpp:" + std::to_string(line))) << msg;
  EXPECT_TRUE(contains(msg, "-inf")) << msg;
  EXPECT_TRUE(contains(msg, "(2, 1)")) << msg;
  EXPECT_TRUE(contains(msg, "'matmul'")) << msg;
}

TEST(Anomaly, ForwardCatchesNaNUnderNoGrad) {
  tg::Tape<float> tape;
  auto x = tape.constant(Array<float>{-1.f, 4.f});
  tg::AnomalyGuard anomaly;
  tg::NoGradGuard no_grad;
  const std::string msg = message_of<tg::AnomalyError>([&] { tg::log(x); });  // log(-1) = nan
  EXPECT_TRUE(contains(msg, "'log'") && contains(msg, "nan") && contains(msg, "(2,)")) << msg;
  EXPECT_TRUE(contains(msg, "outside any tapegrad::Label")) << msg;
}

TEST(Anomaly, ErrorIsAValueError) {
  tg::Tape<double> tape;
  auto x = tape.constant(Array<double>{0.0});
  tg::AnomalyGuard anomaly;
  EXPECT_THROW(tg::log(x), tg::ValueError);
  EXPECT_THROW(tg::log(x), tg::Error);
}

TEST(Anomaly, BackwardNamesTheOpWhoseGradientIsNotFinite) {
  // A custom op whose forward is finite and whose backward rule writes inf: the direct test of
  // the backward hook.
  tg::Tape<double> t2;
  tg::Parameter<double> q(Array<double>{1.0, 2.0});
  auto v = t2.bind(q);
  tg::Var<double> out;
  {
    tg::Label label("custom");
    tg::Op<double> op("bad_backward", {v});
    Array<double>& y = op.output(v.shape());
    y = v.value();
    out = op.finish([](tg::Backward<double>& b) {
      Array<double> g = b.grad_out();
      g(1) = std::numeric_limits<double>::infinity();
      b.accumulate(0, g);
    });
  }
  auto s = tg::sum(out);
  tg::AnomalyGuard anomaly;
  const std::string msg = message_of<tg::AnomalyError>([&] { t2.backward(s); });
  EXPECT_TRUE(contains(msg, "anomaly in backward")) << msg;
  EXPECT_TRUE(contains(msg, "'bad_backward'")) << msg;
  EXPECT_TRUE(contains(msg, "custom")) << msg;
  EXPECT_TRUE(contains(msg, "element 1")) << msg;
  EXPECT_TRUE(contains(msg, "inf")) << msg;
  EXPECT_TRUE(contains(msg, "(2,)")) << msg;
  EXPECT_EQ(t2.size(), 3u) << "a backward anomaly keeps the tape for inspection";
}

TEST(Anomaly, BackwardOfBuiltinDivByZero) {
  // y = sum(a / b) with b = 0 in one place: the forward is inf already, so anomaly mode is
  // switched on only for backward; d/da = 1/b = inf names 'div'.
  tg::Tape<double> tape;
  tg::Parameter<double> a(Array<double>{0.0, 1.0});
  tg::Parameter<double> b(Array<double>{0.0, 1.0});
  auto y = tg::div(tape.bind(a), tg::Var<double>(b));
  auto loss = tg::sum(tg::mul(y, tape.constant(Array<double>{0.0, 1.0})));  // 0 * nan = nan forward
  tg::AnomalyGuard anomaly;
  const std::string msg = message_of<tg::AnomalyError>([&] { tape.backward(loss); });
  // mul's backward gives d/dy = (0, 1): finite; div's backward gives d/da = (0/0, 1) = nan.
  EXPECT_TRUE(contains(msg, "'div'")) << msg;
  EXPECT_TRUE(contains(msg, "nan")) << msg;
}

TEST(Anomaly, CleanTrainingStepPasses) {
  tg::Rng rng(1);
  tg::nn::MLP<double> model({2, 4, 1}, rng);
  tg::Tape<double> tape;
  tg::AnomalyGuard anomaly;
  auto x = tape.constant(Array<double>{{0, 0}, {0, 1}, {1, 0}, {1, 1}});
  auto y = tape.constant(column<double>({0, 1, 1, 0}));
  auto loss = tg::bce_with_logits(model.forward(x), y);
  EXPECT_NO_THROW(tape.backward(loss));
  for (const auto& p : model.parameters()) {
    for (double g : p.grad()) EXPECT_TRUE(std::isfinite(g));
  }
}

TEST(Label, NestsAndRestores) {
  EXPECT_EQ(tg::current_label(), "");
  {
    tg::Label a("model");
    EXPECT_EQ(tg::current_label(), "model");
    {
      tg::Label b("layer1");
      EXPECT_EQ(b.path(), "model/layer1");
      EXPECT_EQ(tg::current_label(), "model/layer1");
    }
    EXPECT_EQ(tg::current_label(), "model");
  }
  EXPECT_EQ(tg::current_label(), "");
}

TEST(TapePrint, TextListsEveryEntryWithShapesBytesAndNames) {
  tg::Rng rng(0);
  tg::nn::MLP<float> model({2, 3, 1}, rng);
  tg::Tape<float> tape;
  auto x = tape.constant(Array<float>{{0, 1}, {1, 0}});
  tg::Var<float> loss;
  {
    tg::Label label("mlp");
    loss = tg::bce_with_logits(model.forward(x), tape.constant(column<float>({1, 0})));
  }
  const std::string text = tg::tape_to_string(tape, model.named_parameters());
  EXPECT_TRUE(contains(text, std::to_string(tape.size()) + " entries")) << text;
  EXPECT_TRUE(contains(text, std::to_string(tape.bytes_in_use()) + " bytes in use")) << text;
  for (std::size_t i = 0; i < tape.size(); ++i) EXPECT_TRUE(contains(text, tape.op_name(i))) << text;
  EXPECT_TRUE(contains(text, "layers.0.weight (2, 3)")) << text;
  EXPECT_TRUE(contains(text, "layers.1.bias (1, 1)")) << text;
  EXPECT_TRUE(contains(text, "(2, 3)")) << text;
  EXPECT_TRUE(contains(text, "mlp (test_debug.cpp:")) << text;
  // One line per entry, plus the title and the header.
  EXPECT_EQ(std::size_t(std::count(text.begin(), text.end(), '\n')), tape.size() + 2);
  // The first linear holds its (2, 3) float output: 24 bytes.
  EXPECT_TRUE(contains(text, "24")) << text;
}

TEST(TapePrint, DotHasANodePerEntryAndAnEdgePerInput) {
  tg::Rng rng(0);
  tg::nn::MLP<double> model({2, 3, 1}, rng);
  tg::Tape<double> tape;
  auto x = tape.constant(Array<double>{{0, 1}});
  auto out = model.forward(x);
  (void)out;
  const std::string dot = tg::tape_to_dot(tape, model.named_parameters());
  EXPECT_EQ(dot.rfind("digraph tape {", 0), 0u) << dot;
  // entries: constant, linear, relu, linear = 4 boxes; 4 parameters; edges: 3 + 1 + 3 = 7.
  std::size_t boxes = 0, ellipses = 0, edges = 0;
  for (std::size_t pos = 0; (pos = dot.find("shape=box", pos)) != std::string::npos; ++pos) ++boxes;
  for (std::size_t pos = 0; (pos = dot.find("shape=ellipse", pos)) != std::string::npos; ++pos) ++ellipses;
  for (std::size_t pos = 0; (pos = dot.find(" -> ", pos)) != std::string::npos; ++pos) ++edges;
  EXPECT_EQ(boxes, tape.size());
  EXPECT_EQ(ellipses, 4u);
  EXPECT_EQ(edges, 7u);
  EXPECT_TRUE(contains(dot, "layers.1.weight")) << dot;
}

TEST(TapePrint, EmptyTape) {
  tg::Tape<float> tape;
  const std::string text = tg::tape_to_string(tape);
  EXPECT_TRUE(contains(text, "0 entries")) << text;
  EXPECT_TRUE(contains(tg::tape_to_dot(tape), "}")) << text;
}

TEST(TapePrint, ConstantsCarryTheirLabelAndReusedEntriesForgetOldOnes) {
  tg::Tape<float> tape;
  {
    tg::Label label("inputs");
    tape.constant(Array<float>{1.f});
  }
  EXPECT_TRUE(contains(tg::tape_to_string(tape), "inputs (test_debug.cpp:")) << tg::tape_to_string(tape);
  tape.clear();
  tape.constant(Array<float>{1.f});  // reuses entry 0's storage, outside any label
  EXPECT_FALSE(contains(tg::tape_to_string(tape), "inputs (")) << tg::tape_to_string(tape);
}
