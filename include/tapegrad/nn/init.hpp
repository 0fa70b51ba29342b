#pragma once
/// Weight initialisers with PyTorch's names, arguments and defaults (torch.nn.init), each
/// filling a parameter in place through `mutable_value()` and returning it, drawn from a
/// tapegrad::Rng (there is no global generator: the Rng is the last argument, where PyTorch has
/// its optional `generator`).
///
///     tapegrad::Rng rng(0);
///     tapegrad::Parameter<float> conv_weight(tapegrad::Array<float>::from_shape({8, 3, 3, 3}));
///     tapegrad::Parameter<float> bias(tapegrad::Array<float>::from_shape({8}));
///     tapegrad::Parameter<float> rnn_weight(tapegrad::Array<float>::from_shape({16, 4}));
///     tapegrad::nn::init::kaiming_uniform_(conv_weight, std::sqrt(5.0), "fan_in", "leaky_relu", rng);
///     tapegrad::nn::init::zeros_(bias);
///     tapegrad::nn::init::orthogonal_(rnn_weight, rng);
///
/// **Fans.** fan_in and fan_out are computed as PyTorch computes them, for its layouts:
/// (out, in) for a linear weight and (out, in/groups, k1, k2, ...) for a convolution, i.e.
/// fan_in = shape[1]·k1·k2…, fan_out = shape[0]·k1·k2… (`calculate_fan_in_and_fan_out`).
/// tapegrad's `nn::Linear` keeps the tutorial's (in, out) weight, for which those formulas swap:
/// on a Linear weight (in, out), PyTorch's "fan_in" (its number of inputs) is `fan_out` here.
/// So for a Linear weight pass `mode = "fan_out"` to scale by the number of inputs, e.g.
/// `kaiming_normal_(fc.weight(), 0, "fan_out", "relu", rng)` draws N(0, 2/in), which is what
/// Linear's own default (He-normal, as the tutorial) already does; the Xavier initialisers use
/// fan_in + fan_out and are the same in both layouts.
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>

#include "tapegrad/random.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::nn::init {

/// He (Kaiming) normal initialisation, as the tutorial writes it:
/// `np.random.randn(fan_in, fan_out) * np.sqrt(2.0 / fan_in)`. Throws ValueError when
/// fan_in · fan_out exceeds kMaxNumel (checked_numel).
template <class T>
Array<T> he_normal(std::size_t fan_in, std::size_t fan_out, Rng& rng) {
  const Shape shape{fan_in, fan_out};
  checked_numel("init::he_normal", shape);
  Array<T> w = rng.normal<T>(shape);
  const T scale = T(std::sqrt(2.0 / double(fan_in)));
  for (auto& v : w) v *= scale;
  return w;
}

/// fan_in and fan_out of a weight shaped as PyTorch's (see the note above).
struct Fans {
  std::size_t fan_in = 0;
  std::size_t fan_out = 0;
};
/// PyTorch's `_calculate_fan_in_and_fan_out`: fan_in = shape[1]·∏shape[2:], fan_out =
/// shape[0]·∏shape[2:]. Throws ValueError for fewer than 2 dimensions.
Fans calculate_fan_in_and_fan_out(const Shape& shape);

/// The recommended gain for a nonlinearity, as PyTorch's `calculate_gain(nonlinearity,
/// param=None)`: 1 for "linear", "conv1d/2d/3d", "conv_transpose1d/2d/3d" and "sigmoid"; 5/3 for
/// "tanh"; √2 for "relu"; √(2/(1 + slope²)) for "leaky_relu" (slope = param, default 0.01);
/// 3/4 for "selu". Throws ValueError for another name or a non-finite param.
double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt);

/// Fills with draws from U(a, b). Throws ValueError for a > b (a = b fills with a).
template <class T>
Parameter<T> uniform_(Parameter<T> tensor, double a, double b, Rng& rng);
/// U(0, 1).
template <class T>
Parameter<T> uniform_(Parameter<T> tensor, Rng& rng) {
  return uniform_(tensor, 0.0, 1.0, rng);
}
/// Fills with draws from N(mean, std²). Throws ValueError for std < 0.
template <class T>
Parameter<T> normal_(Parameter<T> tensor, double mean, double std, Rng& rng);
/// N(0, 1).
template <class T>
Parameter<T> normal_(Parameter<T> tensor, Rng& rng) {
  return normal_(tensor, 0.0, 1.0, rng);
}
/// Fills with `val`.
template <class T>
Parameter<T> constant_(Parameter<T> tensor, double val);
template <class T>
Parameter<T> zeros_(Parameter<T> tensor) {
  return constant_(tensor, 0.0);
}
template <class T>
Parameter<T> ones_(Parameter<T> tensor) {
  return constant_(tensor, 1.0);
}

/// Glorot/Xavier uniform: U(−a, a) with a = gain·√(6/(fan_in + fan_out)). Needs ≥ 2 dimensions.
template <class T>
Parameter<T> xavier_uniform_(Parameter<T> tensor, double gain, Rng& rng);
template <class T>
Parameter<T> xavier_uniform_(Parameter<T> tensor, Rng& rng) {
  return xavier_uniform_(tensor, 1.0, rng);
}
/// Glorot/Xavier normal: N(0, std²) with std = gain·√(2/(fan_in + fan_out)).
template <class T>
Parameter<T> xavier_normal_(Parameter<T> tensor, double gain, Rng& rng);
template <class T>
Parameter<T> xavier_normal_(Parameter<T> tensor, Rng& rng) {
  return xavier_normal_(tensor, 1.0, rng);
}

/// He/Kaiming uniform: U(−bound, bound) with bound = gain·√(3/fan), gain =
/// calculate_gain(nonlinearity, a), fan = fan_in or fan_out as `mode` says ("fan_in",
/// "fan_out"). PyTorch's defaults: a = 0, mode = "fan_in", nonlinearity = "leaky_relu". Throws
/// ValueError for another mode, an unknown nonlinearity, fewer than 2 dimensions or a fan of 0.
template <class T>
Parameter<T> kaiming_uniform_(Parameter<T> tensor, double a, const std::string& mode, const std::string& nonlinearity,
                              Rng& rng);
template <class T>
Parameter<T> kaiming_uniform_(Parameter<T> tensor, double a, const std::string& mode, Rng& rng) {
  return kaiming_uniform_(tensor, a, mode, "leaky_relu", rng);
}
template <class T>
Parameter<T> kaiming_uniform_(Parameter<T> tensor, double a, Rng& rng) {
  return kaiming_uniform_(tensor, a, "fan_in", "leaky_relu", rng);
}
template <class T>
Parameter<T> kaiming_uniform_(Parameter<T> tensor, Rng& rng) {
  return kaiming_uniform_(tensor, 0.0, "fan_in", "leaky_relu", rng);
}
/// He/Kaiming normal: N(0, std²) with std = gain/√fan; arguments as kaiming_uniform_.
template <class T>
Parameter<T> kaiming_normal_(Parameter<T> tensor, double a, const std::string& mode, const std::string& nonlinearity,
                             Rng& rng);
template <class T>
Parameter<T> kaiming_normal_(Parameter<T> tensor, double a, const std::string& mode, Rng& rng) {
  return kaiming_normal_(tensor, a, mode, "leaky_relu", rng);
}
template <class T>
Parameter<T> kaiming_normal_(Parameter<T> tensor, double a, Rng& rng) {
  return kaiming_normal_(tensor, a, "fan_in", "leaky_relu", rng);
}
template <class T>
Parameter<T> kaiming_normal_(Parameter<T> tensor, Rng& rng) {
  return kaiming_normal_(tensor, 0.0, "fan_in", "leaky_relu", rng);
}

/// A (semi-)orthogonal matrix (Saxe et al.): the tensor seen as (shape[0], numel/shape[0])
/// gets orthonormal rows (if it has fewer rows than columns) or columns, times `gain`: the Q of
/// the QR decomposition of a standard normal draw, with R's diagonal made positive (as
/// PyTorch). Computed in double by Gram–Schmidt, orthogonalised twice. Needs ≥ 2 dimensions.
template <class T>
Parameter<T> orthogonal_(Parameter<T> tensor, double gain, Rng& rng);
template <class T>
Parameter<T> orthogonal_(Parameter<T> tensor, Rng& rng) {
  return orthogonal_(tensor, 1.0, rng);
}

}  // namespace tapegrad::nn::init
