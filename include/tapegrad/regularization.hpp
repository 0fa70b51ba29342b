#pragma once
/// Regularization ops: L2 and L1 penalties, and (inverted) dropout. Each is one op with one
/// backward rule (src/ops_regularization.cpp), gradchecked in tests/test_regularization.cpp.
///
///     // L2 as an explicit penalty: the same gradient as SGDOptions(lr).weight_decay(lambda)
///     auto loss = add(data_loss, l2_penalty(tape, model.parameters()) * (lambda / 2));
///     // or L1, which drives weights to exactly 0
///     auto sparse_loss = add(data_loss, l1_penalty(tape, model.parameters()) * lambda);
#include <vector>

#include "tapegrad/ops.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// Σ x², the squared L2 norm (a 0-d value); its gradient is 2x. Adding (λ/2)·l2_penalty(θ) to
/// a loss adds λθ to θ's gradient, exactly what `weight_decay(λ)` does in SGD and Adam (not
/// AdamW, whose decay is decoupled from the gradient).
template <class T>
Var<T> l2_penalty(const Var<T>& x);
/// Σ over `params` of l2_penalty, the parameters bound to `tape`; 0 for an empty list.
/// Pass the parameters to penalise, e.g. only the weights, not the biases.
template <class T>
Var<T> l2_penalty(Tape<T>& tape, const std::vector<Parameter<T>>& params);

/// Σ |x|, the L1 norm (a 0-d value). Its gradient is sign(x), and at x = 0, where |x| has no
/// derivative, it uses the subgradient 0 (as PyTorch's abs does): a weight that is exactly 0
/// stays 0 under plain gradient descent on this term.
template <class T>
Var<T> l1_penalty(const Var<T>& x);
/// Σ over `params` of l1_penalty, the parameters bound to `tape`; 0 for an empty list.
template <class T>
Var<T> l1_penalty(Tape<T>& tape, const std::vector<Parameter<T>>& params);

/// Inverted dropout: each element is zeroed with probability p and the survivors are scaled by
/// 1/(1 − p), so the expected value is unchanged and evaluation needs no rescaling. The mask is
/// drawn from `rng` (one uniform draw per element, in order: the same seed gives the same mask)
/// and saved in the tape entry, so backward multiplies by the same mask. p = 0 returns x
/// itself; p = 1 zeroes everything. Throws ValueError for p outside [0, 1].
/// This op always drops: nn::Dropout applies it in training mode only.
template <class T>
Var<T> dropout(const Var<T>& x, double p, Rng& rng);

/// x · mask with a given mask of x's shape (for dropout with a fixed mask, e.g. in gradcheck,
/// where the function is evaluated many times and must draw the same mask every time). The
/// mask is copied into the tape entry. Throws ShapeError if the shapes differ.
template <class T>
Var<T> dropout_with_mask(const Var<T>& x, const Array<detail::scalar_t<T>>& mask);

/// The mask `dropout(x, p, rng)` would draw for shape `shape`: 0 with probability p, else
/// 1/(1 − p). Throws ValueError for p outside [0, 1] or a shape of more than kMaxNumel elements.
template <class T>
Array<T> dropout_mask(const Shape& shape, double p, Rng& rng);

}  // namespace tapegrad
