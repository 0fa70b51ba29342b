// DistributedSampler (data/sampler.hpp) and the DataLoader with a sampler: no MPI here, the
// ranks of a job are simulated by one sampler per rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

#include "tapegrad/data/dataset.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/data/sampler.hpp"
#include "tapegrad/error.hpp"

using tapegrad::Array;
using namespace tapegrad::data;

namespace {
// Example i has features (i, -i) and target i.
TensorDataset<float> numbered(std::size_t n) {
  Array<float> x = xt::zeros<float>({n, std::size_t(2)});
  Array<float> y = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    x(i, 0) = float(i);
    x(i, 1) = -float(i);
    y(i) = float(i);
  }
  return TensorDataset<float>(x, y);
}

std::vector<std::size_t> rows(const Batch<float>& b) {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < b.size(); ++k) {
    EXPECT_EQ(b.features(k, 0), b.targets(k));
    EXPECT_EQ(b.features(k, 1), -b.targets(k));
    out.push_back(std::size_t(b.targets(k)));
  }
  return out;
}

// One epoch of a loader as a list of batches (each a list of example indices).
std::vector<std::vector<std::size_t>> epoch(DataLoader<float>& loader) {
  std::vector<std::vector<std::size_t>> out;
  for (const auto& b : loader) out.push_back(rows(b));
  return out;
}
}  // namespace

TEST(DistributedSampler, ExactTailVisitsEveryExampleOnceInterleaved) {
  for (std::size_t w : {1, 2, 3, 4, 7}) {
    const std::size_t n = 97;
    std::vector<std::size_t> order;
    DistributedSampler(n, 0, w, DistributedSamplerOptions().seed(5).tail(Tail::exact)).global_order(order);
    ASSERT_EQ(order.size(), n);
    std::vector<std::size_t> seen;
    for (std::size_t r = 0; r < w; ++r) {
      DistributedSampler s(n, r, w, DistributedSamplerOptions().seed(5).tail(Tail::exact));
      const auto idx = s.indices();
      EXPECT_EQ(idx.size(), s.num_samples());
      EXPECT_EQ(s.num_samples(), n / w + (r < n % w ? 1 : 0)) << "W=" << w << " r=" << r;
      for (std::size_t i = 0; i < idx.size(); ++i) EXPECT_EQ(idx[i], order[r + i * w]);  // positions r, r+W, ...
      seen.insert(seen.end(), idx.begin(), idx.end());
    }
    std::sort(seen.begin(), seen.end());
    std::vector<std::size_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(seen, all) << "W=" << w;
  }
}

TEST(DistributedSampler, PadRepeatsTheFirstExamplesAndDropCutsTheTail) {
  const std::size_t n = 10, w = 4;
  std::vector<std::size_t> order;
  DistributedSampler(n, 0, w, DistributedSamplerOptions().seed(1).tail(Tail::exact)).global_order(order);
  std::vector<std::size_t> padded, dropped;
  DistributedSampler pad(n, 1, w, DistributedSamplerOptions().seed(1));  // Tail::pad is the default
  DistributedSampler drop(n, 1, w, DistributedSamplerOptions().seed(1).tail(Tail::drop));
  pad.global_order(padded);
  drop.global_order(dropped);
  EXPECT_EQ(pad.total_size(), 12u);
  EXPECT_EQ(drop.total_size(), 8u);
  ASSERT_EQ(padded.size(), 12u);
  EXPECT_TRUE(std::equal(order.begin(), order.end(), padded.begin()));
  EXPECT_EQ(padded[10], order[0]);
  EXPECT_EQ(padded[11], order[1]);
  EXPECT_EQ(dropped, std::vector<std::size_t>(order.begin(), order.begin() + 8));
  for (std::size_t r = 0; r < w; ++r) {
    EXPECT_EQ(DistributedSampler(n, r, w).num_samples(), 3u);
    EXPECT_EQ(DistributedSampler(n, r, w, DistributedSamplerOptions().tail(Tail::drop)).num_samples(), 2u);
  }
  EXPECT_EQ(pad.indices(), (std::vector<std::size_t>{padded[1], padded[5], padded[9]}));
}

TEST(DistributedSampler, EachEpochItsOwnOrderTheSameOnEveryRank) {
  DistributedSampler a(50, 1, 2, DistributedSamplerOptions().seed(3));
  DistributedSampler b(50, 1, 2, DistributedSamplerOptions().seed(3));
  const auto e0 = a.indices();
  a.set_epoch(1);
  const auto e1 = a.indices();
  EXPECT_NE(e0, e1);
  b.set_epoch(1);
  EXPECT_EQ(b.indices(), e1);
  a.set_epoch(0);
  EXPECT_EQ(a.indices(), e0);
  DistributedSampler unshuffled(6, 1, 2, DistributedSamplerOptions().shuffle(false));
  EXPECT_EQ(unshuffled.indices(), (std::vector<std::size_t>{1, 3, 5}));
}

TEST(DistributedSampler, BadArguments) {
  EXPECT_THROW(DistributedSampler(10, 0, 0), tapegrad::ValueError);
  EXPECT_THROW(DistributedSampler(10, 2, 2), tapegrad::ValueError);
  EXPECT_THROW(DistributedSampler(0, 0, 1), tapegrad::ValueError);
  try {
    DistributedSampler(3, 0, 4);
    FAIL() << "4 ranks for 3 examples";
  } catch (const tapegrad::ValueError& e) {
    EXPECT_STREQ(e.what(), "DistributedSampler: 4 ranks but only 3 examples: every rank needs at least one example "
                           "of its own");
  }
}

// The k-th batches of W loaders of batch b, interleaved, are the k-th batch of one loader of
// batch b·W walking the same shuffled order: a data-parallel epoch sees one process's batches.
TEST(DataLoaderWithSampler, RanksTogetherSeeTheBatchesOfOneProcess) {
  const std::size_t n = 103, b = 6;
  const auto ds = numbered(n);
  for (std::size_t w : {1, 2, 4}) {
    DataLoader<float> one(ds, DataLoaderOptions(b * w).shuffle(true).seed(9));
    std::vector<DataLoader<float>> ranks;
    for (std::size_t r = 0; r < w; ++r) {
      ranks.emplace_back(ds, DataLoaderOptions(b).sampler(
                                 DistributedSampler(n, r, w, DistributedSamplerOptions().seed(9).tail(Tail::exact))));
    }
    for (int e = 0; e < 2; ++e) {
      const auto want = epoch(one);
      std::vector<std::vector<std::vector<std::size_t>>> got;
      for (auto& l : ranks) {
        EXPECT_EQ(l.num_batches(), want.size());
        got.push_back(epoch(l));
        ASSERT_EQ(got.back().size(), want.size()) << "every rank has as many batches";
      }
      for (std::size_t k = 0; k < want.size(); ++k) {
        std::vector<std::size_t> merged(want[k].size());
        std::size_t count = 0;
        for (std::size_t r = 0; r < w; ++r) {
          for (std::size_t i = 0; i < got[r][k].size(); ++i) {
            ASSERT_LT(r + i * w, merged.size());
            merged[r + i * w] = got[r][k][i];
            ++count;
          }
        }
        EXPECT_EQ(count, want[k].size());
        EXPECT_EQ(merged, want[k]) << "W=" << w << " epoch " << e << " batch " << k;
      }
    }
  }
}

TEST(DataLoaderWithSampler, AShortLastGlobalBatchLeavesSomeRanksAnEmptyBatch) {
  // 97 = 4 x 24 + 1: global batch 4 holds one example, on rank 0; ranks 1-3 get empty batches.
  const auto ds = numbered(97);
  std::vector<std::size_t> last_sizes;
  for (std::size_t r = 0; r < 4; ++r) {
    DataLoader<float> l(ds, DataLoaderOptions(6).sampler(
                                DistributedSampler(97, r, 4, DistributedSamplerOptions().tail(Tail::exact))));
    const auto batches = epoch(l);
    ASSERT_EQ(batches.size(), 5u);
    for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(batches[k].size(), 6u);
    last_sizes.push_back(batches[4].size());
  }
  EXPECT_EQ(last_sizes, (std::vector<std::size_t>{1, 0, 0, 0}));
  // drop_last drops that global batch on every rank alike.
  DataLoader<float> l(ds, DataLoaderOptions(6).drop_last(true).sampler(
                              DistributedSampler(97, 0, 4, DistributedSamplerOptions().tail(Tail::exact))));
  EXPECT_EQ(l.num_batches(), 4u);
  EXPECT_EQ(epoch(l).size(), 4u);
}

TEST(DataLoaderWithSampler, BadCombinations) {
  const auto ds = numbered(20);
  EXPECT_THROW(DataLoader<float>(ds, DataLoaderOptions(4).shuffle(true).sampler(DistributedSampler(20, 0, 2))),
               tapegrad::ValueError);
  try {
    DataLoader<float>(ds, DataLoaderOptions(4).sampler(DistributedSampler(21, 0, 2)));
    FAIL() << "sampler for another dataset size";
  } catch (const tapegrad::ValueError& e) {
    EXPECT_STREQ(e.what(), "DataLoader: the sampler was made for 21 examples, but the dataset has 20");
  }
  try {
    DataLoader<float>(ds, DataLoaderOptions(8).drop_last(true).sampler(DistributedSampler(20, 0, 4)));
    FAIL() << "no batch in an epoch";
  } catch (const tapegrad::ValueError& e) {
    EXPECT_STREQ(e.what(), "DataLoader: no batch in an epoch: with drop_last, a global batch of 8 per rank x 4 "
                           "ranks is more than the 20 examples of an epoch");
  }
  // Without a sampler the same is an empty epoch, as in PyTorch (Errors.E69).
  EXPECT_EQ(DataLoader<float>(ds, DataLoaderOptions(21).drop_last(true)).num_batches(), 0u);
}

// A run resumed at (epoch e, batch k) sees the batches an uninterrupted run saw from there.
TEST(DataLoader, SetEpochResumesTheSameOrderMidEpoch) {
  const auto ds = numbered(40);
  for (bool with_sampler : {false, true}) {
    auto options = [&] {
      return with_sampler ? DataLoaderOptions(3).sampler(DistributedSampler(40, 1, 2, DistributedSamplerOptions().seed(4)))
                          : DataLoaderOptions(3).shuffle(true).seed(4);
    };
    DataLoader<float> full(ds, options());
    epoch(full);
    const auto second = epoch(full);  // epoch 1
    DataLoader<float> resumed(ds, options());
    resumed.set_epoch(1, 2);
    EXPECT_EQ(resumed.epoch(), 1u);
    const auto rest = epoch(resumed);
    ASSERT_EQ(rest.size(), second.size() - 2);
    EXPECT_TRUE(std::equal(rest.begin(), rest.end(), second.begin() + 2));
    EXPECT_EQ(resumed.epoch(), 2u);
    const auto third = epoch(resumed);  // then whole epochs again
    EXPECT_EQ(third, epoch(full));
    if (with_sampler) {
      EXPECT_EQ(resumed.sampler()->epoch(), 2u);
    }
    EXPECT_THROW(resumed.set_epoch(0, resumed.num_batches() + 1), tapegrad::ValueError);
  }
}
