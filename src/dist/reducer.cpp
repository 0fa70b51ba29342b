#include "tapegrad/dist/reducer.hpp"

#include <algorithm>

#include "dist/internal.hpp"
#include "tapegrad/dist/parameters.hpp"

namespace tapegrad::dist {

template <class T>
GradientReducer<T>::GradientReducer(const Environment& env, const nn::Module<T>& module, const ReducerOptions& options)
    : env_(env) {
  check_same_architecture(env, module);
  for (const auto& [name, p] : module.named_parameters()) params_.push_back(p);
  std::size_t total = 0;
  for (const auto& p : params_) total += p.value().size();
  flat_.assign(total, T(0));
  meta_.assign(params_.size() + 1, 0);
  local_grad_.assign(params_.size(), 0);
  // The parameters' elements, one after the other, cut every `per` elements: a large parameter
  // spans several buckets, and every bucket but the last is full.
  const std::size_t per = options.bucket_bytes() == 0 ? std::max<std::size_t>(total, 1)
                                                      : std::max<std::size_t>(1, options.bucket_bytes() / sizeof(T));
  std::size_t param = 0, offset = 0;
  for (std::size_t begin = 0; begin < total; begin += per) {
    Bucket bucket{begin, std::min(total, begin + per), {}};
    for (std::size_t at = begin; at < bucket.end;) {
      const std::size_t size = params_[param].value().size();
      const std::size_t take = std::min(size - offset, bucket.end - at);
      if (take > 0) bucket.pieces.push_back(Piece{param, offset, take, at});
      at += take;
      offset += take;
      if (offset == size) ++param, offset = 0;
    }
    buckets_.push_back(std::move(bucket));
  }
}

template <class T>
std::size_t GradientReducer<T>::average(std::size_t local_examples) {
  reduce(local_examples, true);
  return std::size_t(meta_[0]);
}

template <class T>
void GradientReducer<T>::average() {
  reduce(0, false);
}

template <class T>
void GradientReducer<T>::reduce(std::size_t local_examples, bool weighted) {
  const std::size_t n_params = params_.size();
  std::size_t total = 0;
  for (std::size_t i = 0; i < n_params; ++i) total += params_[i].value().size();
  TG_CHECK(ShapeError, total == flat_.size(), "GradientReducer: the parameters now have ", total,
           " elements, not the ", flat_.size(), " they had when the reducer was made");
  // One small reduction first: the job's example count, and which parameters have a gradient
  // somewhere. Every rank then takes the same decisions below.
  meta_[0] = std::int64_t(local_examples);
  for (std::size_t i = 0; i < n_params; ++i) {
    local_grad_[i] = detail::grad_is_set(params_[i]) ? 1 : 0;
    meta_[i + 1] = local_grad_[i];
  }
  TG_MPI(MPI_Allreduce(MPI_IN_PLACE, meta_.data(), int(meta_.size()), MPI_INT64_T, MPI_SUM, env_.comm()));
  const auto examples = std::size_t(meta_[0]);
  if (weighted && examples == 0) return;
  // Rank r's share of the average, applied while packing: n_r / N, or 1 / W.
  const T weight = weighted ? T(double(local_examples) / double(examples)) : T(1.0 / double(env_.world_size()));

  for (const Bucket& bucket : buckets_) {
    bool any = false;
    for (const Piece& piece : bucket.pieces) any = any || meta_[piece.param + 1] > 0;
    if (!any) continue;  // no rank has a gradient for anything in it: every rank skips it
    T* const buf = flat_.data() + bucket.begin;
    for (const Piece& piece : bucket.pieces) {
      T* const dst = flat_.data() + piece.at;
      if (local_grad_[piece.param]) {
        const T* src = detail::read_grad(params_[piece.param]).data() + piece.offset;
        for (std::size_t k = 0; k < piece.count; ++k) dst[k] = src[k] * weight;
      } else {
        std::fill(dst, dst + piece.count, T(0));  // no gradient here: zeros
      }
    }
    detail::all_reduce_in_place(env_, buf, bucket.end - bucket.begin);
    for (const Piece& piece : bucket.pieces) {
      if (meta_[piece.param + 1] == 0) continue;
      T* const out = detail::write_grad(params_[piece.param]).data() + piece.offset;
      std::copy(flat_.data() + piece.at, flat_.data() + piece.at + piece.count, out);
    }
  }
}

template class GradientReducer<float>;
template class GradientReducer<double>;

}  // namespace tapegrad::dist
