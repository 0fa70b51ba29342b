#pragma once
/// Elementwise functions and activations, each an op with its own backward rule
/// (src/pointwise.cpp), gradchecked in tests/test_ops.cpp and tests/test_pointwise.cpp. Same
/// shape in and out; the ops of two values (pow, maximum, minimum) broadcast as NumPy does, and
/// their gradients are summed back to each input's shape. Names, defaults and gradients at kinks
/// follow PyTorch (`torch.*`, `torch.nn.functional.*`). Defined for float and double.
///
///     auto h = tapegrad::relu(tapegrad::linear(x, W, b));
///     auto smooth = tapegrad::gelu(h, "tanh");
#include <optional>
#include <string>

#include "tapegrad/tape.hpp"

namespace tapegrad {

template <class T>
Var<T> relu(const Var<T>& x);
/// 1 / (1 + exp(-x)), finite for every finite x.
template <class T>
Var<T> sigmoid(const Var<T>& x);
template <class T>
Var<T> tanh(const Var<T>& x);
template <class T>
Var<T> exp(const Var<T>& x);
template <class T>
Var<T> log(const Var<T>& x);

// -- arithmetic -------------------------------------------------------------------------------

/// x ** exponent. Gradient exponent · x^(exponent − 1), and 0 for exponent 0 (as PyTorch).
/// `torch.pow(x, exponent)`.
template <class T>
Var<T> pow(const Var<T>& x, double exponent);
/// x ** exponent elementwise, with NumPy broadcasting. d/dx = exponent · x^(exponent − 1) (0 where
/// exponent = 0); d/dexponent = x^exponent · log x (0 where x = 0 and exponent ≥ 0), as PyTorch.
template <class T>
Var<T> pow(const Var<T>& x, const Var<T>& exponent);
/// √x; the gradient at 0 is inf.
template <class T>
Var<T> sqrt(const Var<T>& x);
/// 1 / √x.
template <class T>
Var<T> rsqrt(const Var<T>& x);
/// |x|; the gradient at 0 is 0 (sign(0) = 0, as PyTorch).
template <class T>
Var<T> abs(const Var<T>& x);
/// x².
template <class T>
Var<T> square(const Var<T>& x);
/// min(max(x, min), max) with either bound optional (at least one is required; min > max gives
/// max everywhere). The gradient passes where min ≤ x ≤ max, bounds included, as PyTorch.
/// `torch.clamp`.
template <class T>
Var<T> clamp(const Var<T>& x, std::optional<double> min, std::optional<double> max = std::nullopt);
/// The larger of a and b, with broadcasting; NaN if either is NaN. At ties the gradient is split
/// evenly between a and b (as PyTorch). `torch.maximum`.
template <class T>
Var<T> maximum(const Var<T>& a, const Var<T>& b);
/// The smaller of a and b; as maximum. `torch.minimum`.
template <class T>
Var<T> minimum(const Var<T>& a, const Var<T>& b);
/// log(1 + x), accurate near 0.
template <class T>
Var<T> log1p(const Var<T>& x);
template <class T>
Var<T> sin(const Var<T>& x);
template <class T>
Var<T> cos(const Var<T>& x);

// -- activations (torch.nn.functional) ------------------------------------------------------------

/// x for x > 0, negative_slope · x otherwise (the gradient at 0 is negative_slope).
template <class T>
Var<T> leaky_relu(const Var<T>& x, double negative_slope = 0.01);
/// x for x > 0, alpha · (exp(x) − 1) otherwise.
template <class T>
Var<T> elu(const Var<T>& x, double alpha = 1.0);
/// x · Φ(x) with the normal CDF Φ: `approximate` "none" uses erf, 0.5 x (1 + erf(x / √2));
/// "tanh" uses 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))). Another string is a ValueError.
template <class T>
Var<T> gelu(const Var<T>& x, const std::string& approximate = "none");
/// x · sigmoid(x) (also known as swish).
template <class T>
Var<T> silu(const Var<T>& x);
/// log(1 + exp(beta · x)) / beta, and x itself where beta · x > threshold (as PyTorch, for
/// stability).
template <class T>
Var<T> softplus(const Var<T>& x, double beta = 1.0, double threshold = 20.0);

}  // namespace tapegrad
