#pragma once
/// Recurrent networks as fused ops: PyTorch's RNN (tanh, ReLU), LSTM and GRU over whole
/// sequences, and their single steps (cells). The modules of nn/rnn.hpp call these.
///
///     // 2 layers of an LSTM over x (T, B, 2) with hidden size 8; weights in PyTorch's order
///     tapegrad::nn::LSTM<float> lstm(tapegrad::nn::LSTMOptions(2, 8).num_layers(2), rng);
///     auto r = tapegrad::lstm(x, lstm.flat_weights(), {}, {}, tapegrad::RNNFuncOptions().num_layers(2));
///     auto out = r.output;   // (T, B, 8): the last layer's h at every step
///     auto h_n = r.h_n;      // (2, B, 8): each layer's last h; r.c_n: its last c
///
/// **Fused.** A layer (one direction or both) is one op on the tape with one backward rule: the
/// input products of every step are one GEMM before the loop, each step is one GEMM with W_hh
/// (all gates at once, PyTorch's gate order) and one pass over the gates; backward runs the
/// steps in reverse with one GEMM each, then forms dW_ih, dW_hh and the input's gradient as one
/// GEMM each over the whole sequence. The output sequence and the final states are read from
/// the layer's result by small copy ops (`output`, `h_n`, `c_n`), each with its own gradient.
///
/// **Weights** are PyTorch's, in PyTorch's layout and order (`_flat_weights`): for each layer,
/// for each direction (forward, then reverse): weight_ih (G·H, I), weight_hh (G·H, H), then,
/// with bias, bias_ih (G·H,) and bias_hh (G·H,), where G is 1 (RNN), 4 (LSTM: gates i, f, g, o)
/// or 3 (GRU: r, z, n), I the layer's input features (the input's for layer 0, D·H above).
///
/// **Equations** (PyTorch's): LSTM i, f, o = σ(·), g = tanh(·), c' = f⊙c + i⊙g, h' = o⊙tanh(c');
/// GRU r, z = σ(·), n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), h' = (1 − z)⊙n + z⊙h;
/// RNN h' = tanh or relu(W_ih x + b_ih + W_hh h + b_hh).
///
/// Shapes: input (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched; h0 and c0
/// (L·D, B, H), or (L·D, H) unbatched, each optional (an undefined `Var<T>()` is zeros, as
/// PyTorch's None). Errors: ShapeError for an input, weight or state of the wrong shape (naming
/// the function, the argument and both shapes), ValueError for a sequence of length 0, a wrong
/// number of weights or a dropout outside [0, 1]. Defined for float and double.
#include <cstddef>
#include <utility>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad {

/// The recurrence of a layer.
enum class RNNMode { rnn_tanh, rnn_relu, lstm, gru };

/// "rnn_tanh", "rnn_relu", "lstm", "gru".
const char* to_string(RNNMode mode) noexcept;
/// Gates per unit: 1 (RNN), 4 (LSTM), 3 (GRU).
std::size_t gate_count(RNNMode mode) noexcept;

/// The options of the functional recurrent networks (as libtorch's `...FuncOptions`; the
/// modules of nn/rnn.hpp take RNNOptions, LSTMOptions, GRUOptions). num_layers and
/// bidirectional tell how many weights to expect.
struct RNNFuncOptions {
  TAPEGRAD_ARG(std::size_t, num_layers) = 1;
  /// Whether the weights include bias_ih and bias_hh.
  TAPEGRAD_ARG(bool, bias) = true;
  /// Input and output are (B, T, features) instead of (T, B, features).
  TAPEGRAD_ARG(bool, batch_first) = false;
  /// Dropout on each layer's output but the last's, in training only (needs an Rng).
  TAPEGRAD_ARG(double, dropout) = 0;
  TAPEGRAD_ARG(bool, training) = true;
  TAPEGRAD_ARG(bool, bidirectional) = false;
};

/// What a recurrent network returns: the last layer's output at every step, and each layer's
/// (and direction's) final hidden state and, for an LSTM, final cell state.
template <class T>
struct RNNResult {
  /// (T, B, D·H), (B, T, D·H) with batch_first, or (T, D·H) unbatched: directions side by side.
  Var<T> output;
  /// (L·D, B, H) (or (L·D, H) unbatched), PyTorch's h_n: row l·D + d is layer l, direction d.
  Var<T> h_n;
  /// As h_n, LSTM only (undefined otherwise).
  Var<T> c_n;
};

/// A whole recurrent network (every layer and direction) over a sequence; `rng` draws the
/// dropout masks (required when options.dropout() > 0 in training with more than one layer).
template <class T>
RNNResult<T> rnn(RNNMode mode, const Var<T>& input, const std::vector<Var<T>>& weights, const Var<T>& h0,
                 const Var<T>& c0, const RNNFuncOptions& options = {}, Rng* rng = nullptr);

/// PyTorch's `torch.lstm`: rnn(RNNMode::lstm, ...).
template <class T>
RNNResult<T> lstm(const Var<T>& input, const std::vector<Var<T>>& weights, const Var<T>& h0 = Var<T>(),
                  const Var<T>& c0 = Var<T>(), const RNNFuncOptions& options = {}, Rng* rng = nullptr) {
  return rnn(RNNMode::lstm, input, weights, h0, c0, options, rng);
}
/// PyTorch's `torch.gru`.
template <class T>
RNNResult<T> gru(const Var<T>& input, const std::vector<Var<T>>& weights, const Var<T>& h0 = Var<T>(),
                 const RNNFuncOptions& options = {}, Rng* rng = nullptr) {
  return rnn(RNNMode::gru, input, weights, h0, Var<T>(), options, rng);
}
/// PyTorch's `torch.rnn_tanh`.
template <class T>
RNNResult<T> rnn_tanh(const Var<T>& input, const std::vector<Var<T>>& weights, const Var<T>& h0 = Var<T>(),
                      const RNNFuncOptions& options = {}, Rng* rng = nullptr) {
  return rnn(RNNMode::rnn_tanh, input, weights, h0, Var<T>(), options, rng);
}
/// PyTorch's `torch.rnn_relu`.
template <class T>
RNNResult<T> rnn_relu(const Var<T>& input, const std::vector<Var<T>>& weights, const Var<T>& h0 = Var<T>(),
                      const RNNFuncOptions& options = {}, Rng* rng = nullptr) {
  return rnn(RNNMode::rnn_relu, input, weights, h0, Var<T>(), options, rng);
}

// -- single steps ------------------------------------------------------------------------------

/// One LSTM step, PyTorch's `torch.lstm_cell`: x (B, I) or (I,); h, c (B, H) or (H,), each
/// optional (zeros); w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,) optional (no bias).
/// Returns (h', c'). One op for the step, and a copy op for each of h' and c'.
template <class T>
std::pair<Var<T>, Var<T>> lstm_cell(const Var<T>& x, const Var<T>& h, const Var<T>& c, const Var<T>& w_ih,
                                    const Var<T>& w_hh, const Var<T>& b_ih = Var<T>(), const Var<T>& b_hh = Var<T>());
/// One GRU step, PyTorch's `torch.gru_cell`: w_ih (3H, I), w_hh (3H, H). Returns h'.
template <class T>
Var<T> gru_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh, const Var<T>& b_ih = Var<T>(),
                const Var<T>& b_hh = Var<T>());
/// One Elman step h' = tanh(W_ih x + b_ih + W_hh h + b_hh), PyTorch's `torch.rnn_tanh_cell`.
template <class T>
Var<T> rnn_tanh_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh,
                     const Var<T>& b_ih = Var<T>(), const Var<T>& b_hh = Var<T>());
/// The same with relu, PyTorch's `torch.rnn_relu_cell`.
template <class T>
Var<T> rnn_relu_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh,
                     const Var<T>& b_ih = Var<T>(), const Var<T>& b_hh = Var<T>());

}  // namespace tapegrad
