// embedding: rows looked up, gradients accumulated per row, none for the padding row.
#include "tapegrad/embedding.hpp"

#include <gtest/gtest.h>

#include "tapegrad/gradcheck.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/reduction.hpp"

namespace tapegrad {
namespace {

using Vs = std::vector<Var<double>>;

const Array<double> kTable = xt::reshape_view(xt::linspace<double>(-1, 1, 15), {5, 3});

template <class T>
void forward_test() {
  Tape<T> tape;
  Parameter<T> w(xt::cast<T>(kTable));
  auto ids = tape.constant(Array<T>{{1, 4}, {1, 0}});
  auto e = embedding(ids, w);
  ASSERT_EQ(e.shape(), (Shape{2, 2, 3}));
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(e.value()(0, 0, k), T(kTable(1, k)));
    EXPECT_EQ(e.value()(0, 1, k), T(kTable(4, k)));
    EXPECT_EQ(e.value()(1, 0, k), T(kTable(1, k)));
    EXPECT_EQ(e.value()(1, 1, k), T(kTable(0, k)));
  }
}

TEST(Embedding, LooksUpRowsInFloatAndDouble) {
  forward_test<float>();
  forward_test<double>();
}

TEST(Embedding, GradientIsAccumulatedPerRowAndThePaddingRowGetsNone) {
  Tape<double> tape;
  Parameter<double> w(kTable);
  auto ids = tape.constant(Array<double>{1, 3, 1, 0});
  auto seed = Array<double>(xt::reshape_view(xt::linspace<double>(1, 12, 12), {4, 3}));
  tape.backward(embedding(ids, w, 0), seed);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(w.grad()(1, k), seed(0, k) + seed(2, k));  // selected twice
    EXPECT_EQ(w.grad()(3, k), seed(1, k));
    EXPECT_EQ(w.grad()(0, k), 0.0);  // padding
    EXPECT_EQ(w.grad()(2, k), 0.0);  // not selected
  }
  // padding_idx counts from the end when negative: -1 is row 4
  w.zero_grad();
  tape.backward(sum(embedding(tape.constant(Array<double>{4, 2}), w, -1)));
  EXPECT_EQ(w.grad()(4, 0), 0.0);
  EXPECT_EQ(w.grad()(2, 0), 1.0);
}

TEST(Embedding, Gradcheck) {
  const Array<double> ids{{1, 4, 1}, {0, 2, 2}};
  // The padding row (3) is not selected: a selected one gets no gradient by design.
  auto r = gradcheck([&](const Vs& v) { return embedding(v[0], v[1], 3); }, {ids, kTable},
                     GradcheckOptions().requires_grad({false, true}));
  EXPECT_TRUE(r.ok) << r.report();
  r = gradcheck([&](const Vs& v) { auto e = embedding(v[0], v[1]); return e * e; }, {ids, kTable},
                GradcheckOptions().requires_grad({false, true}));
  EXPECT_TRUE(r.ok) << r.report();
}

TEST(Embedding, BadInputsAreReported) {
  Tape<double> tape;
  Parameter<double> w(kTable);
  EXPECT_THROW(embedding(tape.constant(Array<double>{1, 5}), w), ValueError);
  EXPECT_THROW(embedding(tape.constant(Array<double>{1, 0.5}), w), ValueError);
  EXPECT_THROW(embedding(tape.constant(Array<double>{1, 2}), w, 5), ValueError);
  EXPECT_THROW(embedding(tape.constant(Array<double>{1, 2}), Parameter<double>(Array<double>{1.0, 2.0})), ShapeError);
}

}  // namespace
}  // namespace tapegrad
