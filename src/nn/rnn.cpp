#include "tapegrad/nn/rnn.hpp"

#include <cmath>
#include <string>

#include "detail/rnn_impl.hpp"
#include "instantiate.hpp"

namespace tapegrad::nn {

namespace {

// PyTorch's reset_parameters of every recurrent module: U(-1/sqrt(hidden), 1/sqrt(hidden)).
template <class T>
Array<T> recurrent_init(const char* name, const Shape& shape, std::size_t hidden, Rng& rng) {
  checked_numel(name, shape);
  const T k = T(1.0 / std::sqrt(double(hidden)));
  return rng.uniform<T>(shape, -k, k);
}

void check_sizes(const char* name, std::size_t input_size, std::size_t hidden_size) {
  TG_CHECK(ValueError, input_size > 0 && hidden_size > 0, name, ": input_size and hidden_size must be positive, got (",
           input_size, ", ", hidden_size, ")");
}

RNNMode nonlinearity(const char* name, const std::string& s) {
  TG_CHECK(ValueError, s == "tanh" || s == "relu", name, ": nonlinearity must be \"tanh\" or \"relu\", got \"", s, "\"");
  return s == "tanh" ? RNNMode::rnn_tanh : RNNMode::rnn_relu;
}

template <class O>
RNNFuncOptions func_options(const O& o) {
  return RNNFuncOptions()
      .num_layers(o.num_layers())
      .bias(o.bias())
      .batch_first(o.batch_first())
      .dropout(o.dropout())
      .bidirectional(o.bidirectional());
}

}  // namespace

// ---- RNN, LSTM, GRU -----------------------------------------------------------------------------

template <class T>
RNNBase<T>::RNNBase(const char* name, RNNMode mode, std::size_t input_size, std::size_t hidden_size,
                    const RNNFuncOptions& options, Rng& rng)
    : name_(name),
      mode_(mode),
      input_size_(input_size),
      hidden_size_(hidden_size),
      options_(options),
      rng_(rng.engine()()) {
  check_sizes(name, input_size, hidden_size);
  TG_CHECK(ValueError, options.num_layers() >= 1, name, ": num_layers must be at least 1, got 0");
  TG_CHECK(ValueError, options.dropout() >= 0 && options.dropout() <= 1, name, ": dropout must be in [0, 1], got ",
           options.dropout());
  const std::size_t G = gate_count(mode), D = options.bidirectional() ? 2 : 1;
  for (std::size_t l = 0; l < options.num_layers(); ++l) {
    const std::size_t in = l == 0 ? input_size : D * hidden_size;
    for (std::size_t d = 0; d < D; ++d) {
      const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      flat_.push_back(this->register_parameter("weight_ih" + sfx, recurrent_init<T>(name, {G * hidden_size, in}, hidden_size, rng)));
      flat_.push_back(this->register_parameter("weight_hh" + sfx,
                                               recurrent_init<T>(name, {G * hidden_size, hidden_size}, hidden_size, rng)));
      if (options.bias()) {
        flat_.push_back(this->register_parameter("bias_ih" + sfx, recurrent_init<T>(name, {G * hidden_size}, hidden_size, rng)));
        flat_.push_back(this->register_parameter("bias_hh" + sfx, recurrent_init<T>(name, {G * hidden_size}, hidden_size, rng)));
      }
    }
  }
}

template <class T>
RNNResult<T> RNNBase<T>::run(const Var<T>& input, const Var<T>& h0, const Var<T>& c0) {
  RNNFuncOptions o = options_;
  o.training(this->is_training());
  return detail::rnn_impl(name_, mode_, input, flat_, h0, c0, o, &rng_);
}

template <class T>
RNN<T>::RNN(const RNNOptions& options, Rng& rng)
    : RNNBase<T>("RNN", nonlinearity("RNN", options.nonlinearity()), options.input_size(), options.hidden_size(),
                 func_options(options), rng),
      options_(options) {}

template <class T>
LSTM<T>::LSTM(const LSTMOptions& options, Rng& rng)
    : RNNBase<T>("LSTM", RNNMode::lstm, options.input_size(), options.hidden_size(), func_options(options), rng),
      options_(options) {}

template <class T>
GRU<T>::GRU(const GRUOptions& options, Rng& rng)
    : RNNBase<T>("GRU", RNNMode::gru, options.input_size(), options.hidden_size(), func_options(options), rng),
      options_(options) {}

// ---- cells --------------------------------------------------------------------------------------

template <class T>
RNNCellBase<T>::RNNCellBase(const char* name, std::size_t gates, std::size_t input_size, std::size_t hidden_size,
                            bool bias, Rng& rng)
    : bias_(bias) {
  check_sizes(name, input_size, hidden_size);
  const std::size_t GH = gates * hidden_size;
  this->register_parameter("weight_ih", recurrent_init<T>(name, {GH, input_size}, hidden_size, rng));
  this->register_parameter("weight_hh", recurrent_init<T>(name, {GH, hidden_size}, hidden_size, rng));
  if (bias) {
    this->register_parameter("bias_ih", recurrent_init<T>(name, {GH}, hidden_size, rng));
    this->register_parameter("bias_hh", recurrent_init<T>(name, {GH}, hidden_size, rng));
  }
}

template <class T>
RNNCell<T>::RNNCell(const RNNCellOptions& options, Rng& rng)
    : RNNCellBase<T>("RNNCell", (nonlinearity("RNNCell", options.nonlinearity()), 1), options.input_size(),
                     options.hidden_size(), options.bias(), rng),
      options_(options) {}

template <class T>
Var<T> RNNCell<T>::forward(const Var<T>& x, const Var<T>& h) {
  if (options_.nonlinearity() == "relu") {
    return rnn_relu_cell(x, h, Var<T>(this->weight_ih()), Var<T>(this->weight_hh()), this->b_ih(), this->b_hh());
  }
  return rnn_tanh_cell(x, h, Var<T>(this->weight_ih()), Var<T>(this->weight_hh()), this->b_ih(), this->b_hh());
}

template <class T>
LSTMCell<T>::LSTMCell(const LSTMCellOptions& options, Rng& rng)
    : RNNCellBase<T>("LSTMCell", 4, options.input_size(), options.hidden_size(), options.bias(), rng),
      options_(options) {}

template <class T>
std::pair<Var<T>, Var<T>> LSTMCell<T>::forward(const Var<T>& x, const Var<T>& h, const Var<T>& c) {
  return lstm_cell(x, h, c, Var<T>(this->weight_ih()), Var<T>(this->weight_hh()), this->b_ih(), this->b_hh());
}

template <class T>
GRUCell<T>::GRUCell(const GRUCellOptions& options, Rng& rng)
    : RNNCellBase<T>("GRUCell", 3, options.input_size(), options.hidden_size(), options.bias(), rng),
      options_(options) {}

template <class T>
Var<T> GRUCell<T>::forward(const Var<T>& x, const Var<T>& h) {
  return gru_cell(x, h, Var<T>(this->weight_ih()), Var<T>(this->weight_hh()), this->b_ih(), this->b_hh());
}

#define TAPEGRAD_SECTION(T)       \
  template class RNNBase<T>;      \
  template class RNN<T>;          \
  template class LSTM<T>;         \
  template class GRU<T>;          \
  template class RNNCellBase<T>;  \
  template class RNNCell<T>;      \
  template class LSTMCell<T>;     \
  template class GRUCell<T>;
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::nn
