#pragma once
/// Lookup: rows of a table selected by integer indices, with PyTorch's name and arguments
/// (torch.nn.functional.embedding). One op with one backward rule (src/embedding.cpp),
/// gradchecked in tests/test_embedding.cpp. Defined for float and double.
///
///     tapegrad::Parameter<float> table(rng.normal<float>({10, 4}));      // 10 rows of 4
///     auto ids = tape.constant(tapegrad::Array<float>{{1, 2}, {4, 9}});   // (2, 2) indices
///     auto e = tapegrad::embedding(ids, table);                            // (2, 2, 4)
#include <cstdint>
#include <optional>

#include "tapegrad/array.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// Row i of `weight` (num_embeddings, embedding_dim) for each index i of `input`: the result has
/// shape input.shape() + (embedding_dim,). PyTorch's `embedding(input, weight, padding_idx=None)`.
///
/// `input` holds integral values in [0, num_embeddings) (a constant on the tape, e.g.
/// `tape.constant(batch_of_ids)`; it gets no gradient). Values are T, so float indices are
/// exact up to 2^24. The gradient of weight is accumulated per row: a row selected k times gets
/// the sum of the k gradients; the row `padding_idx` (negative counts from the end) gets none,
/// as in PyTorch (its value is used as it is: nn::Embedding zeroes it at construction).
///
/// Throws ShapeError unless weight is 2-D; ValueError for an index that is not an integer in
/// [0, num_embeddings) (naming its position and value) or a padding_idx outside
/// [−num_embeddings, num_embeddings).
template <class T>
Var<T> embedding(const Var<T>& input, const Var<T>& weight, std::optional<std::int64_t> padding_idx = std::nullopt);

}  // namespace tapegrad
