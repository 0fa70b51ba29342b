#pragma once
/// Layer 6: datasets. A Dataset is a numbered collection of examples, each a features array and
/// a targets array of fixed per-example shapes; a DataLoader (data/loader.hpp) cuts it into
/// mini-batches. TensorDataset keeps everything in two arrays whose first axis is the example.
///
///     tapegrad::data::TensorDataset<float> all(features, targets);   // (569, 30) and (569,)
///     auto [train, test] = tapegrad::data::train_val_split(all, 0.2, /*seed=*/42);
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "tapegrad/array.hpp"

namespace tapegrad::data {

/// A mini-batch: the features and targets of `size()` examples, stacked along a new first axis.
template <class T>
struct Batch {
  Array<T> features = empty_array<T>();  ///< (n, feature_shape...)
  Array<T> targets = empty_array<T>();   ///< (n, target_shape...)
  /// n, set with the arrays (by DataLoader, Dataset::get, TensorDataset::gather); kept apart
  /// from them so that it stays right after `features` is moved into a tape.
  std::size_t count = 0;
  std::size_t size() const { return count; }
};

/// The interface of every dataset. Implementations are read-only and safe to share.
template <class T>
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of examples.
  virtual std::size_t size() const = 0;
  /// The shape of one example's features, e.g. (784) for a flattened image.
  virtual Shape feature_shape() const = 0;
  /// The shape of one example's targets: () for a class index, (1) for a binary target.
  virtual Shape target_shape() const = 0;
  /// Writes examples `indices[0..n)` into `out`, reshaping its arrays to (n, ...). Arrays that
  /// already have that many elements are reused, not reallocated. Throws ValueError for an
  /// index out of range, or when (n, ...) has more than kMaxNumel elements (checked_numel).
  virtual void gather(const std::size_t* indices, std::size_t n, Batch<T>& out) const = 0;
  /// Example i, as a batch of one.
  Batch<T> get(std::size_t i) const {
    Batch<T> b;
    gather(&i, 1, b);
    b.count = 1;
    return b;
  }
};

/// A dataset held in memory: `features` (N, ...) and `targets` (N, ...), example i being row i
/// of each.
template <class T>
class TensorDataset : public Dataset<T> {
 public:
  /// Throws ShapeError unless both arrays have at least one axis and the same first extent.
  TensorDataset(Array<T> features, Array<T> targets);

  std::size_t size() const override { return features_.shape()[0]; }
  Shape feature_shape() const override;
  Shape target_shape() const override;
  void gather(const std::size_t* indices, std::size_t n, Batch<T>& out) const override;

  const Array<T>& features() const noexcept { return features_; }
  const Array<T>& targets() const noexcept { return targets_; }
  /// Mutable features, e.g. to standardise them in place (the shape must not change).
  Array<T>& features() noexcept { return features_; }

  /// A new dataset of the examples `indices`, in that order (copies).
  TensorDataset subset(const std::vector<std::size_t>& indices) const;

 private:
  Array<T> features_;
  Array<T> targets_;
};

/// Splits `dataset` at random into (train, validation), the validation part holding
/// round(fraction · N) examples. The same seed gives the same split. Throws ValueError unless
/// 0 < fraction < 1 and both parts are non-empty.
template <class T>
std::pair<TensorDataset<T>, TensorDataset<T>> train_val_split(const TensorDataset<T>& dataset, double fraction,
                                                               std::uint64_t seed);

}  // namespace tapegrad::data
