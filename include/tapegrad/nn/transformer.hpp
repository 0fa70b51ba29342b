#pragma once
/// Transformer encoders with PyTorch's names, options, submodules and masks:
/// torch.nn.TransformerEncoderLayer and TransformerEncoder, and positional encodings.
///
///     tapegrad::Rng rng(0);
///     auto opts = tapegrad::nn::TransformerEncoderLayerOptions(64, 4).dim_feedforward(128).batch_first(true);
///     tapegrad::nn::TransformerEncoder<float> encoder(opts, 2, rng);   // layers.0, layers.1
///     tapegrad::nn::PositionalEmbedding<float> pos(16, 64, rng);      // learned, 16 positions
///     auto h = encoder.forward(pos.forward(x));                        // x (B, 16, 64)
///
/// A layer's submodules are PyTorch's: `self_attn` (MultiheadAttention), `linear1`, `dropout`,
/// `linear2`, `norm1`, `norm2`, `dropout1`, `dropout2`, so its parameters are named
/// self_attn.in_proj_weight, self_attn.in_proj_bias, self_attn.out_proj.weight,
/// self_attn.out_proj.bias, linear1.weight, linear1.bias, linear2.weight, linear2.bias,
/// norm1.weight, norm1.bias, norm2.weight, norm2.bias. linear1, linear2 and out_proj are tapegrad
/// Linears: their weights are (in, out), PyTorch's transposed (docs/checkpoint_to_pytorch.py
/// converts). Initialised with PyTorch's distributions (Linear: U(−1/√in, 1/√in) for weight and
/// bias; MultiheadAttention's own; LayerNorm ones and zeros).
///
/// Post-norm (norm_first false, PyTorch's default): x = norm1(x + dropout1(sa(x))), then
/// x = norm2(x + dropout2(linear2(dropout(activation(linear1(x)))))); pre-norm:
/// x = x + dropout1(sa(norm1(x))), then x = x + ff(norm2(x)). With relu, linear1 and the
/// activation are one op.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/attention.hpp"
#include "tapegrad/nn/attention.hpp"
#include "tapegrad/nn/dropout.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/normalization.hpp"
#include "tapegrad/nn/sequential.hpp"
#include "tapegrad/random.hpp"

namespace tapegrad::nn {

struct TransformerEncoderLayerOptions {
  TransformerEncoderLayerOptions(std::size_t d_model, std::size_t nhead) : d_model_(d_model), nhead_(nhead) {}
  TAPEGRAD_ARG(std::size_t, d_model);
  TAPEGRAD_ARG(std::size_t, nhead);
  TAPEGRAD_ARG(std::size_t, dim_feedforward) = 2048;
  TAPEGRAD_ARG(double, dropout) = 0.1;
  /// "relu" or "gelu".
  TAPEGRAD_ARG(std::string, activation) = "relu";
  TAPEGRAD_ARG(double, layer_norm_eps) = 1e-5;
  /// Inputs and output (B, L, d_model) instead of (L, B, d_model).
  TAPEGRAD_ARG(bool, batch_first) = false;
  /// Layer norm before attention and feed-forward instead of after.
  TAPEGRAD_ARG(bool, norm_first) = false;
  /// Biases of the linear layers and layer norms.
  TAPEGRAD_ARG(bool, bias) = true;
};

/// One encoder layer. Throws ValueError for an activation other than "relu"/"gelu", a dropout
/// outside [0, 1), sizes of 0, or nhead not dividing d_model.
template <class T>
class TransformerEncoderLayer : public Module<T> {
 public:
  TransformerEncoderLayer(const TransformerEncoderLayerOptions& options, Rng& rng);
  /// src (B, L, d) with batch_first, else (L, B, d), or (L, d) unbatched; the masks as
  /// MultiheadAttention's attn_mask and key_padding_mask (boolean: true = may not attend).
  Var<T> forward(const Var<T>& src, const AttentionMask<T>& src_mask = {},
                 const AttentionMask<T>& src_key_padding_mask = {}, bool is_causal = false);

  MultiheadAttention<T>& self_attn() { return *self_attn_; }
  Linear<T>& linear1() { return *linear1_; }
  Linear<T>& linear2() { return *linear2_; }
  LayerNorm<T>& norm1() { return *norm1_; }
  LayerNorm<T>& norm2() { return *norm2_; }
  const TransformerEncoderLayerOptions& options() const noexcept { return options_; }

 private:
  Var<T> feed_forward(const Var<T>& x);
  TransformerEncoderLayerOptions options_;
  std::shared_ptr<MultiheadAttention<T>> self_attn_;
  std::shared_ptr<Linear<T>> linear1_, linear2_;
  std::shared_ptr<Dropout<T>> dropout_, dropout1_, dropout2_;
  std::shared_ptr<LayerNorm<T>> norm1_, norm2_;
};

/// num_layers encoder layers (submodules layers.0, layers.1, ...) and, with final_norm, a
/// LayerNorm `norm` after them (PyTorch's TransformerEncoder(encoder_layer, num_layers, norm)).
template <class T>
class TransformerEncoder : public Module<T> {
 public:
  TransformerEncoder(const TransformerEncoderLayerOptions& layer, std::size_t num_layers, Rng& rng,
                     bool final_norm = false);
  Var<T> forward(const Var<T>& src, const AttentionMask<T>& mask = {}, const AttentionMask<T>& src_key_padding_mask = {},
                 bool is_causal = false);
  TransformerEncoderLayer<T>& layer(std::size_t i) { return *layers_.at(i); }
  std::size_t num_layers() const noexcept { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<TransformerEncoderLayer<T>>> layers_;
  std::shared_ptr<LayerNorm<T>> norm_;
};

/// The sinusoidal positional encoding of "Attention Is All You Need", (length, d_model):
/// PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i + 1] = cos(p / 10000^(2i/d)). A constant: add it
/// to the embeddings (it broadcasts over a batch-first batch).
template <class T>
Array<T> sinusoidal_positional_encoding(std::size_t length, std::size_t d_model);

/// Learned positional embeddings: parameter `weight` (num_positions, dim), drawn from
/// N(0, 0.02²). forward(x) adds weight[t] to position t of x (B, L, dim) (or (L, B, dim) when
/// batch_first is false; or (L, dim)), L ≤ num_positions; one op, whose backward sums the
/// gradient over the batch into weight's first L rows. Throws ShapeError otherwise.
template <class T>
class PositionalEmbedding : public Module<T> {
 public:
  PositionalEmbedding(std::size_t num_positions, std::size_t dim, Rng& rng, bool batch_first = true);
  Var<T> forward(const Var<T>& x);
  Parameter<T>& weight() { return this->param_at(0); }

 private:
  bool batch_first_;
};

}  // namespace tapegrad::nn
