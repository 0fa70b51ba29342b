#pragma once
// rnn() with the name its errors start with: the modules of nn/rnn.hpp report "LSTM: ...",
// the functions "lstm: ...". Defined in src/rnn.cpp.
#include "tapegrad/rnn.hpp"

namespace tapegrad::detail {

template <class T>
RNNResult<T> rnn_impl(const char* fn, RNNMode mode, const Var<T>& input, const std::vector<Var<T>>& weights,
                      const Var<T>& h0, const Var<T>& c0, const RNNFuncOptions& options, Rng* rng);

}  // namespace tapegrad::detail
