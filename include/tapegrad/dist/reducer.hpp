#pragma once
/// Layer 8: averaging gradients over ranks after backward. The parameters' gradients are packed
/// into buckets (flat buffers, allocated once), each summed over ranks in place
/// (MPI_Allreduce with MPI_IN_PLACE), and unpacked.
///
///     tapegrad::dist::GradientReducer<float> reducer(env, model);
///     for (auto& batch : loader) {                   // this rank's share of a global batch
///       opt.zero_grad();
///       if (batch.size() > 0) tape.backward(loss_of(batch));
///       reducer.average(batch.size());               // every rank: the global batch's gradient
///       opt.step();
///     }
///
/// **Weighting.** With a loss that is a mean over the examples of a batch, rank r's gradient is
/// g_r = (1/n_r) Σ_{i∈r} ∇ℓ_i. The gradient of the mean over the global batch of N = Σ n_r
/// examples is (1/N) Σ_i ∇ℓ_i = Σ_r (n_r/N) g_r: `average(n_r)` weights each rank's gradient
/// by n_r/N. A plain mean of the g_r (`average()`, as PyTorch DDP does) is that only when every
/// n_r is equal; on an uneven last batch it over-weights the examples of the smaller shares.
///
/// **Parameters without a gradient.** A parameter may receive no gradient on some rank (its
/// rank had an empty batch, or the rank's forward did not use it). Such a rank contributes zeros
/// for it. If at least one rank has a gradient for it, every rank ends with the (weighted)
/// average and its gradient set; if no rank has one, it stays without a gradient on every rank,
/// so the optimizer skips it everywhere, as one process would. A bucket none of whose
/// parameters has a gradient on any rank is not sent.
///
/// **Overlap.** The reduction starts after backward has finished. Starting buckets while
/// backward still runs needs a tape hook ("this parameter's gradient is final") and, with Open
/// MPI's shared-memory and TCP transports, a thread or polling to progress non-blocking
/// collectives; docs/distributed.md measures what it could save here.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/dist/environment.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"  // TAPEGRAD_ARG

namespace tapegrad::dist {

/// The bucket size used unless ReducerOptions says otherwise (docs/distributed.md measures it).
inline constexpr std::size_t kDefaultBucketBytes = std::size_t(1) << 20;

/// Options of a GradientReducer.
struct ReducerOptions {
  /// Bytes of gradient per bucket (per MPI_Allreduce); a parameter larger than that spans several
  /// buckets. 0 means one bucket for everything.
  TAPEGRAD_ARG(std::size_t, bucket_bytes) = kDefaultBucketBytes;
};

/// Averages the gradients of a fixed list of parameters over the ranks of an Environment.
template <class T>
class GradientReducer {
 public:
  /// Collective. Checks that every rank holds the same architecture (check_same_architecture).
  /// The reducer keeps handles to the parameters and a reference to `env`, which must outlive it.
  GradientReducer(const Environment& env, const nn::Module<T>& module, const ReducerOptions& options = ReducerOptions());

  /// Collective. Replaces every rank's gradients by Σ_r (n_r/N) g_r, n_r being `local_examples`
  /// on rank r and N their sum, and returns N. A rank with no examples (n_r = 0) still calls it
  /// and contributes nothing. Returns 0, changing nothing, when no rank has an example.
  std::size_t average(std::size_t local_examples);
  /// Collective. Replaces every rank's gradients by their plain mean (1/W) Σ_r g_r.
  void average();

  std::size_t num_buckets() const noexcept { return buckets_.size(); }
  /// Elements of gradient in every bucket together (the parameters' total size).
  std::size_t num_elements() const noexcept { return flat_.size(); }
  const Environment& env() const noexcept { return env_; }

 private:
  struct Piece {  // elements [offset, offset + count) of parameter `param`, at `at` in the flat buffer
    std::size_t param, offset, count, at;
  };
  struct Bucket {
    std::size_t begin, end;     // its range of the flat buffer
    std::vector<Piece> pieces;  // what it holds
  };
  void reduce(std::size_t local_examples, bool weighted);

  const Environment& env_;
  std::vector<Parameter<T>> params_;
  std::vector<Bucket> buckets_;
  std::vector<T> flat_;                 // every bucket's buffer, one after the other
  std::vector<std::int64_t> meta_;      // [examples, has-gradient flag per parameter]
  std::vector<unsigned char> local_grad_;  // per parameter: this rank had a gradient
};

}  // namespace tapegrad::dist
