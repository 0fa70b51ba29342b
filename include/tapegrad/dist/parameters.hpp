#pragma once
/// Layer 8: making every rank start identical, and checking that they are.
///
///     tapegrad::nn::MLP<float> model({784, 256, 128, 10}, rng);
///     tapegrad::optim::Adam<float> opt(model.parameters(), tapegrad::optim::AdamOptions(1e-3));
///     tapegrad::dist::broadcast_parameters(env, model);     // checks the architecture first
///     tapegrad::dist::broadcast_optimizer_state(env, opt);   // e.g. after rank 0 loaded a checkpoint
///
/// Every function here is collective: every rank calls it, in the same order; a check that
/// fails throws the same MismatchError on every rank.
#include <cstdint>
#include <string>

#include "tapegrad/data/dataset.hpp"
#include "tapegrad/dist/environment.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::dist {

/// Throws MismatchError on every rank unless every rank's module has the same parameters, in
/// the same order, with the same names, shapes, element type and requires-grad flags. The
/// message names the first difference, e.g. "check_same_architecture: parameter 2 differs
/// between ranks: 'layers.1.weight' (256, 128) float32 on rank 0, 'layers.1.weight' (256, 64)
/// float32 on rank 1".
template <class T>
void check_same_architecture(const Environment& env, const nn::Module<T>& module);

/// Copies rank `root`'s parameters (and, when modules have them, buffers) into every rank's
/// module, after `check_same_architecture`. Gradients are not touched.
template <class T>
void broadcast_parameters(const Environment& env, nn::Module<T>& module, int root = 0);

/// Copies rank `root`'s optimizer state (`state_dict()`: step count, moments, momentum buffers)
/// into every rank's optimizer, so that the ranks' next steps are identical. Throws
/// MismatchError first unless every rank's optimizer is of the same kind, with the same
/// learning rate and the same state names and shapes.
template <class T>
void broadcast_optimizer_state(const Environment& env, optim::Optimizer<T>& optimizer, int root = 0);

/// Throws MismatchError on every rank unless every rank's parameters are bit-identical
/// (compares io::checksum of the modules); returns the checksum. A cheap end-of-training check.
template <class T>
std::uint64_t check_same_parameters(const Environment& env, const nn::Module<T>& module);

/// Throws MismatchError on every rank unless every rank's dataset has the same size and the
/// same feature and target shapes: ranks sampling different datasets would see different
/// numbers of batches and wait on each other forever.
template <class T>
void check_same_dataset(const Environment& env, const data::Dataset<T>& dataset);

}  // namespace tapegrad::dist
