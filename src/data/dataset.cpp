#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "data/order.hpp"
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/kernels.hpp"

namespace tapegrad::data {

namespace {
Shape tail(const Shape& s) { return Shape(s.begin() + 1, s.end()); }

Shape with_rows(std::size_t n, const Shape& example) {
  Shape s(example.size() + 1);
  s[0] = n;
  std::copy(example.begin(), example.end(), s.begin() + 1);
  return s;
}

// Resizes `a` to `shape` only when needed: a same-size reshape keeps its buffer.
template <class T>
void shape_as(Array<T>& a, const Shape& shape) {
  if (a.shape() != shape) a.resize(shape);
}

}  // namespace

template <class T>
TensorDataset<T>::TensorDataset(Array<T> features, Array<T> targets)
    : features_(std::move(features)), targets_(std::move(targets)) {
  TG_CHECK(ShapeError, features_.dimension() >= 1 && targets_.dimension() >= 1, "TensorDataset: features ",
           to_string(features_.shape()), " and targets ", to_string(targets_.shape()),
           " need a first axis (the example)");
  TG_CHECK(ShapeError, features_.shape()[0] == targets_.shape()[0], "TensorDataset: features ",
           to_string(features_.shape()), " and targets ", to_string(targets_.shape()),
           " have different numbers of examples");
}

template <class T>
Shape TensorDataset<T>::feature_shape() const {
  return tail(features_.shape());
}

template <class T>
Shape TensorDataset<T>::target_shape() const {
  return tail(targets_.shape());
}

template <class T>
void TensorDataset<T>::gather(const std::size_t* indices, std::size_t n, Batch<T>& out) const {
  const std::size_t N = size();
  for (std::size_t k = 0; k < n; ++k) {
    TG_CHECK(ValueError, indices[k] < N, "TensorDataset: index ", indices[k], " out of range for ", N,
             " examples");
  }
  const Shape feature_rows = with_rows(n, feature_shape()), target_rows = with_rows(n, target_shape());
  checked_numel("TensorDataset::gather: features", feature_rows);
  checked_numel("TensorDataset::gather: targets", target_rows);
  shape_as(out.features, feature_rows);
  shape_as(out.targets, target_rows);
  out.count = n;
  const std::size_t fs = numel(feature_shape()), ts = numel(target_shape());
  T* const features = out.features.data();
  T* const targets = out.targets.data();
  // Examples of 0 features (or targets) have nothing to copy, and their arrays may have no
  // buffer at all: memcpy from or to a null pointer is undefined even for 0 bytes.
  const bool copy_features = fs > 0, copy_targets = ts > 0;
  // Rows scattered over a large dataset come from memory, not cache: two threads copying keep
  // twice as many cache misses in flight (measured on Fashion-MNIST's 128 x 784 batches).
  kernels::parallel_for_rows(n, fs, [&](std::size_t begin, std::size_t end) {
    for (std::size_t k = begin; k < end; ++k) {
      if (copy_features) std::memcpy(features + k * fs, features_.data() + indices[k] * fs, fs * sizeof(T));
      if (copy_targets) std::memcpy(targets + k * ts, targets_.data() + indices[k] * ts, ts * sizeof(T));
    }
  });
}

template <class T>
TensorDataset<T> TensorDataset<T>::subset(const std::vector<std::size_t>& indices) const {
  Batch<T> b;
  gather(indices.data(), indices.size(), b);
  return TensorDataset<T>(std::move(b.features), std::move(b.targets));
}

template <class T>
std::pair<TensorDataset<T>, TensorDataset<T>> train_val_split(const TensorDataset<T>& dataset, double fraction,
                                                               std::uint64_t seed) {
  TG_CHECK(ValueError, fraction > 0 && fraction < 1, "train_val_split: fraction ", fraction,
           " is not in (0, 1)");
  const std::size_t n = dataset.size();
  const auto n_val = std::size_t(std::llround(fraction * double(n)));
  TG_CHECK(ValueError, n_val > 0 && n_val < n, "train_val_split: a fraction of ", fraction, " of ", n,
           " examples leaves a part empty");
  Rng rng(seed);
  std::vector<std::size_t> order;
  detail::shuffled_identity(order, n, rng);
  const std::vector<std::size_t> val(order.begin(), order.begin() + std::ptrdiff_t(n_val));
  const std::vector<std::size_t> train(order.begin() + std::ptrdiff_t(n_val), order.end());
  return {dataset.subset(train), dataset.subset(val)};
}

// ---- DataLoader ---------------------------------------------------------------------------------

template <class T>
DataLoader<T>::DataLoader(const Dataset<T>& dataset, const DataLoaderOptions& options)
    : dataset_(dataset), options_(options), sampler_(options.sampler()) {
  TG_CHECK(ValueError, options_.batch_size() > 0, "DataLoader: the batch size must be positive");
  TG_CHECK(ValueError, dataset_.size() > 0, "DataLoader: the dataset is empty");
  if (sampler_) {
    TG_CHECK(ValueError, !options_.shuffle(),
             "DataLoader: shuffle(true) with a sampler: the sampler shuffles (DistributedSamplerOptions::shuffle)");
    TG_CHECK(ValueError, sampler_->dataset_size() == dataset_.size(), "DataLoader: the sampler was made for ",
             sampler_->dataset_size(), " examples, but the dataset has ", dataset_.size());
    TG_CHECK(ValueError, num_batches() > 0, "DataLoader: no batch in an epoch: with drop_last, a global batch of ",
             options_.batch_size(), " per rank x ", sampler_->world_size(), " ranks is more than the ",
             sampler_->total_size(), " examples of an epoch");
  }
  // Without a sampler, drop_last with a batch larger than the dataset gives an empty epoch, as
  // PyTorch does (Errors.E69); across ranks an empty epoch is refused, since every rank would
  // silently skip training while the job reports success.
}

template <class T>
std::size_t DataLoader<T>::num_batches() const noexcept {
  const std::size_t b = options_.batch_size();
  if (sampler_) return sampler_->num_batches(b, options_.drop_last());
  const std::size_t n = dataset_.size();
  // Not (n + b - 1) / b: that overflows for a batch size near SIZE_MAX.
  return n / b + (!options_.drop_last() && n % b != 0 ? 1 : 0);
}

template <class T>
void DataLoader<T>::set_epoch(std::uint64_t epoch, std::size_t first_batch) {
  TG_CHECK(ValueError, first_batch <= num_batches(), "DataLoader::set_epoch: batch ", first_batch,
           " is past the end of an epoch of ", num_batches(), " batches");
  epoch_ = epoch;
  first_batch_ = first_batch;
  started_ = false;
}

template <class T>
void DataLoader<T>::reset() {
  const std::uint64_t e = epoch_;  // the epoch starting now, from 0
  if (sampler_) {
    sampler_->set_epoch(e);
    sampler_->indices(order_);
  } else if (options_.shuffle() || order_.size() != dataset_.size()) {
    detail::epoch_order(order_, dataset_.size(), options_.shuffle(), options_.seed(), e);
  }
  next_batch_ = first_batch_;
  first_batch_ = 0;
  ++epoch_;
  started_ = true;
}

template <class T>
Batch<T>* DataLoader<T>::next() {
  if (!started_) reset();  // next() before any reset() starts the first epoch
  if (next_batch_ >= num_batches()) return nullptr;
  // Batch k is positions [k b, (k+1) b) of this epoch's examples. With a sampler those are this
  // rank's share of global batch k, which for Tail::exact may be short or empty on some ranks.
  const std::size_t b = options_.batch_size(), n = order_.size();
  const std::size_t begin = std::min(n, next_batch_ * b);
  const std::size_t count = std::min(b, n - begin);
  dataset_.gather(order_.data() + begin, count, batch_);
  batch_.count = count;
  ++next_batch_;
  return &batch_;
}

template class TensorDataset<float>;
template class TensorDataset<double>;
template class DataLoader<float>;
template class DataLoader<double>;
template std::pair<TensorDataset<float>, TensorDataset<float>> train_val_split(const TensorDataset<float>&, double,
                                                                               std::uint64_t);
template std::pair<TensorDataset<double>, TensorDataset<double>> train_val_split(const TensorDataset<double>&,
                                                                                 double, std::uint64_t);

}  // namespace tapegrad::data
