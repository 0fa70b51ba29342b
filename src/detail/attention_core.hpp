#pragma once
// The fused attention op behind scaled_dot_product_attention and nn::MultiheadAttention
// (src/attention.cpp). It reads q, k and v in place, wherever they sit in their inputs (a
// multi-head attention's q, k and v are column blocks of one projection), and writes its output
// in whatever row layout the caller wants, so no reshape, transpose or split is ever copied.
#include <cstddef>

#include "tapegrad/random.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::detail {

/// Where the (batch b, head h) matrix of an operand starts and how its rows are laid out: row i
/// of it is at source + offset + b·batch_stride + h·head_stride + i·row_stride, its columns
/// contiguous.
struct AttnOperand {
  std::size_t source = 0, offset = 0, batch_stride = 0, head_stride = 0, row_stride = 0;
};

/// A mask added to the (b, h) scores: element (i, j) at b·batch_stride + h·head_stride +
/// i·row_stride + j·col_stride (0 strides broadcast). Additive, or boolean: blocked where the
/// value equals `block_value`.
template <class T>
struct AttnMaskRef {
  const T* additive = nullptr;
  const bool* boolean = nullptr;
  bool block_value = false;
  std::size_t batch_stride = 0, head_stride = 0, row_stride = 0, col_stride = 0;
};

struct AttnSpec {
  std::size_t batch = 1, heads = 1, L = 0, S = 0, E = 0, Ev = 0;
  AttnOperand q, k, v, o;  // o.source is unused: the output
  bool causal = false;
  /// Append the attention weights (after dropout, as PyTorch returns them), (batch, heads, L, S),
  /// to the output, which is then 1-D: the output's numel(out_shape) elements, then the weights.
  bool weights = false;
  double scale = 1, dropout = 0;
};

/// The op: `sources` (1 to 3 distinct values) hold q, k and v as the spec says; up to two masks.
/// `rng` draws the dropout mask when spec.dropout > 0.
template <class T>
Var<T> attention_core(const char* name, const Var<T>* sources, std::size_t n_sources, const AttnSpec& spec,
                      const Shape& out_shape, const AttnMaskRef<T>* masks, std::size_t n_masks, Rng* rng);

}  // namespace tapegrad::detail
