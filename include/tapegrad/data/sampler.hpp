#pragma once
/// Layer 6: which examples each process of a data-parallel job visits. A DistributedSampler is
/// PyTorch's `torch.utils.data.DistributedSampler`: every epoch has one order of the whole
/// dataset, the same on every process (a seeded shuffle of epoch e), and process `rank` of
/// `world_size` takes positions rank, rank + W, rank + 2W, ... of it. It needs no MPI: the rank
/// and the world size are plain numbers (tapegrad::dist::Environment has them).
///
///     tapegrad::data::DistributedSampler sampler(train.size(), env.rank(), env.world_size(),
///         tapegrad::data::DistributedSamplerOptions().seed(42).tail(tapegrad::data::Tail::exact));
///     const std::size_t per_rank = 128 / std::size_t(env.world_size());   // a global batch of 128
///     tapegrad::data::DataLoader<float> loader(train, tapegrad::data::DataLoaderOptions(per_rank).sampler(sampler));
///     for (auto& batch : loader) train_on(batch);   // the loader sets the sampler's epoch itself
///
/// With a DataLoader of batch size b, batch k of rank r holds exactly r's share of positions
/// [k·b·W, (k+1)·b·W) of the epoch's order: the W ranks' k-th batches together are the k-th
/// batch of one process with batch size b·W walking the same order. With shuffling, that order is
/// the one a plain `DataLoaderOptions(b·W).shuffle(true).seed(s)` loader visits, so a data-parallel
/// run and a one-process run see the same global batches.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tapegrad::data {

/// What happens to the last N mod W examples of an epoch's order, N not being a multiple of W.
enum class Tail {
  /// PyTorch's default: the order is extended by repeating its first examples until every rank
  /// holds ⌈N/W⌉; those few examples are seen twice in the epoch.
  pad,
  /// PyTorch's `drop_last=True`: the last N mod W examples of the order are left out; every rank
  /// holds ⌊N/W⌋.
  drop,
  /// Every example exactly once: ranks r < N mod W hold one more than the others. Batches stay
  /// aligned across ranks (the DataLoader yields the same number on every rank), but a rank's
  /// share of the last, partial global batch may be smaller than another's, even empty (a Batch
  /// with `size() == 0`). This is the tail that makes W processes equal to one.
  exact,
};

/// Options of a DistributedSampler.
struct DistributedSamplerOptions {
  /// Shuffle the order each epoch (default true, as PyTorch); false: the dataset's order.
  DistributedSamplerOptions& shuffle(bool on) {
    shuffle_ = on;
    return *this;
  }
  /// The seed of the shuffling (default 0); it must be the same on every rank.
  DistributedSamplerOptions& seed(std::uint64_t s) {
    seed_ = s;
    return *this;
  }
  /// What to do with the examples left over (default Tail::pad, as PyTorch).
  DistributedSamplerOptions& tail(Tail t) {
    tail_ = t;
    return *this;
  }
  bool shuffle_ = true;
  std::uint64_t seed_ = 0;
  Tail tail_ = Tail::pad;
};

/// The examples of one rank of a data-parallel job, epoch by epoch.
class DistributedSampler {
 public:
  /// Throws ValueError for an empty dataset, a world size of 0, a rank outside [0, world_size),
  /// or more ranks than examples (a rank would hold none, or copies only).
  DistributedSampler(std::size_t dataset_size, std::size_t rank, std::size_t world_size,
                     const DistributedSamplerOptions& options = DistributedSamplerOptions());

  /// Chooses the epoch whose order `indices()` returns (default 0). A DataLoader sets it itself
  /// at the start of each of its epochs; call it when using the sampler alone.
  void set_epoch(std::uint64_t epoch) noexcept { epoch_ = epoch; }
  std::uint64_t epoch() const noexcept { return epoch_; }

  std::size_t dataset_size() const noexcept { return dataset_size_; }
  std::size_t rank() const noexcept { return rank_; }
  std::size_t world_size() const noexcept { return world_size_; }
  const DistributedSamplerOptions& options() const noexcept { return options_; }

  /// Examples in one epoch over all ranks: N (exact), ⌈N/W⌉·W (pad) or ⌊N/W⌋·W (drop).
  std::size_t total_size() const noexcept;
  /// Examples of this rank in one epoch (PyTorch's `len(sampler)`).
  std::size_t num_samples() const noexcept;
  /// The most any rank holds: ⌈total_size / W⌉.
  std::size_t max_samples() const noexcept;
  /// Batches each rank visits per epoch with batch size `batch_size` per rank: ⌈total / (b·W)⌉,
  /// or ⌊total / (b·W)⌋ when `drop_last` (then every batch is full on every rank). The same on
  /// every rank, so no rank waits on a collective the others never call.
  std::size_t num_batches(std::size_t batch_size, bool drop_last) const noexcept;

  /// This rank's examples for the current epoch, in the order it visits them: positions rank,
  /// rank + W, ... of the epoch's order.
  std::vector<std::size_t> indices() const;
  /// The same, written into `out` (reusing its memory).
  void indices(std::vector<std::size_t>& out) const;
  /// The epoch's order over all ranks (`total_size()` positions, padded or cut by the tail).
  void global_order(std::vector<std::size_t>& out) const;

 private:
  std::size_t dataset_size_, rank_, world_size_;
  DistributedSamplerOptions options_;
  std::uint64_t epoch_ = 0;
};

}  // namespace tapegrad::data
