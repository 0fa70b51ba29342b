// The tape's invariants: reverse-order backward, fan-out accumulation, zero_grad, no_grad,
// seeds, freeing, stale handles, keeping the tape, and flat memory over many steps.
#include <gtest/gtest.h>

#include <stdexcept>

#include "tapegrad/ops.hpp"
#include "tapegrad/tape.hpp"

namespace tg = tapegrad;
using tg::Array;

namespace {
Array<double> row(std::initializer_list<double> v) {
  Array<double> a = v;
  a.reshape({1, v.size()});
  return a;
}
}  // namespace

TEST(Tape, RecordsOpsInExecutionOrder) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({1, 2}));
  auto x = tape.constant(row({3, 4}));
  auto y = tg::mul(x, w);
  auto z = tg::sum(tg::relu(y));
  ASSERT_EQ(tape.size(), 4u);
  EXPECT_STREQ(tape.op_name(0), "constant");
  EXPECT_STREQ(tape.op_name(1), "mul");
  EXPECT_STREQ(tape.op_name(2), "relu");
  EXPECT_STREQ(tape.op_name(3), "sum");
  EXPECT_DOUBLE_EQ(z.item(), 11.0);
}

TEST(Tape, BackwardComputesLeafGradientsAndClears) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({1, -2}));
  auto x = tape.constant(row({3, 4}));
  auto loss = tg::sum(tg::mul(x, w));
  tape.backward(loss);
  EXPECT_EQ(tape.size(), 0u);
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 3.0);
  EXPECT_DOUBLE_EQ(w.grad()(0, 1), 4.0);
}

TEST(Tape, ConstantsCarryNoGradient) {
  tg::Tape<double> tape;
  auto x = tape.constant(row({1, 2}));
  EXPECT_FALSE(x.requires_grad());
  auto y = tg::sum(tg::exp(x));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THROW(tape.backward(y), tg::StateError);
}

TEST(Tape, FanOutAccumulates) {
  // y = w*w + w, so dy/dw = 2w + 1: three uses of w, one gradient.
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({3}));
  auto wv = tape.param(w);
  auto y = tg::sum(tg::add(tg::mul(wv, wv), wv));
  tape.backward(y);
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 7.0);
}

TEST(Tape, FanOutOfAnIntermediateValue) {
  // h = relu(w·x) used twice: loss = sum(h * h). dloss/dw = 2 h x where h > 0.
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({2, -1}));
  auto x = tape.constant(row({3, 5}));
  auto h = tg::relu(tg::mul(x, w));  // (6, 0): the second is cut by relu
  auto loss = tg::sum(tg::mul(h, h));
  tape.backward(loss);
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 2 * 6.0 * 3.0);
  EXPECT_DOUBLE_EQ(w.grad()(0, 1), 0.0);
}

TEST(Tape, GradientsAccumulateAcrossBackwardsUntilZeroGrad) {
  tg::Parameter<double> w(row({2}));
  tg::Tape<double> tape;
  for (int i = 0; i < 3; ++i) {
    auto x = tape.constant(row({5}));
    tape.backward(tg::sum(tg::mul(x, w)));
  }
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 15.0);
  w.zero_grad();
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 0.0);
  auto x = tape.constant(row({5}));
  tape.backward(tg::sum(tg::mul(x, w)));
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 5.0);
}

TEST(Tape, NoGradRecordsNoBackward) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({2, 3}));
  auto x = tape.constant(row({1, 1}));
  tg::Var<double> y;
  {
    tg::NoGradGuard no_grad;
    EXPECT_FALSE(tg::grad_enabled());
    y = tg::sum(tg::mul(x, w));
  }
  EXPECT_TRUE(tg::grad_enabled());
  EXPECT_DOUBLE_EQ(y.item(), 5.0);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THROW(tape.backward(y), tg::StateError);
}

TEST(Tape, NoGradGuardsNest) {
  {
    tg::NoGradGuard outer;
    {
      tg::NoGradGuard inner;
      EXPECT_FALSE(tg::grad_enabled());
    }
    EXPECT_FALSE(tg::grad_enabled());
  }
  EXPECT_TRUE(tg::grad_enabled());
}

TEST(Tape, NonScalarBackwardNeedsASeed) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({1, 2}));
  auto x = tape.constant(row({3, 4}));
  auto y = tg::mul(x, w);
  try {
    tape.backward(y);
    FAIL() << "expected StateError";
  } catch (const tg::StateError& e) {
    EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(1, 2)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(tape.size(), 2u);  // constant and mul: nothing was freed by the failed call
  EXPECT_THROW(tape.backward(y, Array<double>({1.0, 1.0})), tg::ShapeError);
  tape.backward(y, row({10, 100}));
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 30.0);
  EXPECT_DOUBLE_EQ(w.grad()(0, 1), 400.0);
}

TEST(Tape, HandleIntoClearedTapeIsReported) {
  tg::Tape<double> tape;
  auto x = tape.constant(row({1, 2}));
  tape.clear();
  try {
    (void)x.value();
    FAIL() << "expected StateError";
  } catch (const tg::StateError& e) {
    EXPECT_NE(std::string(e.what()).find("cleared"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tg::relu(x), tg::StateError);
}

TEST(Tape, SecondBackwardWithoutKeepingIsReported) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({2}));
  auto loss = tg::sum(tg::mul(tape.constant(row({3})), w));
  tape.backward(loss);
  try {
    tape.backward(loss);
    FAIL() << "expected StateError";
  } catch (const tg::StateError& e) {
    EXPECT_NE(std::string(e.what()).find("keep_graph"), std::string::npos) << e.what();
  }
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 3.0);  // unchanged by the failed call
}

TEST(Tape, KeepGraphAllowsASecondBackward) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({2}));
  auto h = tg::relu(tg::mul(tape.constant(row({3})), w));
  auto loss = tg::sum(tg::mul(h, h));  // 36 w^2/4... d/dw = 2 * 6 * 3 = 36
  tape.backward(loss, tg::BackwardOptions{true});
  EXPECT_EQ(tape.size(), 5u);
  EXPECT_DOUBLE_EQ(loss.item(), 36.0);
  tape.backward(loss);
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 72.0);  // accumulated twice, intermediates restarted at zero
  EXPECT_EQ(tape.size(), 0u);
}

TEST(Tape, HandlesFromAnotherTapeAreRejected) {
  tg::Tape<double> a, b;
  auto x = a.constant(row({1}));
  auto y = b.constant(row({2}));
  EXPECT_THROW(tg::add(x, y), tg::StateError);
}

TEST(Tape, OpsOnParametersAloneNeedABoundTape) {
  tg::Parameter<double> w(row({1, 2}));
  EXPECT_THROW(tg::relu(w), tg::StateError);
  tg::Tape<double> tape;
  auto y = tg::sum(tg::relu(tape.param(w)));
  tape.backward(y);
  EXPECT_DOUBLE_EQ(w.grad()(0, 1), 1.0);
}

TEST(Tape, FailedOpLeavesTheTapeAsItWas) {
  tg::Tape<double> tape;
  auto a = tape.constant(row({1, 2, 3}));
  auto b = tape.constant(row({1, 2}));
  const auto before = tape.size();
  EXPECT_THROW(tg::add(a, b), tg::ShapeError);
  EXPECT_THROW(tg::bce(a, a), tg::ValueError);  // 2 and 3 are not probabilities
  EXPECT_EQ(tape.size(), before);
}

TEST(Tape, OpWithADeadHandleLeavesNoEntry) {
  // Op records its entry before it checks the inputs (one pass); a bad handle must pop it again.
  tg::Tape<double> tape, other;
  auto stale = tape.constant(row({1, 2}));
  tape.clear();
  auto x = tape.constant(row({3, 4}));
  auto elsewhere = other.constant(row({5, 6}));
  EXPECT_THROW(tg::add(x, stale), tg::StateError);
  EXPECT_THROW(tg::add(x, elsewhere), tg::StateError);
  EXPECT_THROW(tg::add(x, tg::Var<double>()), tg::StateError);
  EXPECT_EQ(tape.size(), 1u);
  tg::Parameter<double> w(row({2, 2}));
  auto loss = tg::sum(tg::mul(x, w));  // the tape still works, and indices line up
  EXPECT_EQ(tape.size(), 3u);
  tape.backward(loss);
  EXPECT_DOUBLE_EQ(w.grad()(0, 1), 4.0);
}

namespace {
bool g_rule_throws = false;  // read by the capture-free rule below
}  // namespace

TEST(Tape, BackwardAfterAThrowingRuleStartsFromZero) {
  // A rule that throws leaves the tape uncleared with some gradients written; the next
  // backward must not add to them.
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({2}));
  auto h = tg::mul(tape.constant(row({3})), w);
  auto boom = [](const tg::Var<double>& v) {
    tg::Op<double> op("boom", {v});
    op.output(v.shape()) = v.value();
    return op.finish([](tg::Backward<double>& b) {
      if (g_rule_throws) throw std::runtime_error("boom");
      b.accumulate(0, b.grad_out());
    });
  };
  auto loss = tg::sum(tg::add(boom(h), h));  // 2·3·w: d/dw = 6
  g_rule_throws = true;
  EXPECT_THROW(tape.backward(loss), std::runtime_error);  // after add wrote h's gradient
  g_rule_throws = false;
  tape.backward(loss);
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 6.0);
}

TEST(Tape, GradOfANonLeafIsAnError) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({2}));
  auto y = tg::relu(tape.param(w));
  EXPECT_THROW((void)y.grad(), tg::StateError);
}

TEST(Tape, FrozenParametersGetNoGradient) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({2})), v(row({3}));
  v.set_requires_grad(false);
  tape.backward(tg::sum(tg::mul(tape.param(w), v)));
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 3.0);
  EXPECT_DOUBLE_EQ(v.grad()(0, 0), 0.0);
}

TEST(Tape, MemoryIsFlatOverManySteps) {
  tg::Tape<float> tape;
  tg::Parameter<float> w(xt::ones<float>({8, 8}));
  Array<float> x = xt::ones<float>({16, 8});
  std::size_t pooled_after_warmup = 0;
  for (int step = 0; step < 2000; ++step) {
    auto h = tg::sigmoid(tg::matmul(tape.constant(x), w));
    tape.backward(tg::mean(h));
    EXPECT_EQ(tape.size(), 0u);
    if (step == 10) pooled_after_warmup = tape.bytes_pooled();
  }
  EXPECT_GT(pooled_after_warmup, 0u);
  EXPECT_EQ(tape.bytes_pooled(), pooled_after_warmup);
  EXPECT_EQ(tape.bytes_in_use(), 0u);
}

TEST(Tape, ReleaseMemoryEmptiesThePool) {
  tg::Tape<float> tape;
  tg::Parameter<float> w(xt::ones<float>({4, 4}));
  tape.backward(tg::sum(tg::matmul(tape.constant(xt::ones<float>({2, 4})), w)));
  EXPECT_GT(tape.bytes_pooled(), 0u);
  tape.release_memory();
  EXPECT_EQ(tape.bytes_pooled(), 0u);
}

TEST(Tape, ParameterCopiesShareTheirValue) {
  tg::Parameter<float> a(xt::zeros<float>({2}));
  tg::Parameter<float> b = a;
  b.value()(1) = 5.f;
  EXPECT_FLOAT_EQ(a.value()(1), 5.f);
  EXPECT_TRUE(a.same(b));
  EXPECT_FALSE(tg::Parameter<float>().defined());
  EXPECT_THROW((void)tg::Parameter<float>().value(), tg::StateError);
}

TEST(Tape, ItemNeedsOneElement) {
  tg::Tape<double> tape;
  EXPECT_THROW((void)tape.constant(row({1, 2})).item(), tg::ValueError);
}
