#include "tapegrad/data/sampler.hpp"

#include <algorithm>

#include "data/order.hpp"
#include "tapegrad/error.hpp"

namespace tapegrad::data {

DistributedSampler::DistributedSampler(std::size_t dataset_size, std::size_t rank, std::size_t world_size,
                                       const DistributedSamplerOptions& options)
    : dataset_size_(dataset_size), rank_(rank), world_size_(world_size), options_(options) {
  TG_CHECK(ValueError, world_size_ > 0, "DistributedSampler: the world size must be positive");
  TG_CHECK(ValueError, rank_ < world_size_, "DistributedSampler: rank ", rank_, " is not in [0, ", world_size_, ")");
  TG_CHECK(ValueError, dataset_size_ > 0, "DistributedSampler: the dataset is empty");
  TG_CHECK(ValueError, world_size_ <= dataset_size_, "DistributedSampler: ", world_size_, " ranks but only ",
           dataset_size_, " examples: every rank needs at least one example of its own");
}

std::size_t DistributedSampler::total_size() const noexcept {
  const std::size_t n = dataset_size_, w = world_size_;
  switch (options_.tail_) {
    case Tail::pad:
      return (n + w - 1) / w * w;
    case Tail::drop:
      return n / w * w;
    case Tail::exact:
      break;
  }
  return n;
}

std::size_t DistributedSampler::num_samples() const noexcept {
  const std::size_t total = total_size();
  return total / world_size_ + (rank_ < total % world_size_ ? 1 : 0);
}

std::size_t DistributedSampler::max_samples() const noexcept {
  return (total_size() + world_size_ - 1) / world_size_;
}

std::size_t DistributedSampler::num_batches(std::size_t batch_size, bool drop_last) const noexcept {
  if (batch_size == 0) return 0;
  const std::size_t global = batch_size * world_size_, total = total_size();
  return drop_last ? total / global : (total + global - 1) / global;
}

void DistributedSampler::global_order(std::vector<std::size_t>& out) const {
  detail::epoch_order(out, dataset_size_, options_.shuffle_, options_.seed_, epoch_);
  const std::size_t total = total_size();
  if (total <= dataset_size_) {
    out.resize(total);  // drop: cut the tail
    return;
  }
  // pad: repeat the order's first examples (world_size <= dataset_size, so one pass suffices).
  out.reserve(total);
  for (std::size_t i = 0; out.size() < total; ++i) out.push_back(out[i]);
}

void DistributedSampler::indices(std::vector<std::size_t>& out) const {
  std::vector<std::size_t> order;
  global_order(order);
  out.clear();
  out.reserve(num_samples());
  for (std::size_t p = rank_; p < order.size(); p += world_size_) out.push_back(order[p]);
}

std::vector<std::size_t> DistributedSampler::indices() const {
  std::vector<std::size_t> out;
  indices(out);
  return out;
}

}  // namespace tapegrad::data
