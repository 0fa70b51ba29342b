#pragma once
/// Recurrent layers with PyTorch's names, options, parameter names, shapes, gate order,
/// equations and initialisation: RNN (tanh or relu), LSTM, GRU over sequences, and their cells.
///
///     tapegrad::Rng rng(0);
///     tapegrad::nn::LSTM<float> lstm(tapegrad::nn::LSTMOptions(28, 128).batch_first(true), rng);
///     auto r = lstm.forward(x);          // x (B, T, 28)
///     auto out = r.output;               // (B, T, 128);  r.h_n, r.c_n: (1, B, 128)
///
/// Parameters, for each layer k and direction (suffix "_reverse" for the second): weight_ih_l{k}
/// (G·hidden, input) — PyTorch's (out, in) layout, unlike tapegrad's Linear —, weight_hh_l{k}
/// (G·hidden, hidden), bias_ih_l{k} and bias_hh_l{k} (G·hidden,), with G = 1 (RNN), 4 (LSTM:
/// i, f, g, o) or 3 (GRU: r, z, n). All are drawn from U(−1/√hidden, 1/√hidden), as PyTorch's
/// `reset_parameters`. A checkpoint therefore loads into PyTorch's module by name
/// (`load_state_dict`), and gives the same outputs (tests/test_torch_seq.cpp checks both).
///
/// Each forward is one fused op per layer (tapegrad/rnn.hpp); inputs and states as PyTorch's:
/// input (T, B, input_size), (B, T, input_size) with batch_first, or (T, input_size) unbatched;
/// h0 (and c0) (num_layers·directions, B, hidden) or omitted (zeros). Dropout between layers
/// applies in training mode only. Not supported: LSTM's proj_size, packed sequences.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/rnn.hpp"

namespace tapegrad::nn {

/// Options of nn::RNN (PyTorch's RNN: Elman units, tanh or relu).
struct RNNOptions {
  RNNOptions(std::size_t input_size, std::size_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  TAPEGRAD_ARG(std::size_t, input_size);
  TAPEGRAD_ARG(std::size_t, hidden_size);
  TAPEGRAD_ARG(std::size_t, num_layers) = 1;
  /// "tanh" or "relu".
  TAPEGRAD_ARG(std::string, nonlinearity) = "tanh";
  TAPEGRAD_ARG(bool, bias) = true;
  TAPEGRAD_ARG(bool, batch_first) = false;
  /// Dropout on the output of every layer but the last, in training mode.
  TAPEGRAD_ARG(double, dropout) = 0;
  TAPEGRAD_ARG(bool, bidirectional) = false;
};

/// Options of nn::LSTM.
struct LSTMOptions {
  LSTMOptions(std::size_t input_size, std::size_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  TAPEGRAD_ARG(std::size_t, input_size);
  TAPEGRAD_ARG(std::size_t, hidden_size);
  TAPEGRAD_ARG(std::size_t, num_layers) = 1;
  TAPEGRAD_ARG(bool, bias) = true;
  TAPEGRAD_ARG(bool, batch_first) = false;
  TAPEGRAD_ARG(double, dropout) = 0;
  TAPEGRAD_ARG(bool, bidirectional) = false;
};

/// Options of nn::GRU.
struct GRUOptions {
  GRUOptions(std::size_t input_size, std::size_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  TAPEGRAD_ARG(std::size_t, input_size);
  TAPEGRAD_ARG(std::size_t, hidden_size);
  TAPEGRAD_ARG(std::size_t, num_layers) = 1;
  TAPEGRAD_ARG(bool, bias) = true;
  TAPEGRAD_ARG(bool, batch_first) = false;
  TAPEGRAD_ARG(double, dropout) = 0;
  TAPEGRAD_ARG(bool, bidirectional) = false;
};

/// What the three sequence modules share: the parameters in PyTorch's order, their
/// initialisation, and the call of tapegrad::rnn.
template <class T>
class RNNBase : public Module<T> {
 public:
  /// The parameters in PyTorch's `_flat_weights` order.
  const std::vector<Var<T>>& flat_weights() const noexcept { return flat_; }
  RNNMode mode() const noexcept { return mode_; }
  std::size_t input_size() const noexcept { return input_size_; }
  std::size_t hidden_size() const noexcept { return hidden_size_; }
  std::size_t num_layers() const noexcept { return options_.num_layers(); }
  bool bidirectional() const noexcept { return options_.bidirectional(); }
  /// Parameter `name` ("weight_ih_l0", "bias_hh_l1_reverse", ...); ValueError if there is none.
  Parameter<T>& parameter(const std::string& name) { return this->param(name); }

 protected:
  RNNBase(const char* name, RNNMode mode, std::size_t input_size, std::size_t hidden_size, const RNNFuncOptions& options,
          Rng& rng);
  RNNResult<T> run(const Var<T>& input, const Var<T>& h0, const Var<T>& c0);

 private:
  const char* name_;
  RNNMode mode_;
  std::size_t input_size_, hidden_size_;
  RNNFuncOptions options_;
  std::vector<Var<T>> flat_;
  Rng rng_;  // dropout masks between layers
};

/// PyTorch's RNN: h' = tanh or relu(W_ih x + b_ih + W_hh h + b_hh). Throws ValueError for a
/// size of 0, a nonlinearity other than "tanh"/"relu" or a dropout outside [0, 1].
template <class T>
class RNN : public RNNBase<T> {
 public:
  RNN(const RNNOptions& options, Rng& rng);
  /// Returns the output and h_n (c_n is undefined).
  RNNResult<T> forward(const Var<T>& input, const Var<T>& h0 = Var<T>()) { return this->run(input, h0, Var<T>()); }
  const RNNOptions& options() const noexcept { return options_; }

 private:
  RNNOptions options_;
};

/// PyTorch's LSTM (gates i, f, g, o).
template <class T>
class LSTM : public RNNBase<T> {
 public:
  LSTM(const LSTMOptions& options, Rng& rng);
  /// Returns the output, h_n and c_n; h0 and c0 are optional (zeros).
  RNNResult<T> forward(const Var<T>& input, const Var<T>& h0 = Var<T>(), const Var<T>& c0 = Var<T>()) {
    return this->run(input, h0, c0);
  }
  const LSTMOptions& options() const noexcept { return options_; }

 private:
  LSTMOptions options_;
};

/// PyTorch's GRU (gates r, z, n; n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn))).
template <class T>
class GRU : public RNNBase<T> {
 public:
  GRU(const GRUOptions& options, Rng& rng);
  /// Returns the output and h_n (c_n is undefined).
  RNNResult<T> forward(const Var<T>& input, const Var<T>& h0 = Var<T>()) { return this->run(input, h0, Var<T>()); }
  const GRUOptions& options() const noexcept { return options_; }

 private:
  GRUOptions options_;
};

// -- cells --------------------------------------------------------------------------------------

/// Options of nn::RNNCell.
struct RNNCellOptions {
  RNNCellOptions(std::size_t input_size, std::size_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  TAPEGRAD_ARG(std::size_t, input_size);
  TAPEGRAD_ARG(std::size_t, hidden_size);
  TAPEGRAD_ARG(bool, bias) = true;
  /// "tanh" or "relu".
  TAPEGRAD_ARG(std::string, nonlinearity) = "tanh";
};

/// Options of nn::LSTMCell.
struct LSTMCellOptions {
  LSTMCellOptions(std::size_t input_size, std::size_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  TAPEGRAD_ARG(std::size_t, input_size);
  TAPEGRAD_ARG(std::size_t, hidden_size);
  TAPEGRAD_ARG(bool, bias) = true;
};

/// Options of nn::GRUCell.
struct GRUCellOptions {
  GRUCellOptions(std::size_t input_size, std::size_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  TAPEGRAD_ARG(std::size_t, input_size);
  TAPEGRAD_ARG(std::size_t, hidden_size);
  TAPEGRAD_ARG(bool, bias) = true;
};

/// What the cells share: weight_ih (G·hidden, input), weight_hh (G·hidden, hidden), bias_ih and
/// bias_hh (G·hidden,), from U(−1/√hidden, 1/√hidden).
template <class T>
class RNNCellBase : public Module<T> {
 public:
  Parameter<T>& weight_ih() { return this->param_at(0); }
  Parameter<T>& weight_hh() { return this->param_at(1); }
  /// Throws ValueError for a cell without bias.
  Parameter<T>& bias_ih() { return bias_ ? this->param_at(2) : this->param("bias_ih"); }
  Parameter<T>& bias_hh() { return bias_ ? this->param_at(3) : this->param("bias_hh"); }

 protected:
  RNNCellBase(const char* name, std::size_t gates, std::size_t input_size, std::size_t hidden_size, bool bias, Rng& rng);
  Var<T> b_ih() { return bias_ ? Var<T>(this->param_at(2)) : Var<T>(); }
  Var<T> b_hh() { return bias_ ? Var<T>(this->param_at(3)) : Var<T>(); }

 private:
  bool bias_;
};

/// PyTorch's RNNCell: one step, h' = tanh or relu(W_ih x + b_ih + W_hh h + b_hh).
template <class T>
class RNNCell : public RNNCellBase<T> {
 public:
  RNNCell(const RNNCellOptions& options, Rng& rng);
  /// x (B, input) or (input,); h optional (zeros). Returns h'.
  Var<T> forward(const Var<T>& x, const Var<T>& h = Var<T>());
  const RNNCellOptions& options() const noexcept { return options_; }

 private:
  RNNCellOptions options_;
};

/// PyTorch's LSTMCell: one step; returns (h', c').
template <class T>
class LSTMCell : public RNNCellBase<T> {
 public:
  LSTMCell(const LSTMCellOptions& options, Rng& rng);
  std::pair<Var<T>, Var<T>> forward(const Var<T>& x, const Var<T>& h = Var<T>(), const Var<T>& c = Var<T>());
  const LSTMCellOptions& options() const noexcept { return options_; }

 private:
  LSTMCellOptions options_;
};

/// PyTorch's GRUCell: one step; returns h'.
template <class T>
class GRUCell : public RNNCellBase<T> {
 public:
  GRUCell(const GRUCellOptions& options, Rng& rng);
  Var<T> forward(const Var<T>& x, const Var<T>& h = Var<T>());
  const GRUCellOptions& options() const noexcept { return options_; }

 private:
  GRUCellOptions options_;
};

}  // namespace tapegrad::nn
