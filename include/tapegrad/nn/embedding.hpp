#pragma once
/// A lookup table as a module: torch.nn.Embedding.
///
///     tapegrad::Rng rng(0);
///     tapegrad::Array<float> month_ids = {0, 11, 5};
///     tapegrad::nn::Embedding<float> months(tapegrad::nn::EmbeddingOptions(12, 4), rng);
///     auto e = months.forward(tape.constant(month_ids));   // ids (N,) -> (N, 4)
#include <cstddef>
#include <cstdint>
#include <optional>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"

namespace tapegrad::nn {

/// Options of Embedding, as libtorch's: `EmbeddingOptions(num, dim).padding_idx(0)`.
struct EmbeddingOptions {
  EmbeddingOptions(std::size_t num_embeddings, std::size_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  /// The number of rows (the size of the vocabulary or the number of categories).
  TAPEGRAD_ARG(std::size_t, num_embeddings);
  /// The size of each row.
  TAPEGRAD_ARG(std::size_t, embedding_dim);
  /// A row that starts at zeros and gets no gradient (negative counts from the end).
  TAPEGRAD_ARG(std::optional<std::int64_t>, padding_idx);
};

/// `weight` (num_embeddings, embedding_dim), drawn from N(0, 1) as PyTorch, with the padding
/// row zeroed. `forward(ids)` is `tapegrad::embedding(ids, weight, padding_idx)`: ids of any
/// shape holding integral values, a result of shape ids.shape() + (embedding_dim,).
/// The constructor throws ValueError for 0 rows or columns, a padding_idx outside
/// [−num_embeddings, num_embeddings), or more than kMaxNumel elements.
template <class T>
class Embedding : public Module<T> {
 public:
  Embedding(const EmbeddingOptions& options, Rng& rng);
  Embedding(std::size_t num_embeddings, std::size_t embedding_dim, Rng& rng)
      : Embedding(EmbeddingOptions(num_embeddings, embedding_dim), rng) {}
  Var<T> forward(const Var<T>& input);

  Parameter<T>& weight() { return this->param_at(0); }
  const EmbeddingOptions& options() const noexcept { return options_; }

 private:
  EmbeddingOptions options_;
};

}  // namespace tapegrad::nn
