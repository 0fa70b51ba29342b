// Ops that select by indices or masks (tapegrad/indexing.hpp): values in float and double,
// gradchecks (repeated indices, broadcast masks, negative dims), and where the gradient goes.
#include <gtest/gtest.h>

#include "op_testing.hpp"
#include "tapegrad/indexing.hpp"

namespace tg = tapegrad;
using namespace op_testing;

TEST(Indexing, IndexSelectValues) {
  const auto x = arange({2, 3, 2});
  expect_forward([](const auto& v) { return tg::index_select(v[0], 1, tg::IndexArray{2, 0, 2}); }, {x},
                 Array<double>{{{4, 5}, {0, 1}, {4, 5}}, {{10, 11}, {6, 7}, {10, 11}}});
  expect_forward([](const auto& v) { return tg::index_select(v[0], -1, tg::IndexArray{1}); }, {x},
                 Array<double>(xt::reshape_view(Array<double>{1, 3, 5, 7, 9, 11}, {2, 3, 1})));
  // A 0-d index selects one slice and keeps the dim.
  expect_forward([](const auto& v) { return tg::index_select(v[0], 0, tg::IndexArray(1)); }, {x},
                 Array<double>{{{6, 7}, {8, 9}, {10, 11}}});
  expect_forward([](const auto& v) { return tg::index_select(v[0], 1, tg::IndexArray::from_shape({0})); }, {x},
                 Array<double>::from_shape({2, 0, 2}));
}

TEST(Indexing, IndexSelectGradientAddsUpRepeats) {
  const auto x = arange({3, 2});
  const auto g = gradient([](const tg::Var<double>& v) { return tg::index_select(v, 0, tg::IndexArray{2, 0, 2}); }, x);
  EXPECT_EQ(g, (Array<double>{{1, 1}, {0, 0}, {2, 2}}));
  tg::Rng rng(1);
  expect_gradcheck([](const Vars& v) { return tg::index_select(v[0], 1, tg::IndexArray{3, 0, 3, 1}); },
                   {randn(rng, {2, 4, 3})});
  expect_gradcheck([](const Vars& v) { return tg::index_select(v[0], -1, tg::IndexArray{0, 2, 2}); },
                   {randn(rng, {2, 4, 3})});
}

TEST(Indexing, GatherValues) {
  const auto x = arange({3, 4});
  const tg::IndexArray labels = xt::reshape_view(tg::IndexArray{1, 3, 0}, {3, 1});
  expect_forward([&](const auto& v) { return tg::gather(v[0], 1, labels); }, {x}, tg::column({1.0, 7.0, 8.0}));
  const tg::IndexArray rows = {{2, 0, 1, 2}};  // (1, 4) along dim 0
  expect_forward([&](const auto& v) { return tg::gather(v[0], 0, rows); }, {x}, Array<double>{{8, 1, 6, 11}});
  // An index smaller than x in another dim reads only its corner.
  const tg::IndexArray corner = {{0, 0}, {1, 1}};
  expect_forward([&](const auto& v) { return tg::gather(v[0], -1, corner); }, {x}, Array<double>{{0, 0}, {5, 5}});
}

TEST(Indexing, GatherGradcheck) {
  tg::Rng rng(2);
  const auto x = randn(rng, {3, 4, 5});
  // (2, 2, 2) indices, each within the extent of the dim it indexes (5, 3, 4); repeats add up.
  const tg::IndexArray i2 = {{{0, 4}, {4, 4}}, {{1, 2}, {3, 0}}};
  const tg::IndexArray i0 = {{{0, 2}, {2, 2}}, {{1, 2}, {1, 0}}};
  const tg::IndexArray i1 = {{{0, 3}, {3, 3}}, {{1, 2}, {3, 0}}};
  expect_gradcheck([&](const Vars& v) { return tg::gather(v[0], 2, i2); }, {x});
  expect_gradcheck([&](const Vars& v) { return tg::gather(v[0], 0, i0); }, {x});
  expect_gradcheck([&](const Vars& v) { return tg::gather(v[0], -2, i1); }, {x});
  const auto g = gradient([&](const tg::Var<double>& v) { return tg::gather(v, 1, tg::IndexArray{{1, 1, 0}}); },
                          arange({1, 3}));
  EXPECT_EQ(g, (Array<double>{{1, 2, 0}}));
}

TEST(Indexing, MaskedFillBroadcasts) {
  const auto x = arange({2, 3});
  const tg::BoolArray row = {{true, false, true}};
  expect_forward([&](const auto& v) { return tg::masked_fill(v[0], row, -1.0); }, {x},
                 Array<double>{{-1, 1, -1}, {-1, 4, -1}});
  // The mask may be larger than x: the result has the broadcast shape.
  const tg::BoolArray stacked = xt::reshape_view(tg::BoolArray{false, true}, {2, 1, 1});
  expect_forward([&](const auto& v) { return tg::masked_fill(v[0], stacked, 7.0); }, {x},
                 Array<double>{{{0, 1, 2}, {3, 4, 5}}, {{7, 7, 7}, {7, 7, 7}}});
  tg::Rng rng(3);
  expect_gradcheck([&](const Vars& v) { return tg::masked_fill(v[0], row, 2.0); }, {randn(rng, {2, 3})});
  expect_gradcheck([&](const Vars& v) { return tg::masked_fill(v[0], stacked, 2.0); }, {randn(rng, {2, 3})});
  expect_gradcheck([&](const Vars& v) { return tg::masked_fill(v[0], row, 2.0); }, {randn(rng, {3})});
  const auto g = gradient([&](const tg::Var<double>& v) { return tg::masked_fill(v, stacked, 7.0); }, x);
  EXPECT_EQ(g, (Array<double>(xt::ones<double>({2, 3}))));  // one unmasked copy of each element
}

TEST(Indexing, WhereBroadcastsAllThree) {
  const tg::BoolArray cond = xt::reshape_view(tg::BoolArray{true, false}, {2, 1});
  expect_forward([&](const auto& v) { return tg::where(cond, v[0], v[1]); }, {arange({3}), Array<double>(-1.0)},
                 Array<double>{{0, 1, 2}, {-1, -1, -1}});
  tg::Rng rng(4);
  expect_gradcheck([&](const Vars& v) { return tg::where(cond, v[0], v[1]); }, {randn(rng, {3}), randn(rng, {})});
  expect_gradcheck([&](const Vars& v) { return tg::where(cond, v[0], v[1]); },
                   {randn(rng, {4, 2, 3}), randn(rng, {2, 1})});
  const tg::BoolArray same = {{true, false}, {false, true}};
  expect_gradcheck([&](const Vars& v) { return tg::where(same, v[0], v[1]); }, {randn(rng, {2, 2}), randn(rng, {2, 2})});
  // where(c, x, x): the whole gradient reaches x.
  const auto g = gradient([&](const tg::Var<double>& v) { return tg::where(same, v, v); }, arange({2, 2}));
  EXPECT_EQ(g, (Array<double>(xt::ones<double>({2, 2}))));
}
