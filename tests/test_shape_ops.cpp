// Shape, join/split and slicing ops (tapegrad/shape_ops.hpp): values in float and double against
// xtensor's views, gradchecks (negative dims, broadcasts, fan-out), and a training-like loop that
// allocates nothing after its first steps.
#include <gtest/gtest.h>

#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include <cstdint>
#include <limits>

#include "io_test_util.hpp"  // replaces operator new: counts allocations
#include "op_testing.hpp"
#include "tapegrad/indexing.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/pointwise.hpp"
#include "tapegrad/reduction.hpp"
#include "tapegrad/shape_ops.hpp"

namespace tg = tapegrad;
using namespace op_testing;

namespace {
constexpr std::int64_t kEnd = std::numeric_limits<std::int64_t>::max();
}

// ---- reshape, flatten, (un)squeeze -------------------------------------------------------------------

TEST(ShapeOps, ReshapeFlattenSqueezeKeepTheOrder) {
  const auto x = arange({2, 3, 4});
  auto same_data = [&](tg::Shape shape) {
    Array<double> y = x;
    y.reshape(shape);
    return y;
  };
  expect_forward([](const auto& v) { return tg::reshape(v[0], {4, -1}); }, {x}, same_data({4, 6}));
  expect_forward([](const auto& v) { return tg::reshape(v[0], {-1}); }, {x}, same_data({24}));
  expect_forward([](const auto& v) { return tg::reshape(v[0], tg::Shape{2, 12}); }, {x}, same_data({2, 12}));
  expect_forward([](const auto& v) { return tg::flatten(v[0]); }, {x}, same_data({24}));
  expect_forward([](const auto& v) { return tg::flatten(v[0], 1); }, {x}, same_data({2, 12}));
  expect_forward([](const auto& v) { return tg::flatten(v[0], 0, -2); }, {x}, same_data({6, 4}));
  expect_forward([](const auto& v) { return tg::flatten(v[0]); }, {Array<double>(7.0)}, Array<double>{7.0});
  expect_forward([](const auto& v) { return tg::unsqueeze(v[0], -1); }, {x}, same_data({2, 3, 4, 1}));
  expect_forward([](const auto& v) { return tg::unsqueeze(v[0], 1); }, {x}, same_data({2, 1, 3, 4}));
  const auto ones = arange({1, 3, 1});
  Array<double> squeezed = ones;
  squeezed.reshape({3});
  expect_forward([](const auto& v) { return tg::squeeze(v[0]); }, {ones}, squeezed);
  expect_forward([](const auto& v) { return tg::squeeze(v[0], -1); }, {ones}, Array<double>(xt::reshape_view(ones, {1, 3})));
  expect_forward([](const auto& v) { return tg::squeeze(v[0], 1); }, {ones}, ones);  // extent 3: unchanged
  expect_forward([](const auto& v) { return tg::reshape(v[0], {0, 5}); }, {Array<double>::from_shape({0})},
                 Array<double>::from_shape({0, 5}));
}

TEST(ShapeOps, ReshapeFamilyGradcheck) {
  tg::Rng rng(1);
  const auto x = randn(rng, {2, 3, 4});
  expect_gradcheck([](const Vars& v) { return tg::reshape(v[0], {3, -1, 2}); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::flatten(v[0], -2); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::unsqueeze(v[0], -2); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::squeeze(tg::unsqueeze(v[0], 0)); }, {x});
  // Fan-out: x reshaped twice, both results used.
  expect_gradcheck([](const Vars& v) { return tg::mul(tg::flatten(v[0]), tg::reshape(v[0], {-1})); }, {x});
}

// ---- transpose, permute, expand -----------------------------------------------------------------------

TEST(ShapeOps, TransposeAndPermuteMatchXtensor) {
  const auto x = arange({2, 3, 4});
  expect_forward([](const auto& v) { return tg::transpose(v[0], 0, -1); }, {x},
                 Array<double>(xt::transpose(x, {2, 1, 0})));
  expect_forward([](const auto& v) { return tg::permute(v[0], {1, -1, 0}); }, {x},
                 Array<double>(xt::transpose(x, {1, 2, 0})));
  // Large enough to take the tiled path, with ragged tiles.
  tg::Rng rng(2);
  const auto big = randn(rng, {3, 67, 45});
  expect_forward([](const auto& v) { return tg::transpose(v[0], 1, 2); }, {big},
                 Array<double>(xt::transpose(big, {0, 2, 1})));
  expect_forward([](const auto& v) { return tg::permute(v[0], {2, 0, 1}); }, {big},
                 Array<double>(xt::transpose(big, {2, 0, 1})));
  expect_forward([](const auto& v) { return tg::transpose(v[0], 0, 0); }, {Array<double>(3.0)}, Array<double>(3.0));
}

TEST(ShapeOps, TransposePermuteExpandGradcheck) {
  tg::Rng rng(3);
  const auto x = randn(rng, {2, 3, 4});
  expect_gradcheck([](const Vars& v) { return tg::transpose(v[0], -1, 0); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::permute(v[0], {2, 0, 1}); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::permute(v[0], {-2, -1, -3}); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::transpose(v[0], 0, 1); }, {randn(rng, {37, 21})});
  expect_gradcheck([](const Vars& v) { return tg::expand(v[0], {2, 3, 4}); }, {randn(rng, {3, 1})});
  expect_gradcheck([](const Vars& v) { return tg::expand(v[0], {5, -1}); }, {randn(rng, {1, 4})});
  expect_gradcheck([](const Vars& v) { return tg::expand(v[0], {2, 3}); }, {Array<double>(1.5)});
}

TEST(ShapeOps, ExpandBroadcasts) {
  const auto col = arange({3, 1});
  expect_forward([](const auto& v) { return tg::expand(v[0], {2, 3, 4}); }, {col},
                 Array<double>(xt::broadcast(col, {2, 3, 4})));
  expect_forward([](const auto& v) { return tg::expand(v[0], {3, -1}); }, {arange({1, 4})},
                 Array<double>(xt::broadcast(arange({1, 4}), {3, 4})));
}

// ---- cat, stack, split, chunk -------------------------------------------------------------------------

TEST(ShapeOps, CatStackValues) {
  const Array<double> a = arange({2, 2}), b = arange({2, 3}) + 10.0;
  expect_forward([](const auto& v) { return tg::cat({v[0], v[1]}, -1); }, {a, b},
                 Array<double>{{0, 1, 10, 11, 12}, {2, 3, 13, 14, 15}});
  expect_forward([](const auto& v) { return tg::cat({v[0], v[1]}); }, {arange({1, 2}), a},
                 Array<double>{{0, 1}, {0, 1}, {2, 3}});
  // As PyTorch: a 1-D empty value joins anything.
  expect_forward([](const auto& v) { return tg::cat({v[0], v[1]}, 1); }, {a, Array<double>::from_shape({0})}, a);
  expect_forward([](const auto& v) { return tg::stack({v[0], v[1]}); }, {a, a + 4.0},
                 Array<double>(xt::reshape_view(arange({8}), {2, 2, 2})));
  expect_forward([](const auto& v) { return tg::stack({v[0], v[1]}, -1); }, {a, a + 4.0},
                 Array<double>{{{0, 4}, {1, 5}}, {{2, 6}, {3, 7}}});
}

TEST(ShapeOps, SplitAndChunkPieces) {
  tg::Tape<double> tape;
  const auto x = tape.constant(arange({2, 7}));
  auto pieces = tg::split(x, 3, -1);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].value(), (Array<double>{{0, 1, 2}, {7, 8, 9}}));
  EXPECT_EQ(pieces[2].value(), tg::column({6.0, 13.0}));
  auto sized = tg::split(x, {2, 5}, 1);
  ASSERT_EQ(sized.size(), 2u);
  EXPECT_EQ(sized[1].shape(), (tg::Shape{2, 5}));
  EXPECT_EQ(tg::split(x, {7}, 1).size(), 1u);  // braces are sizes, even one of them
  auto chunks = tg::chunk(x, 3, 1);
  ASSERT_EQ(chunks.size(), 3u);  // 7 = 3 + 3 + 1
  EXPECT_EQ(chunks[2].shape(), (tg::Shape{2, 1}));
  EXPECT_EQ(tg::chunk(tape.constant(arange({5})), 4).size(), 3u);  // as PyTorch: 2 + 2 + 1
  EXPECT_EQ(tg::chunk(tape.constant(arange({0})), 3).size(), 3u);
  tg::Tape<float> tf;
  EXPECT_EQ(tg::chunk(tf.constant(Array<float>(xt::cast<float>(arange({6})))), 2)[1].value(),
            (Array<float>{3.f, 4.f, 5.f}));
}

TEST(ShapeOps, JoinAndSplitGradcheck) {
  tg::Rng rng(4);
  const auto a = randn(rng, {2, 3}), b = randn(rng, {2, 5});
  expect_gradcheck([](const Vars& v) { return tg::cat({v[0], v[1]}, -1); }, {a, b});
  expect_gradcheck([](const Vars& v) { return tg::cat({v[0], v[0], v[1]}, 1); }, {a, b});  // fan-out
  expect_gradcheck([](const Vars& v) { return tg::cat(std::vector<tg::Var<double>>{v[0], v[1]}, 0); },
                   {a, randn(rng, {4, 3})});
  expect_gradcheck([](const Vars& v) { return tg::stack({v[0], v[1]}, 1); }, {a, randn(rng, {2, 3})});
  const auto x = randn(rng, {3, 7});
  auto weighted = [](const std::vector<tg::Var<double>>& ps) {
    std::vector<tg::Var<double>> out;
    for (std::size_t i = 0; i < ps.size(); ++i) out.push_back(tg::flatten(ps[i] * double(i + 1)));
    return tg::cat(out);
  };
  expect_gradcheck([&](const Vars& v) { return weighted(tg::split(v[0], 3, -1)); }, {x});
  expect_gradcheck([&](const Vars& v) { return weighted(tg::split(v[0], {1, 2}, 0)); }, {x});
  expect_gradcheck([&](const Vars& v) { return weighted(tg::chunk(v[0], 2, 1)); }, {x});
  // Only one piece used: the others' slices of x get a zero gradient.
  expect_gradcheck([](const Vars& v) { return tg::split(v[0], 2, 1)[1]; }, {x});
}

// ---- narrow, slice, pad --------------------------------------------------------------------------------

TEST(ShapeOps, NarrowAndSliceMatchXtensorViews) {
  const auto x = arange({4, 6, 3});
  expect_forward([](const auto& v) { return tg::narrow(v[0], 1, 2, 3); }, {x},
                 Array<double>(xt::view(x, xt::all(), xt::range(2, 5), xt::all())));
  expect_forward([](const auto& v) { return tg::narrow(v[0], -1, -2, 2); }, {x},
                 Array<double>(xt::view(x, xt::all(), xt::all(), xt::range(1, 3))));
  expect_forward([](const auto& v) { return tg::slice(v[0], 1, 1, 6, 2); }, {x},
                 Array<double>(xt::view(x, xt::all(), xt::range(1, 6, 2), xt::all())));
  expect_forward([](const auto& v) { return tg::slice(v[0], 0, -3, kEnd); }, {x},
                 Array<double>(xt::view(x, xt::range(1, 4), xt::all(), xt::all())));
  expect_forward([](const auto& v) { return tg::slice(v[0], 1, -100, 100, 4); }, {x},
                 Array<double>(xt::view(x, xt::all(), xt::range(0, 6, 4), xt::all())));
  expect_forward([](const auto& v) { return tg::slice(v[0], 2, 2, 1); }, {x}, Array<double>::from_shape({4, 6, 0}));
  expect_forward([](const auto& v) { return tg::slice(v[0], 2, 0, kEnd, 2); }, {x},
                 Array<double>(xt::view(x, xt::all(), xt::all(), xt::range(0, 3, 2))));
}

TEST(ShapeOps, PadInPyTorchOrder) {
  const auto x = arange({2, 2}) + 1.0;
  // {1, 2}: the last dim, one before and two after.
  expect_forward([](const auto& v) { return tg::pad(v[0], {1, 2}); }, {x},
                 Array<double>{{0, 1, 2, 0, 0}, {0, 3, 4, 0, 0}});
  expect_forward([](const auto& v) { return tg::pad(v[0], {0, 1, 1, 0}, 9.0); }, {x},
                 Array<double>{{9, 9, 9}, {1, 2, 9}, {3, 4, 9}});
  // Negative padding crops.
  expect_forward([](const auto& v) { return tg::pad(v[0], {-1, 1}); }, {x}, Array<double>{{2, 0}, {4, 0}});
  expect_forward([](const auto& v) { return tg::pad(v[0], {-2, 0}); }, {x}, Array<double>::from_shape({2, 0}));
}

TEST(ShapeOps, SlicingGradcheck) {
  tg::Rng rng(5);
  const auto x = randn(rng, {4, 6, 3});
  expect_gradcheck([](const Vars& v) { return tg::narrow(v[0], 1, 1, 4); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::narrow(v[0], -1, -3, 3); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::slice(v[0], 1, 1, kEnd, 2); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::slice(v[0], -3, -3, -1, 1); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::pad(v[0], {1, 2, 0, 1}, 0.5); }, {x});
  expect_gradcheck([](const Vars& v) { return tg::pad(v[0], {-1, 1, 2, -2, 1, 0}); }, {x});
  // Overlapping slices of one value: their gradients add up.
  expect_gradcheck([](const Vars& v) { return tg::mul(tg::narrow(v[0], 1, 0, 4), tg::narrow(v[0], 1, 2, 4)); }, {x});
}

// ---- a training-like loop allocates nothing after its first steps ----------------------------------

TEST(ShapeOps, SteadyLoopOfTheVocabularyAllocatesNothing) {
  // Attention-like: projections, heads split by reshape/transpose, batched products, a mask, a
  // softmax through logsumexp, joins, slices, indexing and reductions.
  tg::Rng rng(6);
  const std::int64_t n = 2, t = 5, d = 8, h = 2;
  tg::Parameter<float> wq(rng.normal<float>({8, 8})), wk(rng.normal<float>({8, 8}));
  const Array<float> x = rng.normal<float>({2, 5, 8});
  tg::BoolArray future = tg::BoolArray::from_shape({5, 5});
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 5; ++j) future(i, j) = j > i;
  const tg::IndexArray rows{0, 2, 4};
  tg::IndexArray labels = tg::IndexArray::from_shape({2, 5, 1});
  labels.fill(1);
  tg::Tape<float> tape;
  std::size_t allocations = 0;
  for (int step = 0; step < 5; ++step) {
    tg_test::LargestAllocation probe;
    auto xv = tape.constant(x);
    auto q = tg::transpose(tg::reshape(tg::linear(xv, wq), {n, t, h, d / h}), 1, 2);  // (n, h, t, d/h)
    auto k = tg::permute(tg::reshape(tg::linear(xv, wk), {n, t, h, d / h}), {0, 2, 3, 1});
    auto scores = tg::masked_fill(tg::matmul(q, k), future, -1e9f);  // (n, h, t, t)
    auto p = tg::exp(scores - tg::logsumexp(scores, -1, true));
    auto joined = tg::cat({p, tg::pad(tg::narrow(p, -1, 0, 2), {0, 3, 0, 0})}, -1);  // (n, h, t, 2t)
    auto picked = tg::flatten(tg::index_select(tg::slice(joined, 3, 0, 2 * t, 2), 3, rows), 2);  // (n, h, 3t)
    auto g = tg::gather(tg::gelu(tg::squeeze(tg::unsqueeze(xv, 0), 0)), -1, labels);
    auto loss = tg::sum(tg::amax(picked, {1, 2})) + tg::mean(tg::var(g, {1})) + tg::norm(tg::stack({g, g}));
    tape.backward(loss);
    if (step >= 2) allocations += probe.count();
  }
  EXPECT_EQ(allocations, 0u);
}
