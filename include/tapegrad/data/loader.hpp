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
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/data/dataset.hpp"
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
};

/// Iterates a dataset in mini-batches. Holds a reference to the dataset, which must outlive it.
template <class T>
class DataLoader {
 public:
  /// Throws ValueError for a batch size of 0 or an empty dataset.
  DataLoader(const Dataset<T>& dataset, const DataLoaderOptions& options);
  /// A loader over a temporary would dangle.
  DataLoader(const Dataset<T>&& dataset, const DataLoaderOptions& options) = delete;

  /// Batches per epoch.
  std::size_t num_batches() const noexcept;
  const DataLoaderOptions& options() const noexcept { return options_; }
  /// Epochs started so far.
  std::uint64_t epoch() const noexcept { return epoch_; }

  /// Starts a new epoch (reshuffling if asked).
  void reset();
  /// The next batch of the current epoch, or nullptr at its end. The batch is a buffer of the
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
  std::vector<std::size_t> order_;
  std::size_t position_ = 0;
  std::uint64_t epoch_ = 0;
  Batch<T> batch_;
};

}  // namespace tapegrad::data
