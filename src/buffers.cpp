#include "tapegrad/buffers.hpp"

#include "instantiate.hpp"

namespace tapegrad::detail {

template <class T>
Array<T> BufferPool<T>::acquire(const Shape& shape) {
  const std::size_t n = numel(shape);
  for (auto& [size, list] : free_) {
    if (size == n && !list.empty()) {
      Array<T> a = std::move(list.back());
      list.pop_back();
      bytes_ -= n * sizeof(T);
      a.resize(shape);  // same element count: no reallocation
      return a;
    }
  }
  return Array<T>(shape);
}

template <class T>
void BufferPool<T>::release(Array<T>& a) {
  const std::size_t n = a.size();
  if (n == 0 || a.data() == nullptr) return;
  auto it = std::find_if(free_.begin(), free_.end(), [n](const auto& p) { return p.first == n; });
  if (it == free_.end()) {
    free_.emplace_back(n, std::vector<Array<T>>{});
    it = free_.end() - 1;
  }
  it->second.push_back(std::move(a));
  a = empty_array<T>();
  bytes_ += n * sizeof(T);
}

#define TAPEGRAD_POOL(T) template class BufferPool<T>;
TAPEGRAD_INSTANTIATE(TAPEGRAD_POOL)

}  // namespace tapegrad::detail
