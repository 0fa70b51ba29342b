#pragma once
/// Activation functions as modules, for use in Sequential, with PyTorch's names and options
/// (torch.nn.ReLU, GELU, ...).
///
/// GELU, SiLU, LeakyReLU, ELU and Softplus call the functions of <tapegrad/pointwise.hpp> with
/// PyTorch's signatures: gelu(x, approximate), silu(x), leaky_relu(x, negative_slope),
/// elu(x, alpha), softplus(x, beta, threshold).
#include <string>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/pointwise.hpp"

namespace tapegrad::nn {

template <class T>
class ReLU : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) { return relu(x); }
};

template <class T>
class Sigmoid : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) { return sigmoid(x); }
};

template <class T>
class Tanh : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) { return tapegrad::tanh(x); }
};

// The modules below call their functions unqualified, with a dependent argument: the calls are
// resolved (by argument-dependent lookup, in namespace tapegrad) where a module is used.

/// Options of GELU: `GELUOptions().approximate("tanh")`.
struct GELUOptions {
  /// "none" (the exact x·Φ(x)) or "tanh" (the tanh approximation).
  TAPEGRAD_ARG(std::string, approximate) = "none";
};

/// torch.nn.GELU: gelu(x, approximate).
template <class T>
class GELU : public Module<T> {
 public:
  explicit GELU(const GELUOptions& options = {}) : options_(options) {}
  Var<T> forward(const Var<T>& x) { return gelu(x, options_.approximate()); }
  const GELUOptions& options() const noexcept { return options_; }

 private:
  GELUOptions options_;
};

/// torch.nn.SiLU (swish): silu(x) = x·σ(x).
template <class T>
class SiLU : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) { return silu(x); }
};

/// Options of LeakyReLU: `LeakyReLUOptions().negative_slope(0.2)`.
struct LeakyReLUOptions {
  TAPEGRAD_ARG(double, negative_slope) = 0.01;
};

/// torch.nn.LeakyReLU: leaky_relu(x, negative_slope).
template <class T>
class LeakyReLU : public Module<T> {
 public:
  explicit LeakyReLU(const LeakyReLUOptions& options = {}) : options_(options) {}
  Var<T> forward(const Var<T>& x) { return leaky_relu(x, options_.negative_slope()); }
  const LeakyReLUOptions& options() const noexcept { return options_; }

 private:
  LeakyReLUOptions options_;
};

/// Options of ELU: `ELUOptions().alpha(0.5)`.
struct ELUOptions {
  TAPEGRAD_ARG(double, alpha) = 1.0;
};

/// torch.nn.ELU: elu(x, alpha).
template <class T>
class ELU : public Module<T> {
 public:
  explicit ELU(const ELUOptions& options = {}) : options_(options) {}
  Var<T> forward(const Var<T>& x) { return elu(x, options_.alpha()); }
  const ELUOptions& options() const noexcept { return options_; }

 private:
  ELUOptions options_;
};

/// Options of Softplus: `SoftplusOptions().beta(2).threshold(10)`.
struct SoftplusOptions {
  TAPEGRAD_ARG(double, beta) = 1.0;
  TAPEGRAD_ARG(double, threshold) = 20.0;
};

/// torch.nn.Softplus: softplus(x, beta, threshold).
template <class T>
class Softplus : public Module<T> {
 public:
  explicit Softplus(const SoftplusOptions& options = {}) : options_(options) {}
  Var<T> forward(const Var<T>& x) { return softplus(x, options_.beta(), options_.threshold()); }
  const SoftplusOptions& options() const noexcept { return options_; }

 private:
  SoftplusOptions options_;
};

}  // namespace tapegrad::nn
