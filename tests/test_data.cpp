#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <type_traits>

#include "io_test_util.hpp"
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/data/mnist.hpp"
#include "tapegrad/data/standardizer.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/tape.hpp"
#include "detail/xtensor_extra.hpp"  // xt::view

using tapegrad::Array;
using tapegrad::Shape;
using namespace tapegrad::data;

namespace {
// Example i has features (i, 100 + i, 200 + i) and target i: alignment is checkable.
TensorDataset<float> numbered(std::size_t n) {
  Array<float> x = xt::zeros<float>({n, std::size_t(3)});
  Array<float> y = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    x(i, 0) = float(i);
    x(i, 1) = float(100 + i);
    x(i, 2) = float(200 + i);
    y(i) = float(i);
  }
  return TensorDataset<float>(x, y);
}

// The example indices of one epoch, checking every batch's rows against its targets.
std::vector<std::size_t> epoch_order(DataLoader<float>& loader, std::vector<std::size_t>* sizes = nullptr) {
  std::vector<std::size_t> order;
  for (const auto& b : loader) {
    if (sizes) sizes->push_back(b.size());
    EXPECT_EQ(b.features.shape()[1], 3u);
    for (std::size_t k = 0; k < b.size(); ++k) {
      const float i = b.targets(k);
      EXPECT_EQ(b.features(k, 0), i);
      EXPECT_EQ(b.features(k, 2), 200 + i);
      order.push_back(std::size_t(i));
    }
  }
  return order;
}
}  // namespace

TEST(TensorDataset, ShapesAndGather) {
  const auto ds = numbered(5);
  EXPECT_EQ(ds.size(), 5u);
  EXPECT_EQ(ds.feature_shape(), Shape{3});
  EXPECT_EQ(ds.target_shape(), Shape{});
  const auto b = ds.get(3);
  EXPECT_EQ(b.features, (Array<float>{{3, 103, 203}}));
  EXPECT_EQ(b.targets, (Array<float>{3}));
  Batch<float> out;
  const std::size_t idx[] = {4, 0, 4};
  ds.gather(idx, 3, out);
  EXPECT_EQ(out.targets, (Array<float>{4, 0, 4}));
  const std::size_t bad[] = {5};
  EXPECT_THROW(ds.gather(bad, 1, out), tapegrad::ValueError);
  EXPECT_THROW(TensorDataset<float>(Array<float>(xt::zeros<float>({4, 2})), Array<float>(xt::zeros<float>({3}))),
               tapegrad::ShapeError);
  EXPECT_THROW(TensorDataset<float>(Array<float>(1.f), Array<float>(1.f)), tapegrad::ShapeError);
  const auto sub = ds.subset({2, 1});
  EXPECT_EQ(sub.targets(), (Array<float>{2, 1}));
  EXPECT_EQ(sub.features()(0, 1), 102.f);
}

TEST(DataLoader, InOrderBatchesAndDropLast) {
  const auto ds = numbered(10);
  DataLoader<float> loader(ds, DataLoaderOptions(4));
  EXPECT_EQ(loader.num_batches(), 3u);
  std::vector<std::size_t> sizes;
  const auto order = epoch_order(loader, &sizes);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 2}));
  std::vector<std::size_t> want(10);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(order, want);

  DataLoader<float> dropping(ds, DataLoaderOptions(4).drop_last(true));
  EXPECT_EQ(dropping.num_batches(), 2u);
  sizes.clear();
  EXPECT_EQ(epoch_order(dropping, &sizes).size(), 8u);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4}));
  EXPECT_THROW(DataLoader<float>(ds, DataLoaderOptions(0)), tapegrad::ValueError);
  static_assert(!std::is_constructible_v<DataLoader<float>, TensorDataset<float>&&, DataLoaderOptions>,
                "a loader over a temporary dataset would dangle");
}

TEST(DataLoader, ShufflesEveryExampleOncePerEpochReproducibly) {
  const auto ds = numbered(50);
  DataLoader<float> a(ds, DataLoaderOptions(8).shuffle(true).seed(7));
  DataLoader<float> b(ds, DataLoaderOptions(8).shuffle(true).seed(7));
  DataLoader<float> c(ds, DataLoaderOptions(8).shuffle(true).seed(8));
  const auto a1 = epoch_order(a), a2 = epoch_order(a);
  const auto b1 = epoch_order(b), b2 = epoch_order(b);
  const auto c1 = epoch_order(c);
  for (const auto* o : {&a1, &a2, &c1}) {
    std::vector<std::size_t> sorted = *o;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted.size(), 50u);
    for (std::size_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  }
  EXPECT_EQ(a1, b1);
  EXPECT_EQ(a2, b2);
  EXPECT_NE(a1, a2);  // a new order each epoch
  EXPECT_NE(a1, c1);  // another seed, another order
  std::vector<std::size_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(a1, identity);
}

TEST(DataLoader, FullBatchesReuseTheBuffer) {
  const auto ds = numbered(64);
  DataLoader<float> loader(ds, DataLoaderOptions(16).shuffle(true));
  loader.reset();
  const Batch<float>* first = loader.next();
  ASSERT_NE(first, nullptr);
  const float* data = first->features.data();
  tg_test::LargestAllocation probe;
  std::size_t batches = 1;
  while (const Batch<float>* b = loader.next()) {
    EXPECT_EQ(b->features.data(), data);
    ++batches;
  }
  EXPECT_EQ(batches, 4u);
  EXPECT_EQ(probe.count(), 0u);
}

// Moves each batch's arrays into a tape (which hands back its old buffer) for three epochs,
// checking every batch against a loader whose batches stay put; returns the allocations made
// by the loader and the tape after the first epoch.
namespace {
std::size_t move_batches_into_a_tape(std::size_t examples) {
  const auto ds = numbered(examples);
  DataLoader<float> moved(ds, DataLoaderOptions(16).shuffle(true).seed(4));
  DataLoader<float> kept(ds, DataLoaderOptions(16).shuffle(true).seed(4));
  tapegrad::Tape<float> tape;
  std::size_t allocations_after_warmup = 0;
  for (int epoch = 0; epoch < 3; ++epoch) {
    moved.reset();
    kept.reset();
    for (std::size_t batch = 0;; ++batch) {
      const Batch<float>* want = kept.next();
      tg_test::LargestAllocation probe;
      Batch<float>* got = moved.next();
      if (got == nullptr) break;
      const auto x = tape.constant(std::move(got->features));
      const auto y = tape.constant(std::move(got->targets));
      if (epoch > 0) allocations_after_warmup += probe.count();
      EXPECT_NE(want, nullptr);
      if (want == nullptr) break;
      EXPECT_EQ(got->size(), want->size());  // still right with the arrays moved out
      EXPECT_EQ(x.value(), want->features) << "epoch " << epoch << " batch " << batch;
      EXPECT_EQ(y.value(), want->targets) << "epoch " << epoch << " batch " << batch;
      tape.clear();
    }
    EXPECT_EQ(kept.next(), nullptr);
  }
  return allocations_after_warmup;
}
}  // namespace

TEST(DataLoader, BatchesMovedIntoATapeStayCorrectWithoutAllocating) {
  EXPECT_EQ(move_batches_into_a_tape(64), 0u);  // four full batches
  // A short last batch (16, 16, 16, 12): the buffers handed back change size, so some epochs
  // reallocate; the batches must still be right.
  (void)move_batches_into_a_tape(60);
}

TEST(TrainValSplit, DisjointCompleteAndSeeded) {
  const auto ds = numbered(100);
  auto [train, val] = train_val_split(ds, 0.2, 3);
  EXPECT_EQ(train.size(), 80u);
  EXPECT_EQ(val.size(), 20u);
  std::set<float> all;
  for (auto v : train.targets()) all.insert(v);
  for (auto v : val.targets()) all.insert(v);
  EXPECT_EQ(all.size(), 100u);
  for (std::size_t k = 0; k < val.size(); ++k) EXPECT_EQ(val.features()(k, 1), 100 + val.targets()(k));
  auto [train2, val2] = train_val_split(ds, 0.2, 3);
  EXPECT_EQ(val2.targets(), val.targets());
  auto [train3, val3] = train_val_split(ds, 0.2, 4);
  EXPECT_NE(val3.targets(), val.targets());
  EXPECT_THROW(train_val_split(ds, 0.0, 1), tapegrad::ValueError);
  EXPECT_THROW(train_val_split(ds, 1.0, 1), tapegrad::ValueError);
  EXPECT_THROW(train_val_split(numbered(3), 0.1, 1), tapegrad::ValueError);  // rounds to 0 examples
}

TEST(Standardizer, FitsOnTrainAppliesToTest) {
  const Array<double> train = {{1, 10, 5}, {3, 10, 5}, {5, 10, 5}, {7, 10, 5}};
  const Array<double> test = {{4, 12, 5}, {0, 10, 6}};
  Standardizer<double> s;
  EXPECT_THROW(s.transform(test), tapegrad::StateError);
  s.fit(train);
  // Column 0: mean 4, population std sqrt(5); columns 1, 2 are constant: scale 1.
  EXPECT_EQ(s.mean(), (Array<double>{{4, 10, 5}}));
  EXPECT_NEAR(s.scale()(0, 0), std::sqrt(5.0), 1e-15);
  EXPECT_EQ(s.scale()(0, 1), 1.0);
  const Array<double> t = s.transform(train);
  EXPECT_NEAR(xt::mean(xt::col(t, 0))(), 0.0, 1e-15);
  EXPECT_NEAR(std::sqrt(xt::mean(xt::square(xt::col(t, 0)))()), 1.0, 1e-15);
  EXPECT_EQ(xt::col(t, 1), (Array<double>{0, 0, 0, 0}));
  const Array<double> u = s.transform(test);
  EXPECT_NEAR(u(0, 0), 0.0, 1e-15);
  EXPECT_NEAR(u(1, 0), -4 / std::sqrt(5.0), 1e-15);
  EXPECT_EQ(u(0, 1), 2.0);  // test values are shifted by the *train* mean
  EXPECT_EQ(u(1, 2), 1.0);
  EXPECT_TRUE(xt::allclose(s.inverse_transform(u), test));
  EXPECT_THROW(s.transform(Array<double>(xt::zeros<double>({2, 4}))), tapegrad::ShapeError);
}

TEST(Standardizer, BadDataAndStateDict) {
  Standardizer<float> s;
  EXPECT_THROW(s.fit(Array<float>(xt::zeros<float>({0, 3}))), tapegrad::ValueError);
  Array<float> nan = {{1, 2}, {3, std::nanf("")}};
  try {
    s.fit(nan);
    ADD_FAILURE();
  } catch (const tapegrad::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("row 1, feature 1"), std::string::npos) << e.what();
  }
  // A large offset with small spread: accumulated in double, two passes.
  Array<float> x = xt::zeros<float>({4, 1});
  x(0, 0) = x(2, 0) = 1e6f + 1;
  x(1, 0) = x(3, 0) = 1e6f - 1;
  s.fit(x);
  EXPECT_EQ(s.mean()(0, 0), 1e6f);
  EXPECT_EQ(s.scale()(0, 0), 1.f);
  const Array<float> want = xt::reshape_view(Array<float>{1, -1, 1, -1}, {4, 1});
  EXPECT_EQ(s.transform(x), want);
  Standardizer<float> t;
  t.load_state_dict(s.state_dict());
  EXPECT_EQ(t.transform(x), s.transform(x));
  const Array<float> zero = xt::zeros<float>({1, 1});
  EXPECT_THROW(t.load_state_dict({{"mean", zero}}), tapegrad::ValueError);
  EXPECT_THROW(t.load_state_dict({{"mean", zero}, {"scale", zero}}), tapegrad::ValueError);
}

TEST(Mnist, LoadsFashionMnistScaledAndFlattened) {
  const auto test = load_mnist<float>("/usr/share/datasets/fashion-mnist", MnistSplit::test, 100);
  EXPECT_EQ(test.size(), 100u);
  EXPECT_EQ(test.feature_shape(), Shape{784});
  EXPECT_EQ(xt::view(test.targets(), xt::range(0, 5)), (Array<float>{9, 2, 1, 1, 6}));
  EXPECT_GE(xt::amin(test.features())(), 0.f);
  EXPECT_EQ(xt::amax(test.features())(), 1.f);
  EXPECT_THROW(load_mnist<float>("/nonexistent", MnistSplit::train), tapegrad::IoError);
}
