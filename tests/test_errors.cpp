// Every bad input of docs/errors.md: the kind of error, the key words of its message, and that
// nothing changed (parameters, their gradients, the tape). Numbered as in docs/errors.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <typeinfo>
#include <vector>

#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;
using tg::Array;
using tg::Parameter;
using tg::Var;

namespace {

// What "nothing changed" compares: parameter values and gradients, and the tape's entries.
struct Snapshot {
  std::vector<Array<double>> values, grads;
  std::vector<bool> has_grad;
  std::size_t tape_size = 0;
  std::uint32_t generation = 0;
  std::size_t bytes = 0;
  bool compare_bytes = true;

  Snapshot(const std::vector<Parameter<double>>& params, const tg::Tape<double>& tape)
      : tape_size(tape.size()), generation(tape.generation()), bytes(tape.bytes_in_use()) {
    for (const auto& p : params) {
      values.push_back(p.value());
      has_grad.push_back(p.node().has_grad);
      grads.push_back(p.node().has_grad ? p.node().grad : Array<double>());
    }
  }
  bool operator==(const Snapshot& o) const {
    return values == o.values && grads == o.grads && has_grad == o.has_grad && tape_size == o.tape_size &&
           generation == o.generation && (bytes == o.bytes || !compare_bytes);
  }
};

class Errors : public ::testing::Test {
 protected:
  // Runs f, which must throw exactly Kind with every word of `words` in its message, and leave the
  // parameters and the tape as they were.
  template <class Kind, class F>
  void expect(F&& f, std::initializer_list<std::string> words) {
    Snapshot before(params, tape);
    before.compare_bytes = compare_bytes;
    std::string msg;
    bool thrown = false;
    try {
      f();
    } catch (const tg::Error& e) {
      thrown = true;
      msg = e.what();
      EXPECT_EQ(typeid(e), typeid(Kind)) << "wrong kind of error, message: " << msg;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw a non-tapegrad exception: " << e.what();
      return;
    }
    ASSERT_TRUE(thrown) << "no error thrown";
    for (const auto& w : words) EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' missing in: " << msg;
    EXPECT_TRUE(before == Snapshot(params, tape)) << "state changed by a failing call: " << msg;
  }

  bool compare_bytes = true;  // false where a failed backward may leave gradient buffers on the tape
  tg::Tape<double> tape;
  Parameter<double> w{Array<double>{{1, 2, 3}, {4, 5, 6}}};  // (2, 3)
  Parameter<double> b{Array<double>{{0.5, 0.5, 0.5}}};      // (1, 3)
  std::vector<Parameter<double>> params{w, b};
  Var<double> x = tape.constant(Array<double>{{1, 2}, {3, 4}, {5, 6}, {7, 8}});  // (4, 2)
};

}  // namespace

// ---- 1-12: shape mismatches name the op and both shapes -----------------------------------------

TEST_F(Errors, E01_MatmulInnerDimensions) {
  auto a = tape.constant(Array<double>::from_shape({4, 3}));
  expect<tg::ShapeError>([&] { tg::matmul(a, w); }, {"matmul", "(4, 3)", "(2, 3)", "inner dimensions"});
}

TEST_F(Errors, E02_MatmulNot2D) {
  auto v = tape.constant(Array<double>{1, 2});
  expect<tg::ShapeError>([&] { tg::matmul(v, w); }, {"matmul", "(2,)", "(2, 3)", "2-D"});
}

TEST_F(Errors, E03_LinearFeatures) {
  auto a = tape.constant(Array<double>::from_shape({4, 5}));
  expect<tg::ShapeError>([&] { tg::linear(a, w, b); }, {"linear", "(4, 5)", "(2, 3)", "(in, out)"});
}

TEST_F(Errors, E04_LinearBias) {
  Parameter<double> bad(Array<double>{1.0, 2.0});
  params.push_back(bad);
  expect<tg::ShapeError>([&] { tg::linear(x, w, bad); }, {"linear", "bias", "(2,)", "(2, 3)"});
}

TEST_F(Errors, E05_AddBroadcast) {
  auto a = tape.constant(Array<double>::from_shape({4, 3}));
  expect<tg::ShapeError>([&] { tg::add(x, a); }, {"add", "(4, 2)", "(4, 3)", "broadcast"});
}

TEST_F(Errors, E06_SubBroadcast) {
  auto a = tape.constant(Array<double>::from_shape({3, 2}));
  expect<tg::ShapeError>([&] { x - a; }, {"sub", "(4, 2)", "(3, 2)"});
}

TEST_F(Errors, E07_MulBroadcast) {
  expect<tg::ShapeError>([&] { tg::mul(x, Var<double>(w)); }, {"mul", "(4, 2)", "(2, 3)"});
}

TEST_F(Errors, E08_DivBroadcast) {
  auto a = tape.constant(Array<double>{1, 2, 3});
  expect<tg::ShapeError>([&] { x / a; }, {"div", "(4, 2)", "(3,)"});
}

TEST_F(Errors, E09_BceShapes) {
  auto p = tape.constant(Array<double>::from_shape({4, 1}));
  expect<tg::ShapeError>([&] { tg::bce(p, x); }, {"bce", "(4, 1)", "(4, 2)"});
}

TEST_F(Errors, E10_BceWithLogitsShapes) {
  auto y = tape.constant(Array<double>::from_shape({4}));
  expect<tg::ShapeError>([&] { tg::bce_with_logits(x, y); }, {"bce_with_logits", "(4, 2)", "(4,)"});
}

TEST_F(Errors, E11_MseShapes) {
  auto y = tape.constant(Array<double>::from_shape({2, 4}));
  expect<tg::ShapeError>([&] { tg::mse(x, y); }, {"mse", "(4, 2)", "(2, 4)"});
}

TEST_F(Errors, E12_ReductionAxisOutOfRange) {
  expect<tg::ShapeError>([&] { tg::sum(x, 2); }, {"sum", "axis 2", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::mean(x, -3); }, {"mean", "axis -3", "(4, 2)"});
}

// ---- 13-18: bad values -----------------------------------------------------------------------------

TEST_F(Errors, E13_BceProbabilityOutOfRange) {
  auto p = tape.constant(Array<double>{0.5, 1.5});
  auto y = tape.constant(Array<double>{0.0, 1.0});
  expect<tg::ValueError>([&] { tg::bce(p, y); }, {"bce", "[0, 1]", "element 1", "1.5", "bce_with_logits"});
}

TEST_F(Errors, E14_BceNaNPrediction) {
  auto p = tape.constant(Array<double>{0.5, std::nan("")});
  auto y = tape.constant(Array<double>{0.0, 1.0});
  expect<tg::ValueError>([&] { tg::bce(p, y); }, {"bce", "element 1", "nan"});
}

TEST_F(Errors, E15_EmptyBatch) {
  auto e = tape.constant(Array<double>::from_shape({0, 1}));
  expect<tg::ValueError>([&] { tg::bce_with_logits(e, e); }, {"bce_with_logits", "empty", "(0, 1)"});
  expect<tg::ValueError>([&] { tg::mse(e, e); }, {"mse", "empty"});
  expect<tg::ValueError>([&] { tg::mean(e); }, {"mean", "empty", "(0, 1)"});
  expect<tg::ValueError>([&] { tg::mean(e, 0); }, {"mean", "extent 0", "(0, 1)"});
}

TEST_F(Errors, E16_DivisionByScalarZero) {
  expect<tg::ValueError>([&] { x / 0.0; }, {"div", "(4, 2)", "scalar 0"});
}

TEST_F(Errors, E17_ItemOfNonScalar) {
  expect<tg::ValueError>([&] { x.item(); }, {"item", "(4, 2)", "one element"});
}

TEST_F(Errors, E18_OpWithTooManyInputs) {
  expect<tg::ValueError>(
      [&] {
        tg::Op<double> op("five", {x, x, x, x, x});
      },
      {"five", "5 inputs", "at most 4"});
}

// ---- 19-30: the tape used in a state that does not allow it -------------------------------------

TEST_F(Errors, E19_BackwardOnNonScalar) {
  auto y = tg::linear(x, w, b);
  expect<tg::StateError>([&] { tape.backward(y); }, {"backward", "'linear'", "(4, 3)", "seed"});
}

TEST_F(Errors, E20_BackwardSeedShape) {
  auto y = tg::linear(x, w, b);
  expect<tg::ShapeError>([&] { tape.backward(y, Array<double>::from_shape({3, 4})); },
                         {"backward", "seed", "(3, 4)", "(4, 3)"});
}

TEST_F(Errors, E21_SecondBackwardWithoutKeepGraph) {
  auto loss = tg::sum(tg::linear(x, w, b));
  tape.backward(loss);
  expect<tg::StateError>([&] { tape.backward(loss); }, {"backward", "freed by backward()", "keep_graph"});
}

TEST_F(Errors, E22_HandleFromClearedTape) {
  auto y = tg::relu(x);
  tape.clear();
  x = tape.constant(Array<double>{{1, 2}});
  expect<tg::StateError>([&] { y.value(); }, {"cleared tape", "generation"});
  expect<tg::StateError>([&] { tg::add(x, y); }, {"add", "cleared tape"});
}

TEST_F(Errors, E23_GradOfNonLeaf) {
  auto y = tg::linear(x, w, b);
  expect<tg::StateError>([&] { y.grad(); }, {"grad", "'linear'", "not a leaf"});
}

TEST_F(Errors, E24_BackwardOfConstant) {
  auto y = tg::sum(x);
  expect<tg::StateError>([&] { tape.backward(y); }, {"backward", "'sum'", "does not depend on any parameter"});
}

TEST_F(Errors, E25_BackwardOnUnboundParameter) {
  expect<tg::StateError>([&] { w.backward(); }, {"backward", "parameter", "not bound to a tape"});
}

TEST_F(Errors, E26_InputsOnTwoTapes) {
  tg::Tape<double> other;
  auto z = other.constant(Array<double>{{1, 2}, {3, 4}, {5, 6}, {7, 8}});
  expect<tg::StateError>([&] { tg::add(x, z); }, {"add", "another tape"});
  EXPECT_EQ(other.size(), 1u);
}

TEST_F(Errors, E27_UndefinedVar) {
  Var<double> undefined;
  expect<tg::StateError>([&] { tg::add(x, undefined); }, {"add", "undefined Var"});
}

TEST_F(Errors, E28_UndefinedParameter) {
  Parameter<double> undefined;
  expect<tg::StateError>([&] { undefined.value(); }, {"Parameter", "undefined"});
}

TEST_F(Errors, E29_OpOnParametersOnly) {
  expect<tg::StateError>([&] { tg::mul(Var<double>(w), Var<double>(w)); }, {"mul", "no input is on a tape", "tape.param"});
}

TEST_F(Errors, E30_TapeIndexOutOfRange) {
  expect<tg::ValueError>([&] { tape.op_name(7); }, {"op_name", "7", "size 1"});
}

TEST_F(Errors, E31_CustomBackwardWrongGradientShape) {
  // A bug in a user-defined op's backward rule is an InternalError naming the op and both shapes.
  Parameter<double> p(Array<double>{1.0, 2.0});
  auto v = tape.param(p);
  Var<double> y;
  {
    tg::Op<double> op("my_op", {v});
    op.output(v.shape()) = v.value();
    y = op.finish([](tg::Backward<double>& g) { g.accumulate(0, Array<double>{1.0, 2.0, 3.0}); });
  }
  auto loss = tg::sum(y);
  params.push_back(p);
  compare_bytes = false;  // the tape is kept, with the output gradients computed so far
  expect<tg::InternalError>([&] { tape.backward(loss); }, {"backward of 'my_op'", "(3,)", "(2,)"});
}

// ---- 32-40: modules, optimizers, utilities ---------------------------------------------------------

TEST_F(Errors, E32_LearningRateNotPositive) {
  expect<tg::ValueError>([&] { tg::optim::SGD<double> opt(params, 0.0); }, {"SGD", "lr", "positive", "0"});
  expect<tg::ValueError>([&] { tg::optim::SGD<double> opt(params, -0.1); }, {"SGD", "-0.1"});
  expect<tg::ValueError>([&] { tg::optim::SGD<double> opt(params, std::nan("")); }, {"SGD", "nan"});
}

TEST_F(Errors, E33_SetLearningRateKeepsTheOldOne) {
  tg::optim::SGD<double> opt(params, 0.1);
  expect<tg::ValueError>([&] { opt.set_learning_rate(0); }, {"SGD", "lr"});
  EXPECT_EQ(opt.learning_rate(), 0.1);
}

TEST_F(Errors, E34_LinearZeroFeatures) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::Linear<double> l(tg::nn::LinearOptions(0, 3), rng); },
                         {"Linear", "positive", "(0, 3)"});
}

TEST_F(Errors, E35_MlpTooFewSizes) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::MLP<double> m({4}, rng); }, {"MLP", "two layer sizes", "got 1"});
}

TEST_F(Errors, E36_BiasOfALayerWithout) {
  tg::Rng rng(0);
  tg::nn::Linear<double> l(tg::nn::LinearOptions(2, 3).bias(false), rng);
  expect<tg::ValueError>([&] { l.bias(); }, {"no parameter named 'bias'"});
}

TEST_F(Errors, E37_ModuleListForward) {
  tg::nn::ModuleList<double> list;
  expect<tg::StateError>([&] { list.forward(x); }, {"ModuleList", "no forward"});
}

TEST_F(Errors, E38_RngEmptyRange) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { rng.uniform<double>({2}, 1.0, 1.0); }, {"uniform", "empty range"});
  expect<tg::ValueError>([&] { rng.below(0); }, {"below", "positive"});
}

TEST_F(Errors, E39_GradcheckFlags) {
  expect<tg::ValueError>(
      [&] {
        tg::GradcheckOptions o;
        o.requires_grad = {true};
        tg::gradcheck([](const std::vector<Var<double>>& v) { return tg::add(v[0], v[1]); },
                      {Array<double>{1.0}, Array<double>{2.0}}, o);
      },
      {"gradcheck", "1 flags", "2 inputs"});
}

TEST_F(Errors, E40_OptimizerStepAfterParameterReshaped) {
  // The gradient (and optimizer state) no longer match the value: a step would read past the
  // gradient's end. It throws before updating any parameter.
  tg::optim::SGD<double> opt(params, tg::optim::SGDOptions(0.1).momentum(0.9));
  auto loss = tg::sum(tg::linear(x, w, b));
  tape.backward(loss);
  Parameter<double> w2 = w;
  w2.value() = Array<double>::from_shape({4, 3});
  w2.value().fill(1.0);
  expect<tg::ShapeError>([&] { opt.step(); }, {"SGD", "parameter 0", "(4, 3)", "(2, 3)"});
  EXPECT_EQ(opt.step_count(), 0u);
}

TEST_F(Errors, E41_OptimizerDuplicateParameter) {
  expect<tg::ValueError>([&] { tg::optim::SGD<double> opt({w, w}, 0.1); }, {"SGD", "same parameter"});
}

TEST_F(Errors, E42_AnomalyMode) {
  tg::AnomalyGuard anomaly;
  auto z = tape.constant(Array<double>{0.0, 1.0});
  expect<tg::AnomalyError>([&] { tg::log(z); }, {"anomaly", "'log'", "-inf", "(2,)"});
}

TEST(ErrorKinds, AreCatchableAsErrorAndRuntimeError) {
  tg::Tape<float> tape;
  auto a = tape.constant(Array<float>{1.f, 2.f});
  auto c = tape.constant(Array<float>{1.f, 2.f, 3.f});
  EXPECT_THROW(tg::add(a, c), tg::Error);
  EXPECT_THROW(tg::add(a, c), std::runtime_error);
  EXPECT_THROW(tg::add(a, c), tg::ShapeError);
  // Each kind is a distinct class: a ShapeError is not a ValueError.
  EXPECT_FALSE((std::is_base_of_v<tg::ValueError, tg::ShapeError>));
  EXPECT_TRUE((std::is_base_of_v<tg::ValueError, tg::AnomalyError>));
  EXPECT_TRUE((std::is_base_of_v<tg::Error, tg::IoError>));
}
