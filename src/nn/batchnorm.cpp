#include "tapegrad/nn/batchnorm.hpp"

#include "instantiate.hpp"
#include "tapegrad/normalization.hpp"

namespace tapegrad::nn {

template <class T>
BatchNorm1d<T>::BatchNorm1d(const BatchNormOptions& options) : options_(options) {
  const std::size_t c = options.num_features();
  TG_CHECK(ValueError, c > 0, "BatchNorm1d: num_features must be positive, got 0");
  checked_numel("BatchNorm1d", {c});
  if (options.momentum()) {
    const double m = *options.momentum();
    TG_CHECK(ValueError, m >= 0 && m <= 1, "BatchNorm1d: momentum must be in [0, 1], got ", m);
  }
  const Shape shape(1, c);
  if (options.affine()) {
    this->register_parameter("weight", xt::ones<T>(shape));
    this->register_parameter("bias", xt::zeros<T>(shape));
  }
  if (options.track_running_stats()) {
    this->register_buffer("running_mean", xt::zeros<T>(shape));
    this->register_buffer("running_var", xt::ones<T>(shape));
    this->register_buffer("num_batches_tracked", Array<T>(T(0)));
  }
}

template <class T>
Var<T> BatchNorm1d<T>::forward(const Var<T>& x) {
  const Shape& s = x.shape();
  TG_CHECK(ShapeError, (s.size() == 2 || s.size() == 3) && s[1] == options_.num_features(),
           "BatchNorm1d: expected input (N, ", options_.num_features(), ") or (N, ", options_.num_features(),
           ", L), got ", to_string(s));
  const bool training = this->is_training();
  const bool track = options_.track_running_stats();
  const Var<T> none;
  const Var<T> w = options_.affine() ? Var<T>(this->param_at(0)) : none;
  const Var<T> b = options_.affine() ? Var<T>(this->param_at(1)) : none;
  if (!track) return batch_norm(x, Parameter<T>(), Parameter<T>(), w, b, true, 0.0, options_.eps());
  // Buffers by position (running_mean, running_var, num_batches_tracked): a lookup by name
  // would build a string per step.
  Parameter<T>& count = this->buffer_at(2);
  // PyTorch counts the batch first and uses the count for the cumulative average; the count is
  // written only after batch_norm succeeded, so a failing call changes nothing.
  const double factor = options_.momentum() ? *options_.momentum() : 1.0 / (double(count.value()()) + 1.0);
  Var<T> y = batch_norm(x, this->buffer_at(0), this->buffer_at(1), w, b, training, training ? factor : 0.0,
                        options_.eps());
  if (training) count.mutable_value()() += T(1);
  return y;
}

#define TAPEGRAD_SECTION(T) template class BatchNorm1d<T>;
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::nn
