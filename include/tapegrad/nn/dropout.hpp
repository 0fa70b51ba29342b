#pragma once
/// Dropout as a module: inverted dropout in training mode, the identity in evaluation mode.
///
///     tapegrad::Rng rng(42);
///     auto drop = std::make_shared<tapegrad::nn::Dropout<float>>(0.5, rng);
///     net.push_back(drop);          // in a Sequential, after an activation
///     net.eval();                   // now drop->forward(x) returns x unchanged
#include <cstdint>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"

namespace tapegrad::nn {

/// Zeroes each element with probability p during training and scales the others by 1/(1 − p)
/// (see tapegrad::dropout); returns its input unchanged in evaluation mode. Has no parameters.
template <class T>
class Dropout : public Module<T> {
 public:
  /// Draws the seed of the module's own generator from `rng`, so a model built from one seed
  /// drops the same elements run after run, and the module keeps no reference to `rng`.
  /// Throws ValueError for p outside [0, 1].
  Dropout(double p, Rng& rng);
  Var<T> forward(const Var<T>& x);
  /// The drop probability.
  double p() const noexcept { return p_; }

 private:
  double p_;
  Rng rng_;
};

/// Channel dropout as a module (PyTorch's Dropout2d): in training mode each channel of each image
/// is zeroed with probability p and the others scaled by 1/(1 − p) (see tapegrad::dropout2d); the
/// identity in evaluation mode. Has no parameters.
template <class T>
class Dropout2d : public Module<T> {
 public:
  /// As Dropout's: the module's own generator is seeded from `rng`. Throws ValueError for p
  /// outside [0, 1].
  Dropout2d(double p, Rng& rng);
  Var<T> forward(const Var<T>& x);
  double p() const noexcept { return p_; }

 private:
  double p_;
  Rng rng_;
};

}  // namespace tapegrad::nn
