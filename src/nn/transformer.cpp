#include "tapegrad/nn/transformer.hpp"

#include <cmath>

#include "detail/project.hpp"
#include "instantiate.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/pointwise.hpp"

namespace tapegrad::nn {

namespace {

const char* kLayer = "TransformerEncoderLayer";

// PyTorch's Linear init: kaiming_uniform_(a = √5) for the weight, U(-1/√in, 1/√in) for the bias,
// which is U(-1/√in, 1/√in) for both.
template <class T>
std::shared_ptr<Linear<T>> torch_linear(std::size_t in, std::size_t out, bool bias, Rng& rng) {
  auto l = std::make_shared<Linear<T>>(LinearOptions(in, out).bias(bias), rng);
  const T k = T(1 / std::sqrt(double(in)));
  l->weight().mutable_value() = rng.uniform<T>({in, out}, -k, k);
  if (bias) l->bias().mutable_value() = rng.uniform<T>({std::size_t(1), out}, -k, k);
  return l;
}

template <class T>
Var<T> apply_linear(Linear<T>& l, const Var<T>& x, bool relu) {
  return detail::project<T>(relu ? "linear_relu" : "linear", x, l.weight(),
                            l.options().bias() ? Var<T>(l.bias()) : Var<T>(), false, 0, l.options().out_features(), relu);
}

}  // namespace

template <class T>
TransformerEncoderLayer<T>::TransformerEncoderLayer(const TransformerEncoderLayerOptions& o, Rng& rng) : options_(o) {
  TG_CHECK(ValueError, o.activation() == "relu" || o.activation() == "gelu", kLayer,
           ": activation must be \"relu\" or \"gelu\", got \"", o.activation(), "\"");
  TG_CHECK(ValueError, o.dropout() >= 0 && o.dropout() < 1, kLayer, ": dropout must be in [0, 1), got ", o.dropout());
  TG_CHECK(ValueError, o.d_model() > 0 && o.dim_feedforward() > 0, kLayer,
           ": d_model and dim_feedforward must be positive, got (", o.d_model(), ", ", o.dim_feedforward(), ")");
  const std::size_t d = o.d_model();
  // Registered in PyTorch's order, so that named_parameters() lists them as PyTorch does.
  self_attn_ = this->register_module(
      "self_attn", std::make_shared<MultiheadAttention<T>>(
                       MultiheadAttentionOptions(d, o.nhead()).dropout(o.dropout()).bias(o.bias()).batch_first(o.batch_first()),
                       rng));
  linear1_ = this->register_module("linear1", torch_linear<T>(d, o.dim_feedforward(), o.bias(), rng));
  dropout_ = this->register_module("dropout", std::make_shared<Dropout<T>>(o.dropout(), rng));
  linear2_ = this->register_module("linear2", torch_linear<T>(o.dim_feedforward(), d, o.bias(), rng));
  const auto norm = LayerNormOptions(d).eps(o.layer_norm_eps()).bias(o.bias());
  norm1_ = this->register_module("norm1", std::make_shared<LayerNorm<T>>(norm));
  norm2_ = this->register_module("norm2", std::make_shared<LayerNorm<T>>(norm));
  dropout1_ = this->register_module("dropout1", std::make_shared<Dropout<T>>(o.dropout(), rng));
  dropout2_ = this->register_module("dropout2", std::make_shared<Dropout<T>>(o.dropout(), rng));
}

template <class T>
Var<T> TransformerEncoderLayer<T>::feed_forward(const Var<T>& x) {
  const bool relu = options_.activation() == "relu";
  Var<T> h = apply_linear(*linear1_, x, relu);
  if (!relu) h = gelu(h);
  return dropout2_->forward(apply_linear(*linear2_, dropout_->forward(h), false));
}

template <class T>
Var<T> TransformerEncoderLayer<T>::forward(const Var<T>& src, const AttentionMask<T>& src_mask,
                                          const AttentionMask<T>& src_key_padding_mask, bool is_causal) {
  auto sa = [&](const Var<T>& x) {
    return dropout1_->forward(self_attn_->forward(x, x, x, src_key_padding_mask, false, src_mask, true, is_causal).output);
  };
  if (options_.norm_first()) {
    Var<T> x = add(src, sa(norm1_->forward(src)));
    return add(x, feed_forward(norm2_->forward(x)));
  }
  Var<T> x = norm1_->forward(add(src, sa(src)));
  return norm2_->forward(add(x, feed_forward(x)));
}

template <class T>
TransformerEncoder<T>::TransformerEncoder(const TransformerEncoderLayerOptions& layer, std::size_t num_layers, Rng& rng,
                                          bool final_norm) {
  TG_CHECK(ValueError, num_layers >= 1, "TransformerEncoder: num_layers must be at least 1, got 0");
  auto list = this->register_module("layers", std::make_shared<ModuleList<T>>());
  for (std::size_t i = 0; i < num_layers; ++i) {
    layers_.push_back(list->push_back(std::make_shared<TransformerEncoderLayer<T>>(layer, rng)));
  }
  if (final_norm) {
    norm_ = this->register_module(
        "norm", std::make_shared<LayerNorm<T>>(LayerNormOptions(layer.d_model()).eps(layer.layer_norm_eps())));
  }
}

template <class T>
Var<T> TransformerEncoder<T>::forward(const Var<T>& src, const AttentionMask<T>& mask,
                                     const AttentionMask<T>& src_key_padding_mask, bool is_causal) {
  Var<T> x = src;
  for (auto& l : layers_) x = l->forward(x, mask, src_key_padding_mask, is_causal);
  return norm_ ? norm_->forward(x) : x;
}

// ---- positional encodings -----------------------------------------------------------------------

template <class T>
Array<T> sinusoidal_positional_encoding(std::size_t length, std::size_t d_model) {
  checked_numel("sinusoidal_positional_encoding", {length, d_model});
  Array<T> pe = xt::zeros<T>({length, d_model});
  for (std::size_t p = 0; p < length; ++p) {
    for (std::size_t i = 0; i < d_model; ++i) {
      const double freq = std::exp(-std::log(10000.0) * double(i - i % 2) / double(d_model));
      pe(p, i) = T(i % 2 == 0 ? std::sin(double(p) * freq) : std::cos(double(p) * freq));
    }
  }
  return pe;
}

namespace {

// y = x + W[t] at every position t; scalars: batch_first, batch, length, dim.
template <class T>
Var<T> add_positions(const Var<T>& x, const Var<T>& w, bool batch_first) {
  Op<T> op("positional_embedding", {x, w});
  const Shape& s = op.input(0).shape();
  const Array<T>& wv = op.input(1);
  const std::size_t P = wv.shape()[0], D = wv.shape()[1];
  const bool ok = (s.size() == 2 || s.size() == 3) && s.back() == D;
  const std::size_t L = !ok ? 0 : s.size() == 2 ? s[0] : batch_first ? s[1] : s[0];
  TG_CHECK(ShapeError, ok && L <= P, "PositionalEmbedding: input ", to_string(s), " does not fit weight ",
           to_string(wv.shape()), ": expected (batch, length <= ", P, ", ", D, ")", batch_first ? "" : " sequence-first");
  const std::size_t B = s.size() == 2 ? 1 : batch_first ? s[0] : s[1];
  const bool bf = batch_first || s.size() == 2;
  Array<T>& y = op.output(s);
  const T* xp = op.input(0).data();
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t t = 0; t < L; ++t) {
      const std::size_t row = bf ? b * L + t : t * B + b;
      const T* xr = xp + row * D;
      const T* wr = wv.data() + t * D;
      T* yr = y.data() + row * D;
      for (std::size_t j = 0; j < D; ++j) yr[j] = xr[j] + wr[j];
    }
  }
  op.save_scalar(0, double(bf));
  op.save_scalar(1, double(B));
  op.save_scalar(2, double(L));
  return op.finish([](Backward<T>& b) {
    b.accumulate(0, b.grad_out());
    if (!b.needs_grad(1)) return;
    const bool bf = b.scalar(0) != 0;
    const std::size_t B = std::size_t(b.scalar(1)), L = std::size_t(b.scalar(2));
    auto t = b.grad_target(1);
    const std::size_t D = t.grad.shape()[1];
    if (!t.add) t.grad.fill(T(0));
    const T* g = b.grad_out().data();
    for (std::size_t bb = 0; bb < B; ++bb) {
      for (std::size_t tt = 0; tt < L; ++tt) {
        const T* gr = g + (bf ? bb * L + tt : tt * B + bb) * D;
        T* dr = t.grad.data() + tt * D;
        for (std::size_t j = 0; j < D; ++j) dr[j] += gr[j];
      }
    }
  });
}

}  // namespace

template <class T>
PositionalEmbedding<T>::PositionalEmbedding(std::size_t num_positions, std::size_t dim, Rng& rng, bool batch_first)
    : batch_first_(batch_first) {
  TG_CHECK(ValueError, num_positions > 0 && dim > 0, "PositionalEmbedding: sizes must be positive, got (",
           num_positions, ", ", dim, ")");
  Array<T> w = rng.normal<T>({num_positions, dim});
  w *= T(0.02);
  this->register_parameter("weight", std::move(w));
}

template <class T>
Var<T> PositionalEmbedding<T>::forward(const Var<T>& x) {
  return add_positions<T>(x, this->param_at(0), batch_first_);
}

#define TAPEGRAD_SECTION(T)                                                   \
  template class TransformerEncoderLayer<T>;                                  \
  template class TransformerEncoder<T>;                                       \
  template class PositionalEmbedding<T>;                                      \
  template Array<T> sinusoidal_positional_encoding<T>(std::size_t, std::size_t);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::nn
