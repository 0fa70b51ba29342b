#pragma once
/// Storage that is reused from step to step, so that a steady training loop allocates nothing:
/// the pool of free arrays a tape draws its buffers from, and a vector that keeps its storage
/// across clear(). Array layer; no autograd here.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "tapegrad/array.hpp"

namespace tapegrad::detail {

/// A vector whose storage survives clear(), with a push_back that is a compare and a store
/// (std::vector's takes a call per element here): an entry's inputs.
template <class V>
class ReusedVector {
 public:
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  void clear() noexcept { n_ = 0; }
  V& operator[](std::size_t i) noexcept { return data_[i]; }
  const V& operator[](std::size_t i) const noexcept { return data_[i]; }
  V& back() noexcept { return data_[n_ - 1]; }
  const V* begin() const noexcept { return data_.get(); }
  const V* end() const noexcept { return data_.get() + n_; }
  void push_back(const V& v) {
    if (n_ == capacity_) grow(n_ + 1);
    data_[n_++] = v;
  }
  /// Sets the size to n, keeping the first min(n, size()) elements.
  void resize(std::size_t n) {
    if (n > capacity_) grow(n);
    n_ = std::uint32_t(n);
  }

 private:
  void grow(std::size_t at_least) {
    capacity_ = std::uint32_t(std::max<std::size_t>({4, 2 * std::size_t(capacity_), at_least}));
    std::unique_ptr<V[]> bigger(new V[capacity_]);
    std::copy(data_.get(), data_.get() + n_, bigger.get());
    data_ = std::move(bigger);
  }
  std::unique_ptr<V[]> data_;
  std::uint32_t n_ = 0, capacity_ = 0;
};

/// Buffers returned by a cleared tape, reused by the next step. Keyed by element count:
/// resizing an xtensor array to another shape of the same size does not reallocate.
template <class T>
class BufferPool {
 public:
  Array<T> acquire(const Shape& shape);
  void release(Array<T>& a);
  std::size_t bytes_held() const noexcept { return bytes_; }

 private:
  std::vector<std::pair<std::size_t, std::vector<Array<T>>>> free_;
  std::size_t bytes_ = 0;
};
}  // namespace tapegrad::detail
