#pragma once
/// Multi-head attention with PyTorch's names, options, parameters and masks:
/// torch.nn.MultiheadAttention.
///
///     tapegrad::Rng rng(0);
///     tapegrad::nn::MultiheadAttention<float> mha(
///         tapegrad::nn::MultiheadAttentionOptions(64, 4).batch_first(true), rng);
///     auto r = mha.forward(x, x, x);   // x (B, L, 64): r.output (B, L, 64), r.weights (B, L, L)
///
/// Parameters (PyTorch's names and order): `in_proj_weight` (3E, E) — q, k, v stacked, PyTorch's
/// (out, in) layout —, `in_proj_bias` (3E,), and the output projection `out_proj`, a tapegrad
/// Linear: `out_proj.weight` (E, E) in Linear's (in, out) layout (PyTorch's transposed, as every
/// tapegrad Linear; docs/checkpoint_to_pytorch.py converts), `out_proj.bias` (1, E). Initialised
/// as PyTorch: in_proj_weight Xavier-uniform, out_proj.weight U(−1/√E, 1/√E), biases 0.
///
/// A forward is three ops for self-attention (query, key and value the same value): the input
/// projection (one GEMM for q, k and v), the fused attention (tapegrad/attention.hpp's op, reading
/// each head's q, k, v in place: no reshape, transpose or split is copied), and the output
/// projection. Not supported: kdim/vdim ≠ embed_dim, add_bias_kv, add_zero_attn.
#include <cstddef>

#include "tapegrad/arg.hpp"
#include "tapegrad/attention.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"

namespace tapegrad::nn {

struct MultiheadAttentionOptions {
  MultiheadAttentionOptions(std::size_t embed_dim, std::size_t num_heads) : embed_dim_(embed_dim), num_heads_(num_heads) {}
  TAPEGRAD_ARG(std::size_t, embed_dim);
  TAPEGRAD_ARG(std::size_t, num_heads);
  /// Dropout on the attention weights, in training mode.
  TAPEGRAD_ARG(double, dropout) = 0;
  /// in_proj_bias and out_proj.bias.
  TAPEGRAD_ARG(bool, bias) = true;
  /// Inputs and output (B, L, E) instead of (L, B, E).
  TAPEGRAD_ARG(bool, batch_first) = false;
};

/// What MultiheadAttention::forward returns, as PyTorch's (attn_output, attn_weights).
template <class T>
struct AttentionResult {
  Var<T> output;
  /// (B, L, S) averaged over heads, or (B, heads, L, S); undefined unless need_weights. After
  /// dropout, as PyTorch returns them; they carry gradients too.
  Var<T> weights;
};

/// Throws ValueError when num_heads does not divide embed_dim, for a size of 0, or a dropout
/// outside [0, 1).
template <class T>
class MultiheadAttention : public Module<T> {
 public:
  MultiheadAttention(const MultiheadAttentionOptions& options, Rng& rng);

  /// query (B, L, E) with batch_first, else (L, B, E), or (L, E) unbatched; key and value
  /// (B, S, E) likewise. key_padding_mask (B, S) (or (S,)): boolean, true = ignore that key, or
  /// additive. attn_mask (L, S) or (B·heads, L, S): boolean, true = may not attend, or additive.
  /// is_causal: query i attends to keys j ≤ i (also without attn_mask). Throws ShapeError for
  /// inputs or masks of the wrong shape (naming which and the shapes).
  AttentionResult<T> forward(const Var<T>& query, const Var<T>& key, const Var<T>& value,
                             const AttentionMask<T>& key_padding_mask = {}, bool need_weights = true,
                             const AttentionMask<T>& attn_mask = {}, bool average_attn_weights = true,
                             bool is_causal = false);

  Parameter<T>& in_proj_weight() { return this->param_at(0); }
  /// Throws ValueError without bias.
  Parameter<T>& in_proj_bias() { return options_.bias() ? this->param_at(1) : this->param("in_proj_bias"); }
  Linear<T>& out_proj() { return *out_proj_; }
  const MultiheadAttentionOptions& options() const noexcept { return options_; }

 private:
  MultiheadAttentionOptions options_;
  std::shared_ptr<Linear<T>> out_proj_;
  Rng rng_;  // dropout masks
};

}  // namespace tapegrad::nn
