#pragma once
/// Attention as one fused op: PyTorch 2's `torch.nn.functional.scaled_dot_product_attention`.
/// nn::MultiheadAttention (nn/attention.hpp) runs on the same op.
///
///     // q (N, heads, L, E), k (N, heads, S, E), v (N, heads, S, Ev): here self-attention on x
///     auto o = tapegrad::scaled_dot_product_attention(x, x, x, {}, 0.0, /*is_causal=*/true);
///
/// **Fused.** One op computes, for each leading index, softmax(q kᵀ·scale + mask)·v: the scores,
/// the masking, the softmax (stable: the row maximum first), the dropout and the product with v,
/// keeping the attention weights for backward; its backward rule is the whole chain at once
/// (dV = Pᵀ dO, dP = dO vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS k·scale, dK = dSᵀ q·scale).
/// The work is cut over tapegrad's threads by leading index (batch and head).
///
/// **Where tapegrad differs from PyTorch:** a row whose every score is masked out (a query that
/// may attend to nothing) gets attention weights of 0 and an output of 0, where PyTorch's math
/// gives NaN. A float mask is a constant (no gradient flows into it).
#include <optional>

#include "tapegrad/ops.hpp"  // detail::scalar_t
#include "tapegrad/random.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// Boolean masks (PyTorch's bool tensors). The same type as tapegrad/indexing.hpp's.
using BoolArray = xt::xarray<bool>;

/// An optional attention mask: boolean, or additive float. Converts from either array, so a call
/// passes the array itself; a default-constructed mask is PyTorch's None.
template <class T>
class AttentionMask {
 public:
  AttentionMask() = default;
  /// True where a query may attend to a key (scaled_dot_product_attention's convention; note
  /// that nn::MultiheadAttention's boolean masks mean the opposite, as PyTorch's).
  AttentionMask(const BoolArray& allowed) : bool_(&allowed) {}  // NOLINT: implicit, as a PyTorch argument
  /// Added to the scores; -inf blocks.
  AttentionMask(const Array<T>& additive) : float_(&additive) {}  // NOLINT
  bool empty() const noexcept { return bool_ == nullptr && float_ == nullptr; }
  const BoolArray* boolean() const noexcept { return bool_; }
  const Array<T>* additive() const noexcept { return float_; }
  const Shape& shape() const { return bool_ ? bool_->shape() : float_->shape(); }

 private:
  const BoolArray* bool_ = nullptr;  // the caller's array, read during the call only
  const Array<T>* float_ = nullptr;
};

/// softmax(query·keyᵀ·scale + mask)·value, PyTorch 2's `scaled_dot_product_attention(query,
/// key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None)`.
///
/// query (..., L, E), key (..., S, E), value (..., S, Ev), with the same leading dimensions;
/// the result is (..., L, Ev). `scale` defaults to 1/√E. `attn_mask` broadcasts to (..., L, S):
/// boolean (true = take part) or additive. `is_causal`: query i attends to keys j ≤ i (PyTorch's
/// top-left causal mask). `dropout_p` > 0 drops attention weights with probability p (and
/// scales the rest by 1/(1 − p)), drawing from `rng`; call it with dropout_p = 0 in evaluation.
///
/// Errors: ShapeError for ranks below 2, leading dimensions that differ, E or S that differ
/// between the operands, or a mask that does not broadcast (the mask's leading dimensions
/// broadcast as one group except the last: (L, S), (h, L, S), (B, 1, L, S), (B, h, L, S) over
/// (B, h, L, S) all do); ValueError for dropout_p outside [0, 1), dropout without an Rng, an
/// attn_mask together with is_causal (as PyTorch) or a scale that is not finite.
template <class T>
Var<T> scaled_dot_product_attention(const Var<T>& query, const Var<T>& key, const Var<T>& value,
                                    const AttentionMask<detail::scalar_t<T>>& attn_mask = {}, double dropout_p = 0,
                                    bool is_causal = false, std::optional<double> scale = std::nullopt,
                                    Rng* rng = nullptr);

}  // namespace tapegrad
