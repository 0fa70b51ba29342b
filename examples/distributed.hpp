#pragma once
// What a training example needs to run data-parallel on MPI with `--distributed`: a few lines
// in each example (examples/fashion_mnist.cpp shows them all).
//
//     examples::DistributedFlags flags;
//     examples::add_distributed_flags(app, flags);                  // --distributed, --deterministic
//     ...
//     examples::Distributed dist(flags, argc, argv);                // MPI, or a world of one
//     tg::data::DataLoader<float> loader(train, dist.train_loader(batch, train.size(), seed));
//     examples::Trainer<float> trainer(dist, model);                // broadcasts rank 0's weights
//     for (auto& batch : loader) {
//       trainer.step(tape, batch, [&](tg::Tape<float>& t, tg::data::Batch<float>& b) { return loss; });
//       opt.step();
//     }
//     dist.sum(sums, n);                                           // metrics over every rank
//     if (dist.is_root()) std::printf("model checksum: %s\n", dist.checksum(model).c_str());
//
// Without --distributed everything here is the plain one-process loop. Built without MPI
// (TAPEGRAD_WITH_MPI=OFF), --distributed is an error that says so.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "tapegrad/tapegrad.hpp"
#if TAPEGRAD_EXAMPLES_WITH_MPI
#include "tapegrad/dist.hpp"
#endif

namespace examples {

namespace tg = tapegrad;

struct DistributedFlags {
  bool distributed = false;
  bool deterministic = false;
};

inline void add_distributed_flags(CLI::App& app, DistributedFlags& flags) {
  app.add_flag("--distributed", flags.distributed,
               "Train data-parallel on the processes of an MPI job (mpirun -np N ...); --batch-size is the global "
               "batch, N must divide it");
  app.add_flag("--deterministic", flags.deterministic,
               "With --distributed: parameters bit-identical for 1, 2, 4 or 8 processes and any thread count "
               "(slower: each global batch in 8 chunks, one thread for forward and backward)");
}

/// One process, or one rank of an MPI job.
class Distributed {
 public:
  /// Starts MPI when `flags.distributed`. Throws tg::ValueError if asked without MPI support.
  Distributed(const DistributedFlags& flags, int& argc, char**& argv) : flags_(flags) {
    if (!flags.distributed) {
      TG_CHECK(tg::ValueError, !flags.deterministic, "--deterministic needs --distributed");
      return;
    }
#if TAPEGRAD_EXAMPLES_WITH_MPI
    env_ = std::make_unique<tg::dist::Environment>(argc, argv);
#else
    (void)argc, (void)argv;
    throw tg::ValueError("--distributed: this build has no MPI (configure with openmpi installed, TAPEGRAD_WITH_MPI=ON)");
#endif
  }

  bool distributed() const { return flags_.distributed; }
  bool deterministic() const { return flags_.deterministic; }
#if TAPEGRAD_EXAMPLES_WITH_MPI
  int rank() const { return env_ ? env_->rank() : 0; }
  int world_size() const { return env_ ? env_->world_size() : 1; }
  const tg::dist::Environment& env() const { return *env_; }
#else
  int rank() const { return 0; }
  int world_size() const { return 1; }
#endif
  bool is_root() const { return rank() == 0; }

  /// `requested` threads if positive; else, deterministic, one (its forward and backward run on
  /// one thread anyway, and any other count makes every step stop and restart the workers);
  /// else, distributed, the machine's cores shared among the processes on it; else tapegrad's
  /// default (OPENBLAS_NUM_THREADS, else one per core).
  void set_threads(int requested) const {
    if (requested > 0) {
      tg::set_num_threads(requested);
      return;
    }
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (env_ && flags_.deterministic) {
      tg::set_num_threads(1);
    } else if (env_) {
      const int cores = int(std::thread::hardware_concurrency());
      tg::set_num_threads(std::max(1, cores / env_->local_size()));
    }
#endif
  }

  /// Options of the training loader: one process shuffles the whole set with batches of
  /// `global_batch`; a rank takes its interleaved share (a DistributedSampler, every example once)
  /// with batches of global_batch / W, so the job visits the batches one process would.
  tg::data::DataLoaderOptions train_loader(std::size_t global_batch, std::size_t size, std::uint64_t seed) const {
    if (!distributed()) return tg::data::DataLoaderOptions(global_batch).shuffle(true).seed(seed);
    const auto w = std::size_t(world_size());
    TG_CHECK(tg::ValueError, global_batch % w == 0, "--batch-size ", global_batch, " is not a multiple of the ", w,
             " processes");
    return tg::data::DataLoaderOptions(global_batch / w)
        .sampler(tg::data::DistributedSampler(size, std::size_t(rank()), w,
                                              tg::data::DistributedSamplerOptions().seed(seed).tail(tg::data::Tail::exact)));
  }
  /// Options of an evaluation loader: this rank's share of the set, in order (sum the results).
  tg::data::DataLoaderOptions eval_loader(std::size_t batch, std::size_t size) const {
    if (!distributed()) return tg::data::DataLoaderOptions(batch);
    return tg::data::DataLoaderOptions(batch).sampler(
        tg::data::DistributedSampler(size, std::size_t(rank()), std::size_t(world_size()),
                                     tg::data::DistributedSamplerOptions().shuffle(false).tail(tg::data::Tail::exact)));
  }

  /// Throws on every rank unless every rank loaded the same dataset (size and shapes).
  template <class T>
  void check_dataset(const tg::data::Dataset<T>& data) const {
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (env_) tg::dist::check_same_dataset(*env_, data);
#else
    (void)data;
#endif
  }

  /// Sums `values[0..n)` over the ranks, in place.
  void sum(double* values, std::size_t n) const {
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (env_) tg::dist::all_reduce_sum(*env_, values, n);
#else
    (void)values, (void)n;
#endif
  }

  /// The model's checksum as 16 hex digits; distributed, after checking that every rank's is the same.
  template <class T>
  std::string checksum(const tg::nn::Module<T>& model) const {
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (env_) return tg::io::checksum_hex(tg::dist::check_same_parameters(*env_, model));
#endif
    return tg::io::checksum_hex(tg::io::checksum(model));
  }

  /// A training checkpoint: written by rank 0 only.
  template <class T>
  void save(const tg::nn::Module<T>& model, const tg::optim::Optimizer<T>& opt, const std::string& path) const {
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (env_) return tg::dist::save(*env_, model, opt, path);
#endif
    tg::save(model, opt, path);
  }
  /// Loads a training checkpoint: rank 0 reads it and sends it to the others.
  template <class T>
  void load(tg::nn::Module<T>& model, tg::optim::Optimizer<T>& opt, const std::string& path) const {
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (env_) return tg::dist::load(*env_, model, opt, path);
#endif
    tg::load(model, opt, path);
  }

  /// After an error: distributed, ends the whole job with this rank's message (other ranks may
  /// be waiting for it in a collective); otherwise prints it. Returns the exit status.
  int fail(const std::string& program, const std::string& message) const {
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (env_) env_->abort(program + ": " + message);
#endif
    std::fprintf(stderr, "%s: %s\n", program.c_str(), message.c_str());
    return 1;
  }

 private:
  DistributedFlags flags_;
#if TAPEGRAD_EXAMPLES_WITH_MPI
  std::unique_ptr<tg::dist::Environment> env_;
#endif
};

/// What one step saw on this rank.
struct StepStats {
  double loss_sum = 0;       ///< mean loss × examples
  std::size_t examples = 0;  ///< this rank's examples
};

/// One training step's gradients: alone, zero_grad + forward + backward; distributed, the same
/// over this rank's share and the gradients averaged over the ranks (tapegrad::dist::DataParallel).
template <class T>
class Trainer {
 public:
  /// Distributed: checks that every rank built the same model and gives every rank rank 0's weights.
  Trainer(const Distributed& dist, tg::nn::Module<T>& model) : model_(model) {
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (dist.distributed()) {
      ddp_ = std::make_unique<tg::dist::DataParallel<T>>(
          dist.env(), model, tg::dist::DataParallelOptions().deterministic(dist.deterministic()));
    }
#else
    (void)dist;
#endif
  }

  /// `loss_fn(tape, batch)` returns the mean loss over the batch's rows (in deterministic mode
  /// it is called once per chunk of the batch).
  template <class F>
  StepStats step(tg::Tape<T>& tape, tg::data::Batch<T>& batch, F&& loss_fn) {
#if TAPEGRAD_EXAMPLES_WITH_MPI
    if (ddp_) {
      const auto s = ddp_->forward_backward(tape, batch, loss_fn);
      return StepStats{s.loss_sum, s.examples};
    }
#endif
    model_.zero_grad();
    const std::size_t n = batch.size();
    const tg::Var<T> loss = loss_fn(tape, batch);
    const double sum = double(loss.item()) * double(n);
    tape.backward(loss);
    return StepStats{sum, n};
  }

 private:
  tg::nn::Module<T>& model_;
#if TAPEGRAD_EXAMPLES_WITH_MPI
  std::unique_ptr<tg::dist::DataParallel<T>> ddp_;
#endif
};

}  // namespace examples
