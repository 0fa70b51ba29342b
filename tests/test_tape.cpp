// The tape's invariants: reverse-order backward, fan-out accumulation, zero_grad, no_grad,
// seeds, freeing, stale handles, keeping the tape, and flat memory over many steps.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/losses.hpp"
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
  auto wv = tape.bind(w);
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
  auto y = tg::sum(tg::relu(tape.bind(w)));
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
  auto y = tg::relu(tape.bind(w));
  EXPECT_THROW((void)y.grad(), tg::StateError);
}

TEST(Tape, FrozenParametersGetNoGradient) {
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({2})), v(row({3}));
  v.set_requires_grad(false);
  tape.backward(tg::sum(tg::mul(tape.bind(w), v)));
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
  b.mutable_value()(1) = 5.f;
  EXPECT_FLOAT_EQ(a.value()(1), 5.f);
  EXPECT_TRUE(a.same(b));
  EXPECT_FALSE(tg::Parameter<float>().defined());
  EXPECT_THROW((void)tg::Parameter<float>().value(), tg::StateError);
}

TEST(Tape, ItemNeedsOneElement) {
  tg::Tape<double> tape;
  EXPECT_THROW((void)tape.constant(row({1, 2})).item(), tg::ValueError);
}

// ---- handles never read freed memory ---------------------------------------------------------

namespace {
tg::Var<double> value_of_a_local_tape() {
  tg::Tape<double> local;
  return tg::exp(local.constant(row({1, 2})));
}  // the tape dies here; the handle survives it
}  // namespace

TEST(TapeSafety, HandleOutlivingItsTapeIsReported) {
  tg::Var<double> v = value_of_a_local_tape();
  EXPECT_THROW(v.value(), tg::StateError);
  try {
    v.shape();
  } catch (const tg::StateError& e) {
    EXPECT_NE(std::string(e.what()).find("tape this value was recorded on was destroyed"), std::string::npos)
        << e.what();
  }
  // A new tape may take the dead tape's place in the handle table: the old handle must still
  // not read it.
  tg::Tape<double> next;
  auto fresh = next.constant(row({5, 6}));
  EXPECT_THROW(v.value(), tg::StateError);
  EXPECT_THROW(tg::add(fresh, v), tg::StateError);
  EXPECT_EQ(next.size(), 1u);
  tg::Parameter<double> p(row({7}));  // or a parameter
  EXPECT_THROW(v.value(), tg::StateError);
}

TEST(TapeSafety, HandleToADestroyedParameterIsReported) {
  tg::Tape<double> tape;
  tg::Var<double> copy;
  {
    tg::Parameter<double> p(row({1, 2}));
    copy = p;
    EXPECT_DOUBLE_EQ(copy.value()(0, 1), 2.0);
  }
  EXPECT_THROW(copy.value(), tg::StateError);
  EXPECT_THROW(tg::add(tape.constant(row({1, 1})), copy), tg::StateError);
  EXPECT_EQ(tape.size(), 1u);  // the failed op left no entry
  tg::Parameter<double> other(row({9, 9}));  // may reuse the slot: still detected
  EXPECT_THROW(copy.value(), tg::StateError);
}

TEST(TapeSafety, ParameterDestroyedBeforeBackwardIsReported) {
  tg::Tape<float> tape;
  auto x = tape.constant(tg::Array<float>{1.f, 2.f});
  tg::Var<float> loss;
  {
    tg::Parameter<float> w(tg::Array<float>{3.f, 4.f});
    loss = tg::sum(tg::mul(x, w));
  }
  try {
    tape.backward(loss);
    ADD_FAILURE() << "backward through a destroyed parameter did not throw";
  } catch (const tg::StateError& e) {
    EXPECT_NE(std::string(e.what()).find("destroyed before backward"), std::string::npos) << e.what();
  }
  // The same with a temporary parameter, and with a bound one.
  auto y = tg::sum(tg::mul(x, tg::Parameter<float>(tg::Array<float>{1.f, 1.f})));
  EXPECT_THROW(tape.backward(y), tg::StateError);
  tape.clear();
  tg::Var<float> bound;
  {
    tg::Parameter<float> w(tg::Array<float>{1.f});
    bound = tape.bind(w);
  }
  EXPECT_THROW(tg::relu(bound), tg::StateError);
}

// Inputs hold 0.5, a valid value for every op below (a target of bce_with_logits must lie in [0, 1]).
static Array<double> half(std::size_t r, std::size_t c) { return Array<double>(xt::ones<double>({r, c}) * 0.5); }

// Every op that read a parameter refuses a backward after the parameter's value was replaced,
// whatever its new shape (same element count, another shape: the case that overflowed the heap).
TEST(TapeSafety, ValueReplacedBetweenForwardAndBackwardIsReported) {
  using Fn = std::function<tg::Var<double>(const tg::Var<double>&, tg::Tape<double>&)>;
  const std::vector<std::pair<const char*, Fn>> ops = {
      {"mul", [](const auto& w, auto& t) { return tg::sum(tg::mul(t.constant(half(4, 3)), w)); }},
      {"add", [](const auto& w, auto& t) { return tg::sum(tg::add(t.constant(half(4, 3)), w)); }},
      {"div", [](const auto& w, auto& t) { return tg::sum(tg::div(t.constant(half(4, 3)), w)); }},
      {"relu", [](const auto& w, auto&) { return tg::sum(tg::relu(w)); }},
      {"log", [](const auto& w, auto&) { return tg::sum(tg::log(w)); }},
      {"sum axis", [](const auto& w, auto&) { return tg::sum(tg::sum(w, 0)); }},
      {"mean axis", [](const auto& w, auto&) { return tg::sum(tg::mean(w, 1)); }},
      {"softmax", [](const auto& w, auto&) { return tg::sum(tg::mul(tg::softmax(w), tg::softmax(w))); }},
      {"log_softmax", [](const auto& w, auto&) { return tg::sum(tg::log_softmax(w)); }},
      {"cross entropy", [](const auto& w, auto&) { return tg::softmax_cross_entropy(w, {0, 1, 2, 0}); }},
      {"bce_with_logits",
       [](const auto& w, auto& t) { return tg::bce_with_logits(w, t.constant(half(4, 3))); }},
      {"mse", [](const auto& w, auto& t) { return tg::mse(w, t.constant(half(4, 3))); }},
      {"linear", [](const auto& w, auto& t) { return tg::sum(tg::linear(t.constant(half(2, 4)), w)); }},
  };
  for (const auto& [name, f] : ops) {
    tg::Tape<double> tape;
    tg::Parameter<double> w(Array<double>(xt::ones<double>({4, 3}) * 0.5));
    auto loss = f(tape.bind(w), tape);
    w.mutable_value() = Array<double>(xt::ones<double>({3, 4}));  // same 12 elements, another shape
    try {
      tape.backward(loss);
      ADD_FAILURE() << name << ": no error";
    } catch (const tg::StateError& e) {
      EXPECT_NE(std::string(e.what()).find("was modified"), std::string::npos) << name << ": " << e.what();
    }
    EXPECT_FALSE(w.has_grad()) << name;
  }
}

TEST(TapeSafety, ReadingAGradientChangesNothing) {
  tg::Parameter<double> p(row({1}));
  EXPECT_FALSE(p.has_grad());
  EXPECT_DOUBLE_EQ(p.grad()(0, 0), 0.0);  // reads zeros...
  EXPECT_FALSE(p.has_grad());             // ...and still has no gradient
  tg::Var<double> as_var = p;
  EXPECT_DOUBLE_EQ(as_var.grad()(0, 0), 0.0);
  EXPECT_FALSE(p.has_grad());
  p.mutable_grad()(0, 0) = 2.0;  // writing is what counts as a gradient
  EXPECT_TRUE(p.has_grad());
  p.zero_grad();
  EXPECT_FALSE(p.has_grad());
}

TEST(TapeSafety, GradTargetCountsAsWritten) {
  // A custom op whose rule writes through grad_target and nothing else: the gradient arrives.
  tg::Tape<double> tape;
  tg::Parameter<double> w(row({1, 1}));
  tg::Op<double> op("twice", {tape.bind(w)});
  tg::Array<double>& y = op.output(w.shape());
  y = 2.0 * w.value();
  auto out = op.finish([](tg::Backward<double>& b) {
    auto t = b.grad_target(0);
    for (std::size_t i = 0; i < t.grad.size(); ++i) {
      t.grad.data()[i] = (t.add ? t.grad.data()[i] : 0.0) + 2.0 * b.grad_out().data()[i];
    }
  });
  tape.backward(tg::sum(out));
  ASSERT_TRUE(w.has_grad());
  EXPECT_DOUBLE_EQ(w.grad()(0, 0), 2.0);
  EXPECT_DOUBLE_EQ(w.grad()(0, 1), 2.0);
}

TEST(TapeSafety, UndefinedHandlesSayWhatTheyAre) {
  try {
    tg::Var<double>().backward();
    ADD_FAILURE();
  } catch (const tg::StateError& e) {
    EXPECT_NE(std::string(e.what()).find("undefined Var"), std::string::npos) << e.what();
  }
  try {
    tg::relu(tg::Var<double>());
    ADD_FAILURE();
  } catch (const tg::StateError& e) {
    EXPECT_NE(std::string(e.what()).find("relu: use of an undefined Var"), std::string::npos) << e.what();
  }
  static_assert(std::is_same_v<decltype(tg::Tape<double>().generation()), std::uint64_t>,
                "64-bit generations: 2^32 clears must not bring a stale handle back to life");
}

TEST(TapeSafety, ReleaseMemoryReleasesTheEntries) {
  tg::Tape<float> tape;
  tg::Parameter<float> x(tg::Array<float>{1.f});
  tg::Var<float> h = tape.bind(x);
  for (int i = 0; i < 200000; ++i) h = tg::tanh(h);
  EXPECT_GE(tape.bytes_in_use(), 200000u * sizeof(float));
  tape.clear();
  EXPECT_EQ(tape.bytes_in_use(), 0u);
  EXPECT_GT(tape.bytes_of_entries(), 200000u * 100);  // kept for the next step, and reported
  EXPECT_GT(tape.bytes_pooled(), 0u);
  tape.release_memory();
  EXPECT_EQ(tape.bytes_of_entries(), 0u);
  EXPECT_EQ(tape.bytes_pooled(), 0u);
  h = tg::tanh(tape.bind(x));  // still usable
  EXPECT_NEAR(double(h.item()), std::tanh(1.0), 1e-6);
}

// Evaluation as the README shows it: a long-lived tape, NoGradGuard, clear() per batch.
TEST(TapeSafety, EvaluationLoopHoldsBoundedMemory) {
  tg::Parameter<float> w(tg::Array<float>(xt::ones<float>({8, 4})));
  tg::Tape<float> tape;
  tg::NoGradGuard no_grad;
  std::size_t entries_after_first = 0, pooled_after_first = 0;
  for (int batch = 0; batch < 10000; ++batch) {
    auto logits = tg::relu(tg::matmul(tape.constant(tg::Array<float>(xt::ones<float>({16, 8}))), w));
    ASSERT_FLOAT_EQ(logits.value()(0, 0), 8.f);
    tape.clear();
    if (batch == 0) {
      entries_after_first = tape.bytes_of_entries();
      pooled_after_first = tape.bytes_pooled();
    }
    ASSERT_EQ(tape.bytes_of_entries(), entries_after_first) << "batch " << batch;
    ASSERT_EQ(tape.bytes_pooled(), pooled_after_first) << "batch " << batch;
  }
}
