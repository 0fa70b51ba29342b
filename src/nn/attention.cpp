#include "tapegrad/nn/attention.hpp"

#include <cmath>
#include <memory>

#include "detail/attention_core.hpp"
#include "detail/gather.hpp"
#include "detail/project.hpp"
#include "instantiate.hpp"

namespace tapegrad::nn {

namespace {

const char* kName = "MultiheadAttention";

// Handles to the same value on the same tape (self-attention: one projection for q, k and v).
template <class T>
bool same_value(const Var<T>& a, const Var<T>& b) {
  return a.defined() && b.defined() && !a.is_parameter() && !b.is_parameter() && a.tape() == b.tape() &&
         a.index() == b.index();
}

// How the rows of one input are laid out: batch b, position t at row b·L + t (batch_first or
// unbatched) or t·B + b.
struct Layout {
  std::size_t batch, len;
  bool batch_first;
  detail::AttnOperand operand(std::size_t source, std::size_t offset, std::size_t width, std::size_t head_dim) const {
    return batch_first ? detail::AttnOperand{source, offset, len * width, head_dim, width}
                       : detail::AttnOperand{source, offset, width, head_dim, batch * width};
  }
};

template <class T>
Layout layout_of(const char* what, const Var<T>& x, std::size_t E, bool batch_first, std::size_t batch) {
  const Shape& s = x.shape();
  TG_CHECK(ShapeError, (s.size() == 2 || s.size() == 3) && s.back() == E, kName, ": ", what, " has shape ",
           to_string(s), "; expected (", batch_first ? "batch, length" : "length, batch", ", ", E, ") or (length, ", E,
           ") unbatched (embed_dim ", E, ")");
  if (s.size() == 2) return {1, s[0], true};
  const std::size_t B = batch_first ? s[0] : s[1], L = batch_first ? s[1] : s[0];
  TG_CHECK(ShapeError, batch == 0 || B == batch, kName, ": ", what, " has shape ", to_string(s), ", a batch of ", B,
           " where the query has ", batch);
  return {B, L, batch_first};
}

template <class T>
detail::AttnMaskRef<T> mask_ref(const AttentionMask<T>& m) {
  detail::AttnMaskRef<T> r;
  if (m.boolean()) {
    r.boolean = m.boolean()->data();
    r.block_value = true;  // PyTorch's MultiheadAttention: true = may not attend
  } else {
    r.additive = m.additive()->data();
  }
  return r;
}

}  // namespace

template <class T>
MultiheadAttention<T>::MultiheadAttention(const MultiheadAttentionOptions& options, Rng& rng)
    : options_(options), rng_(rng.engine()()) {
  const std::size_t E = options.embed_dim(), h = options.num_heads();
  TG_CHECK(ValueError, E > 0 && h > 0, kName, ": embed_dim and num_heads must be positive, got (", E, ", ", h, ")");
  TG_CHECK(ValueError, E % h == 0, kName, ": embed_dim ", E, " is not divisible by num_heads ", h);
  TG_CHECK(ValueError, options.dropout() >= 0 && options.dropout() < 1, kName, ": dropout must be in [0, 1), got ",
           options.dropout());
  checked_numel(kName, {3 * E, E});
  // PyTorch's _reset_parameters: xavier_uniform_(in_proj_weight), zero biases; out_proj keeps
  // Linear's default, kaiming_uniform_(a = √5) = U(-1/√E, 1/√E).
  const T xavier = T(std::sqrt(6.0 / double(E + 3 * E)));
  this->register_parameter("in_proj_weight", rng.uniform<T>({3 * E, E}, -xavier, xavier));
  if (options.bias()) this->register_parameter("in_proj_bias", xt::zeros<T>({3 * E}));
  out_proj_ = this->register_module("out_proj", std::make_shared<Linear<T>>(LinearOptions(E, E).bias(options.bias()), rng));
  const T k = T(1 / std::sqrt(double(E)));
  out_proj_->weight().mutable_value() = rng.uniform<T>({E, E}, -k, k);
}

template <class T>
AttentionResult<T> MultiheadAttention<T>::forward(const Var<T>& query, const Var<T>& key, const Var<T>& value,
                                                  const AttentionMask<T>& key_padding_mask, bool need_weights,
                                                  const AttentionMask<T>& attn_mask, bool average_attn_weights,
                                                  bool is_causal) {
  const std::size_t E = options_.embed_dim(), H = options_.num_heads(), dh = E / H;
  const bool bf = options_.batch_first();
  const Layout lq = layout_of(("query"), query, E, bf, 0);
  const bool unbatched = query.shape().size() == 2;
  TG_CHECK(ShapeError, key.shape().size() == query.shape().size() && value.shape().size() == query.shape().size(),
           kName, ": query ", to_string(query.shape()), ", key ", to_string(key.shape()), " and value ",
           to_string(value.shape()), " must all be batched (3-D) or all unbatched (2-D)");
  const Layout lk = layout_of("key", key, E, bf, lq.batch);
  const Layout lv = layout_of("value", value, E, bf, lq.batch);
  TG_CHECK(ShapeError, lk.len == lv.len, kName, ": key ", to_string(key.shape()), " and value ",
           to_string(value.shape()), " differ in length");
  const std::size_t B = lq.batch, L = lq.len, S = lk.len;

  detail::AttnMaskRef<T> masks[2];
  std::size_t n_masks = 0;
  if (!key_padding_mask.empty()) {
    const Shape& ms = key_padding_mask.shape();
    const bool ok = unbatched ? (ms.size() == 1 && ms[0] == S) : (ms.size() == 2 && ms[0] == B && ms[1] == S);
    TG_CHECK(ShapeError, ok, kName, ": key_padding_mask has shape ", to_string(ms), "; expected ",
             unbatched ? to_string(Shape{S}) : to_string(Shape{B, S}), " (batch, key length)");
    masks[n_masks] = mask_ref(key_padding_mask);
    masks[n_masks].batch_stride = S;
    masks[n_masks].col_stride = 1;
    ++n_masks;
  }
  if (!attn_mask.empty()) {
    const Shape& ms = attn_mask.shape();
    const bool two = ms.size() == 2 && ms[0] == L && ms[1] == S;
    const bool three = ms.size() == 3 && ms[0] == B * H && ms[1] == L && ms[2] == S;
    TG_CHECK(ShapeError, two || three, kName, ": attn_mask has shape ", to_string(ms), "; expected ",
             to_string(Shape{L, S}), " or ", to_string(Shape{B * H, L, S}), " (batch·heads, query length, key length)");
    masks[n_masks] = mask_ref(attn_mask);
    masks[n_masks].row_stride = S;
    masks[n_masks].col_stride = 1;
    if (three) {
      masks[n_masks].batch_stride = H * L * S;
      masks[n_masks].head_stride = L * S;
    }
    ++n_masks;
  }

  // The input projections: one for q, k and v when they are the same value (self-attention),
  // one for k and v when those are, else one each. Each head reads its columns in place.
  const Var<T> w = this->param_at(0);
  const Var<T> b = options_.bias() ? Var<T>(this->param_at(1)) : Var<T>();
  Var<T> sources[3];
  std::size_t n_sources = 0;
  detail::AttnSpec spec;
  if (same_value(query, key) && same_value(key, value)) {
    sources[n_sources++] = detail::project<T>("in_proj", query, w, b, true, 0, 3 * E);
    spec.q = lq.operand(0, 0, 3 * E, dh);
    spec.k = lq.operand(0, E, 3 * E, dh);
    spec.v = lq.operand(0, 2 * E, 3 * E, dh);
  } else if (same_value(key, value)) {
    sources[n_sources++] = detail::project<T>("in_proj", query, w, b, true, 0, E);
    sources[n_sources++] = detail::project<T>("in_proj", key, w, b, true, E, 2 * E);
    spec.q = lq.operand(0, 0, E, dh);
    spec.k = lk.operand(1, 0, 2 * E, dh);
    spec.v = lk.operand(1, E, 2 * E, dh);
  } else {
    sources[n_sources++] = detail::project<T>("in_proj", query, w, b, true, 0, E);
    sources[n_sources++] = detail::project<T>("in_proj", key, w, b, true, E, E);
    sources[n_sources++] = detail::project<T>("in_proj", value, w, b, true, 2 * E, E);
    spec.q = lq.operand(0, 0, E, dh);
    spec.k = lk.operand(1, 0, E, dh);
    spec.v = lv.operand(2, 0, E, dh);
  }
  spec.batch = B;
  spec.heads = H;
  spec.L = L;
  spec.S = S;
  spec.E = dh;
  spec.Ev = dh;
  spec.o = lq.operand(0, 0, E, dh);
  spec.causal = is_causal;
  spec.scale = 1 / std::sqrt(double(dh));
  spec.dropout = this->is_training() ? options_.dropout() : 0;
  spec.weights = need_weights;
  const Shape out_shape = query.shape();
  Var<T> attended = detail::attention_core<T>("multi_head_attention", sources, n_sources, spec, out_shape, masks,
                                              n_masks, &rng_);
  AttentionResult<T> result;
  if (need_weights) {  // the packed result: the output, then the weights (B, H, L, S)
    const std::size_t out_size = numel(out_shape), LS = L * S;
    std::vector<detail::Piece>& pieces = detail::scratch_pieces();
    for (std::size_t n = 0; n < B * H; ++n) {
      const std::size_t dst = average_attn_weights ? (n / H) * LS : n * LS;
      pieces.push_back({0, out_size + n * LS, 0, dst, 0, LS, 1, average_attn_weights ? 1.0 / double(H) : 1.0});
    }
    const Shape wshape = average_attn_weights ? (unbatched ? Shape{L, S} : Shape{B, L, S})
                                              : (unbatched ? Shape{H, L, S} : Shape{B, H, L, S});
    {
      Op<T> op("attention_weights", {attended});
      result.weights = detail::gather(op, wshape, pieces);
    }
    std::vector<detail::Piece>& out_pieces = detail::scratch_pieces();
    out_pieces.push_back({0, 0, 0, 0, 0, out_size, 1, 1.0});
    Op<T> op("attention_output", {attended});
    attended = detail::gather(op, out_shape, out_pieces);
  }
  Linear<T>& proj = *out_proj_;
  result.output = detail::project<T>("out_proj", attended, proj.weight(),
                                     options_.bias() ? Var<T>(proj.bias()) : Var<T>(), false, 0, E);
  return result;
}

#define TAPEGRAD_SECTION(T) template class MultiheadAttention<T>;
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::nn
