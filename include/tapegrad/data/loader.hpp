#pragma once
/// Layer 6: mini-batches. A DataLoader walks a Dataset in batches, reshuffling for each epoch
/// when asked, and reuses one batch buffer: a steady loop allocates nothing per batch.
///
///     tapegrad::data::DataLoader<float> loader(train, tapegrad::data::DataLoaderOptions(128).shuffle(true).seed(1));
///     for (int epoch = 0; epoch < 10; ++epoch) {
///       for (auto& batch : loader) {                       // one epoch per loop
///         auto x = tape.constant(std::move(batch.features));  // no copy: see next()
///         auto loss = tapegrad::softmax_cross_entropy(model.forward(x), batch.targets);
///         tape.backward(loss);
///       }
///     }
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/data/sampler.hpp"
#include "tapegrad/random.hpp"

namespace tapegrad::data {

/// Options of a DataLoader; the batch size is required.
struct DataLoaderOptions {
  explicit DataLoaderOptions(std::size_t batch_size) : batch_size_(batch_size) {}
  TAPEGRAD_ARG(std::size_t, batch_size);
  /// Visit the examples in a new random order each epoch (default: in order).
  TAPEGRAD_ARG(bool, shuffle) = false;
  /// The seed of the shuffling. Epoch k's order depends only on the seed and k.
  TAPEGRAD_ARG(std::uint64_t, seed) = 0;
  /// Drop the last batch of an epoch when it is smaller than the batch size.
  TAPEGRAD_ARG(bool, drop_last) = false;
  /// Visit only this rank's share of each epoch (data/sampler.hpp); the batch size is then the
  /// batch size per rank. The sampler shuffles (its own options), so `shuffle(true)` with a
  /// sampler is an error; the loader sets the sampler's epoch at the start of each epoch. With a
  /// sampler, `drop_last` drops the last global batch (all ranks' batches together) when it is
  /// smaller than batch size × world size, on every rank alike.
  TAPEGRAD_ARG(std::optional<DistributedSampler>, sampler);
};

/// Iterates a dataset in mini-batches. Holds a reference to the dataset, which must outlive it.
template <class T>
class DataLoader {
 public:
  /// Throws ValueError for a batch size of 0, an empty dataset, or an epoch of no batches. With a
  /// sampler, also for `shuffle(true)` and for a sampler made for a dataset of another size.
  DataLoader(const Dataset<T>& dataset, const DataLoaderOptions& options);
  /// A loader over a temporary would dangle.
  DataLoader(const Dataset<T>&& dataset, const DataLoaderOptions& options) = delete;

  /// Batches per epoch.
  std::size_t num_batches() const noexcept;
  const DataLoaderOptions& options() const noexcept { return options_; }
  /// Epochs started so far (after `set_epoch(e)`: e until the next epoch starts).
  std::uint64_t epoch() const noexcept { return epoch_; }
  /// The sampler, if the options gave one (its epoch is the current epoch's).
  const DistributedSampler* sampler() const noexcept { return sampler_ ? &*sampler_ : nullptr; }

  /// Makes the next epoch started (by `reset()` or a range-for) epoch `epoch` (from 0), entered
  /// at batch `first_batch`: a resumed run continues the interrupted epoch's order where it
  /// stopped. Epoch e's order depends only on the seed and e, so a run resumed at (e, k) sees
  /// the batches an uninterrupted run saw. Throws ValueError if `first_batch` > num_batches().
  void set_epoch(std::uint64_t epoch, std::size_t first_batch = 0);

  /// Starts a new epoch (reshuffling if asked).
  void reset();
  /// The next batch of the current epoch, or nullptr at its end. With a sampler of
  /// `Tail::exact`, a rank's share of the last global batch may be empty: a batch with
  /// `size() == 0` (the other ranks' are not). The batch is a buffer of the
  /// loader, overwritten by the next call. Its arrays may be moved out (into
  /// `Tape::constant(Array&&)`, which hands back the buffer it held, so the next batch is
  /// gathered into that without allocating); next() reshapes whatever it finds there.
  Batch<T>* next();

  /// An input iterator over the batches of one epoch.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch<T>;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch<T>*;
    using reference = Batch<T>&;
    iterator() = default;
    reference operator*() const { return *batch_; }
    pointer operator->() const { return batch_; }
    iterator& operator++() {
      batch_ = loader_->next();
      return *this;
    }
    bool operator==(const iterator& o) const { return batch_ == o.batch_; }
    bool operator!=(const iterator& o) const { return batch_ != o.batch_; }

   private:
    friend class DataLoader;
    iterator(DataLoader* loader, Batch<T>* batch) : loader_(loader), batch_(batch) {}
    DataLoader* loader_ = nullptr;
    Batch<T>* batch_ = nullptr;
  };
  /// Starts a new epoch: each range-for over the loader is one epoch.
  iterator begin() {
    reset();
    return iterator(this, next());
  }
  iterator end() { return iterator(this, nullptr); }

 private:
  const Dataset<T>& dataset_;
  DataLoaderOptions options_;
  std::vector<std::size_t> order_;  // this epoch's examples (with a sampler: this rank's)
  std::size_t next_batch_ = 0;      // index of the batch next() returns
  std::size_t first_batch_ = 0;     // where the next epoch starts (set_epoch)
  std::uint64_t epoch_ = 0;
  bool started_ = false;
  std::optional<DistributedSampler> sampler_;
  Batch<T> batch_;
};

}  // namespace tapegrad::data
