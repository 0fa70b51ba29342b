#pragma once
/// Layer 6: checkpoints. A module's parameters and buffers (running statistics such as
/// BatchNorm1d's `running_mean`), and optionally an optimizer's state, saved as a `.npz` file
/// keyed by name, as a PyTorch state_dict, which `numpy.load` reads (docs/checkpoints.md shows how
/// to load one into the equivalent PyTorch model).
///
///     tapegrad::save(model, "model.npz");               // keys layers.0.weight, layers.0.bias, ...
///     tapegrad::load(model, "model.npz");               // every name and shape checked first
///     tapegrad::save(model, optimizer, "train.npz");    // plus optimizer.step (int64), optimizer.exp_avg.0, ...
///     tapegrad::load(model, optimizer, "train.npz");    // resume training exactly
///
/// Saving is atomic (a temporary file, fsync, rename): a crash leaves the previous checkpoint
/// intact. Loading checks everything before changing anything and reports every mismatch
/// (missing, unexpected or misshapen entries) in one ValueError; malformed files are IoErrors.
#include <string>

#include "tapegrad/array.hpp"
#include "tapegrad/io/file.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad {

/// The prefix of the optimizer's entries in a checkpoint ("optimizer.step", ...).
inline constexpr const char* kOptimizerPrefix = "optimizer.";

/// Copies of the module's parameter values keyed by `named_parameters()` names, in that order,
/// then of its buffers keyed by `named_buffers()` names.
template <class T>
StateDict<T> state_dict(const nn::Module<T>& module);

/// Sets the module's parameters and buffers from `state`. Checks that every parameter and
/// buffer has exactly one entry
/// of its shape and that there are no other entries; on any problem throws one ValueError
/// listing them all and changes nothing. `what` prefixes the message (e.g. the file name).
template <class T>
void load_state_dict(nn::Module<T>& module, const StateDict<T>& state, const std::string& what = "load_state_dict");

/// Saves the module's parameters and buffers to `path` (a .npz file, arrays stored uncompressed).
template <class T>
void save(const nn::Module<T>& module, const std::string& path);
/// Saves the module's parameters and buffers and the optimizer's state (entries prefixed
/// "optimizer."). Throws ValueError if a parameter or buffer name starts with that prefix.
template <class T>
void save(const nn::Module<T>& module, const optim::Optimizer<T>& optimizer, const std::string& path);

/// Loads the module's parameters and buffers from `path`. Entries prefixed "optimizer." are ignored, so a
/// training checkpoint also serves for inference. Elements are converted to T. `options`
/// bounds what the load may allocate (io::LoadOptions; default 2 GiB).
template <class T>
void load(nn::Module<T>& module, const std::string& path, const io::LoadOptions& options = {});
/// Loads the module's parameters and buffers and the optimizer's state from `path`. Reports the module's
/// and the optimizer's problems together; changes neither unless both load. The step count
/// must be a non-negative integer below 2^63: an int64 as `save` writes it, or, in older
/// checkpoints, a float holding such an integer exactly.
template <class T>
void load(nn::Module<T>& module, optim::Optimizer<T>& optimizer, const std::string& path,
          const io::LoadOptions& options = {});

}  // namespace tapegrad
