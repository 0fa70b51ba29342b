#include "tapegrad/nn/embedding.hpp"

#include <algorithm>

#include "instantiate.hpp"
#include "tapegrad/embedding.hpp"

namespace tapegrad::nn {

template <class T>
Embedding<T>::Embedding(const EmbeddingOptions& options, Rng& rng) : options_(options) {
  const std::size_t rows = options.num_embeddings(), dim = options.embedding_dim();
  TG_CHECK(ValueError, rows > 0 && dim > 0, "Embedding: num_embeddings and embedding_dim must be positive, got (", rows,
           ", ", dim, ")");
  checked_numel("Embedding", {rows, dim});
  if (options.padding_idx()) {
    const std::int64_t p = *options.padding_idx(), r = std::int64_t(rows);
    TG_CHECK(ValueError, p >= -r && p < r, "Embedding: padding_idx ", p, " is outside [", -r, ", ", r, ")");
    options_.padding_idx(p < 0 ? p + r : p);  // stored as a row, as PyTorch does
  }
  Array<T> w = rng.normal<T>({rows, dim});
  if (options_.padding_idx()) {
    T* row = w.data() + std::size_t(*options_.padding_idx()) * dim;
    std::fill(row, row + dim, T(0));
  }
  this->register_parameter("weight", std::move(w));
}

template <class T>
Var<T> Embedding<T>::forward(const Var<T>& input) {
  return embedding(input, weight(), options_.padding_idx());
}

#define TAPEGRAD_SECTION(T) template class Embedding<T>;
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::nn
