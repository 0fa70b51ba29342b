#pragma once
/// Layer 8: one training step of a data-parallel job, in one call: this rank's forward and
/// backward over its share of a global batch, then the gradients averaged over the ranks.
///
///     tapegrad::dist::DataParallel<float> ddp(env, model);      // checks, then broadcasts rank 0's weights
///     for (auto& batch : loader) {                             // loader with a DistributedSampler
///       auto stats = ddp.forward_backward(tape, batch, [&](tapegrad::Tape<float>& t, tapegrad::data::Batch<float>& b) {
///         return tapegrad::softmax_cross_entropy(model.forward(t.constant(std::move(b.features))), b.targets);
///       });
///       opt.step();                                            // identical on every rank
///     }
///
/// Every rank must take as many steps: feed it a DataLoader with a DistributedSampler over a
/// dataset that `check_same_dataset` found to be the same on every rank.
///
/// The loss function returns the **mean** loss over the rows of the batch it is given (a
/// one-element value). Each rank's gradient is weighted by its share of the global batch
/// (GradientReducer::average(n)), so W processes with batch b each take the step one process
/// takes with batch b·W, also on an uneven last batch.
///
/// **Deterministic mode** (`DataParallelOptions().deterministic(true)`): parameters after any
/// number of steps are bit-identical for every world size W that is a power of two dividing
/// `chunks`, and for every thread count. The global batch is cut into `chunks` fixed chunks
/// whatever W is (chunk j holds global positions j, j + C, j + 2C, ...; with a DistributedSampler
/// rank r holds chunks r, r + W, ...). Each chunk's gradient is computed alone on one thread
/// (the products are never cut across threads there), weighted by its share of the global batch,
/// and the chunks are summed in one fixed binary tree (chunk residues modulo 2, 4, 8, ...), whose
/// top levels are the exchanges between ranks (recursive doubling with MPI_Sendrecv). The cost:
/// smaller products (B/C rows), one thread per process for forward and backward, and log2(W)
/// full-size exchanges instead of one all-reduce; docs/distributed.md measures it. Run it with
/// `set_num_threads(1)`: at any other count each step stops and restarts tapegrad's workers to
/// compute the chunks on one thread.
#include <cstddef>
#include <type_traits>
#include <vector>

#include "tapegrad/arg.hpp"
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/dist/environment.hpp"
#include "tapegrad/dist/reducer.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"  // TAPEGRAD_ARG
#include "tapegrad/tape.hpp"

namespace tapegrad::dist {

/// Options of DataParallel.
struct DataParallelOptions {
  /// Bytes per bucket of the gradient all-reduce (ignored in deterministic mode).
  TAPEGRAD_ARG(std::size_t, bucket_bytes) = kDefaultBucketBytes;
  /// Bit-identical parameters for any power-of-two world size dividing `chunks` and any thread
  /// count, at a cost (see above). Default false.
  TAPEGRAD_ARG(bool, deterministic) = false;
  /// Chunks per global batch in deterministic mode (default 8): the largest world size it allows.
  TAPEGRAD_ARG(std::size_t, chunks) = 8;
};

/// What one step saw.
struct StepStats {
  double loss_sum = 0;              ///< this rank's mean loss × its examples (Σ over its chunks)
  std::size_t examples = 0;         ///< this rank's examples in the step
  std::size_t global_examples = 0;  ///< every rank's together: the global batch
};

/// Data-parallel steps of one module over the ranks of an Environment.
template <class T>
class DataParallel {
 public:
  /// Collective. Checks that every rank holds the same architecture and broadcasts rank 0's
  /// parameters. Throws ValueError in deterministic mode unless `chunks` is a positive multiple
  /// of the world size and the world size a power of two. Keeps references to `env` and
  /// `module`, which must outlive it.
  DataParallel(const Environment& env, nn::Module<T>& module, const DataParallelOptions& options = DataParallelOptions());

  /// Collective. Zeroes the module's gradients, runs `loss_fn(tape, b)` and backward over this
  /// rank's `batch` (skipped for an empty batch: the rank contributes no examples), and leaves
  /// on every rank the gradient of the mean loss over the global batch. `loss_fn` returns the
  /// mean loss over the rows of `b`; in deterministic mode it is called once per chunk, with a
  /// batch of that chunk's rows (owned by DataParallel), and must compute the same thing.
  /// In deterministic mode `batch` must be this rank's interleaved share of the global batch
  /// (what a DataLoader with a DistributedSampler yields); ValueError on every rank otherwise.
  template <class F>
  StepStats forward_backward(Tape<T>& tape, data::Batch<T>& batch, F&& loss_fn) {
    using Fn = std::remove_reference_t<F>;
    return run(tape, batch, LossRef{const_cast<void*>(static_cast<const void*>(&loss_fn)),
                                    [](void* f, Tape<T>& t, data::Batch<T>& b) { return (*static_cast<Fn*>(f))(t, b); }});
  }

  const Environment& env() const noexcept { return env_; }
  const DataParallelOptions& options() const noexcept { return options_; }

 private:
  struct LossRef {  // a non-owning callable: no allocation per step
    void* fn;
    Var<T> (*call)(void*, Tape<T>&, data::Batch<T>&);
  };
  StepStats run(Tape<T>& tape, data::Batch<T>& batch, LossRef loss);
  StepStats run_deterministic(Tape<T>& tape, data::Batch<T>& batch, LossRef loss);
  void tree_sum(std::size_t a, std::size_t m);

  const Environment& env_;
  nn::Module<T>& module_;
  DataParallelOptions options_;
  std::vector<Parameter<T>> params_;
  GradientReducer<T> reducer_;
  // Deterministic mode: one flat gradient per local chunk, its flags, and a receive buffer.
  std::vector<std::vector<T>> leaves_;
  std::vector<unsigned char> leaf_has_grad_;  // [chunk * params + param]
  std::vector<std::size_t> leaf_rows_;
  std::vector<std::int64_t> meta_;            // [examples per rank..., has-gradient per param...]
  std::vector<T> received_;
  data::Batch<T> chunk_;
};

}  // namespace tapegrad::dist
