#pragma once
/// Layer 5: optimizers. Each reads `param.grad()` and updates `param.mutable_value()` in place.
///
///     tapegrad::optim::Adam<float> opt(model.parameters(), tapegrad::optim::AdamOptions(1e-3));
///     for (int step = 0; step < 100; ++step) {
///       opt.zero_grad();
///       tape.backward(tapegrad::bce_with_logits(model.forward(x), y));
///       opt.step();
///     }
///
/// A new optimizer derives from Optimizer, registers its per-parameter state with `add_state`
/// (one array per parameter, in the order of `parameters()`), and implements `step()`: it calls
/// `advance()` first, then updates each parameter through `update_parameter`, to use every
/// thread and be checked by anomaly mode as the built-in ones are; saving and restoring that
/// state then comes for free. The learning rate lives in the base so that
/// schedules (optim/schedule.hpp) work with every optimizer.
///
/// A parameter that is frozen (`requires_grad() == false`) or received no gradient since the
/// last `zero_grad()` is skipped by `step()`, as PyTorch skips parameters whose `.grad` is None:
/// its value and its state are left unchanged. The step count t, though, is one for the whole
/// optimizer (PyTorch keeps one per parameter): the two differ only for a parameter skipped in
/// some steps, whose bias corrections (Adam) or first-step rule (SGD momentum) then use the
/// optimizer's t.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/array.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::optim {

/// An optimizer's state, as `state_dict()` returns it and `load_state_dict()` restores it.
template <class T>
struct OptimizerState {
  /// Steps taken (`step_count()`). An integer, exact at any count (a float would round past
  /// 2^24); checkpoints store it as an int64 (`optimizer.step`), so at most 2^63 - 1.
  std::uint64_t step = 0;
  /// For each registered buffer and each parameter i, "<buffer>.<i>" (e.g. "exp_avg.0",
  /// "momentum_buffer.2"), i being the parameter's position in `parameters()`.
  StateDict<T> buffers;
};

/// The base of every optimizer: the parameters, the learning rate, the step count and the
/// per-parameter state buffers.
template <class T>
class Optimizer {
 public:
  /// Throws ValueError if `lr` <= 0 or a parameter is undefined.
  Optimizer(std::vector<Parameter<T>> params, double lr) : Optimizer("optimizer", std::move(params), lr) {}
  virtual ~Optimizer() = default;

  /// Applies one update to every parameter from its current gradient. In anomaly mode
  /// (AnomalyGuard), an update that makes a parameter NaN or Inf throws AnomalyError and is
  /// undone (see `update_parameter`).
  virtual void step() = 0;
  /// Resets every parameter's gradient.
  void zero_grad();

  double learning_rate() const noexcept { return lr_; }
  /// Throws ValueError if `lr` < 0 or not finite. Schedules call this; 0 is allowed because a
  /// schedule may anneal to 0 (the constructor, though, wants a positive rate).
  void set_learning_rate(double lr);
  const std::vector<Parameter<T>>& parameters() const noexcept { return params_; }
  /// Number of `step()` calls so far (restored by `load_state_dict`).
  std::uint64_t step_count() const noexcept { return steps_; }
  /// The optimizer's name in messages ("Adam", "SGD", ...).
  const char* name() const noexcept { return name_; }

  /// The optimizer's state: the step count and copies of the per-parameter buffers (see
  /// OptimizerState). Hyperparameters (lr, betas, ...) are not part of it: they come from the
  /// options and from a schedule.
  virtual OptimizerState<T> state_dict() const;
  /// Every problem `load_state_dict(state)` would report (empty when it would load): missing,
  /// unexpected, repeated or misshapen buffers, a step count above 2^63 - 1. Changes nothing.
  virtual std::vector<std::string> state_problems(const OptimizerState<T>& state) const;
  /// Restores a state saved by `state_dict()` of an optimizer of the same kind and options over
  /// parameters of the same shapes. Buffer order does not matter. Checks everything first and
  /// throws one ValueError listing every problem (`state_problems`), changing nothing;
  /// otherwise later steps continue exactly as the saved optimizer's would.
  virtual void load_state_dict(const OptimizerState<T>& state);

 protected:
  /// For derived optimizers: `name` prefixes error messages.
  Optimizer(const char* name, std::vector<Parameter<T>> params, double lr);

  /// Registers a per-parameter state buffer saved as "<name>.<i>": one array of zeros shaped
  /// like each parameter. Returns the slot to pass to `state()`.
  std::size_t add_state(const std::string& name);
  /// The buffer of `slot` for parameter `i`.
  Array<T>& state(std::size_t slot, std::size_t i) { return state_[slot].second[i]; }
  /// True when `step()` should update parameter i (it requires a gradient and received one).
  bool has_gradient(std::size_t i) const { return params_[i].requires_grad() && params_[i].has_grad(); }
  /// Called by `step()` implementations once per step, before updating: returns the new step
  /// count t (1 for the first step), used for bias corrections.
  /// Throws ShapeError, before any update, if a parameter's value no longer has the shape of its
  /// gradient or state (it was replaced after backward() or after the optimizer was made).
  /// In anomaly mode (AnomalyGuard) it also keeps a copy of every parameter, buffer and the step
  /// count, which `update_parameter` puts back if the step makes a parameter non-finite.
  std::uint64_t advance();
  /// Updates parameter i: runs update(begin, end) over its elements as `update_slices` does.
  /// In anomaly mode, then checks that every element of the parameter is finite; if one is not,
  /// puts back every parameter, buffer and the step count as they were before this step's
  /// `advance()` and throws AnomalyError naming the optimizer, the parameter's index and shape,
  /// the element, and its value and gradient before the step. The built-in optimizers update
  /// every parameter through it; a new optimizer should too.
  template <class F>
  void update_parameter(std::size_t i, const F& update) {
    update_slices(params_[i].shape(), update);
    if (anomaly_step_) check_update(i);
  }
  /// Runs update(begin, end) over the elements of a parameter shaped `shape`, in parallel
  /// ranges of whole rows (kernels::parallel_for_rows over the first axis: the ranges start at
  /// multiples of 16 rows, where kernels::gemm cuts a weight's rows, so each thread updates the
  /// rows that its slices of the forward product and of dW touched), with subnormals flushed to
  /// zero (kernels::FlushSubnormals).
  /// Why the flush: state decays geometrically while a gradient is zero (Adam's first moment by
  /// β1 = 0.9 a step), so after a few hundred steps the state of weights fed by always-zero
  /// inputs, such as an image's blank border, is subnormal; on Fashion-MNIST that made Adam's
  /// step 1.6x slower. Values below 1e-38 (float) change no update visibly.
  template <class F>
  static void update_slices(const Shape& shape, const F& update) {
    const std::size_t size = numel(shape);
    const std::size_t rows = shape.empty() || shape[0] == 0 ? 1 : shape[0];
    const std::size_t row_size = size / rows;
    kernels::parallel_for_rows(rows, row_size, [&update, row_size](std::size_t begin, std::size_t end) {
      const kernels::FlushSubnormals flush;
      update(begin * row_size, end * row_size);
    });
  }

  std::vector<Parameter<T>> params_;

 private:
  const char* name_;
  double lr_;
  std::uint64_t steps_ = 0;
  void check_shapes() const;
  void check_update(std::size_t i);
  std::vector<std::pair<std::string, std::vector<Array<T>>>> state_;
  // Anomaly mode: whether this step checks its updates, and the copies it puts back.
  bool anomaly_step_ = false;
  std::uint64_t backup_steps_ = 0;
  std::vector<Array<T>> backup_values_;
  std::vector<Array<T>> backup_state_;
};

}  // namespace tapegrad::optim
