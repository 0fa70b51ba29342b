#pragma once
/// Layer 8: checkpoints of a data-parallel job. One rank writes them, and only that rank reads
/// them: the others receive the contents by broadcast, so the file need not be on a file system
/// every machine sees.
///
///     tapegrad::dist::save(env, model, opt, "train.npz");   // rank 0 writes (atomically)
///     tapegrad::dist::load(env, model, opt, "train.npz");   // rank 0 reads; every rank resumes
///     loader.set_epoch(opt.step_count() / loader.num_batches(), opt.step_count() % loader.num_batches());
///
/// The file is an ordinary tapegrad checkpoint (io/checkpoint.hpp): `tapegrad::load` reads it
/// in one process. A resumed run continues the interrupted epoch's order: with one optimizer
/// step per batch, the step count saved in the optimizer's state says which epoch and batch
/// come next, as above. Every function here is collective; a failure on the writing or
/// reading rank (a missing file, a mismatched checkpoint) is thrown on every rank, of the same
/// kind and with that rank's message.
#include <string>

#include "tapegrad/dist/environment.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::dist {

/// Rank `root` saves the module's parameters to `path` (tapegrad::save); the others wait until
/// it is written.
template <class T>
void save(const Environment& env, const nn::Module<T>& module, const std::string& path, int root = 0);
/// Rank `root` saves the module's parameters and the optimizer's state.
template <class T>
void save(const Environment& env, const nn::Module<T>& module, const optim::Optimizer<T>& optimizer,
          const std::string& path, int root = 0);

/// Rank `root` loads the module's parameters from `path` (tapegrad::load, every name and shape
/// checked), then broadcasts them to every rank.
template <class T>
void load(const Environment& env, nn::Module<T>& module, const std::string& path, int root = 0);
/// Rank `root` loads the module's parameters and the optimizer's state, then broadcasts both.
template <class T>
void load(const Environment& env, nn::Module<T>& module, optim::Optimizer<T>& optimizer, const std::string& path,
          int root = 0);

}  // namespace tapegrad::dist
