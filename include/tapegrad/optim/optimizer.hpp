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
/// **Parameter groups** (PyTorch's `param_groups`): every optimizer also takes a list of groups,
/// each with its own options (learning rate, weight decay, momentum, ...), e.g. no weight decay
/// on biases and norms:
///
///     std::vector<tapegrad::Parameter<float>> weights = {W}, biases_and_norms = {b};
///     using Group = tapegrad::optim::ParamGroup<float, tapegrad::optim::AdamWOptions>;
///     auto options = tapegrad::optim::AdamWOptions(1e-3).weight_decay(0.05);
///     tapegrad::optim::AdamW<float> opt(
///         {Group(weights), Group(biases_and_norms, tapegrad::optim::AdamWOptions(options).weight_decay(0))}, options);
///
/// A group without options takes the optimizer's (the constructor's second argument). A
/// schedule sets every group's rate from that group's own base rate. The single-list
/// constructors make one group.
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
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/array.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::optim {

/// A group of parameters with its own options, of the optimizer's options type (SGDOptions,
/// AdamOptions, ...), as an entry of PyTorch's `param_groups`. Without options, the group takes
/// the optimizer's defaults.
template <class T, class Options>
struct ParamGroup {
  ParamGroup(std::vector<Parameter<T>> params) : params(std::move(params)) {}  // NOLINT: implicit, as in a list
  ParamGroup(std::vector<Parameter<T>> params, Options options)
      : params(std::move(params)), options(std::move(options)) {}
  std::vector<Parameter<T>> params;
  std::optional<Options> options;
};

namespace group_detail {
/// For optimizers' constructors: each group's parameters and learning rate, for the base, and
/// each group's options (the defaults where a group has none).
template <class T, class Options>
std::vector<std::pair<std::vector<Parameter<T>>, double>> group_rates(const std::vector<ParamGroup<T, Options>>& groups,
                                                                     const Options& defaults) {
  std::vector<std::pair<std::vector<Parameter<T>>, double>> out;
  for (const auto& g : groups) out.emplace_back(g.params, g.options ? g.options->lr() : defaults.lr());
  return out;
}
template <class T, class Options>
std::vector<Options> group_options(const std::vector<ParamGroup<T, Options>>& groups, const Options& defaults) {
  std::vector<Options> out;
  for (const auto& g : groups) out.push_back(g.options ? *g.options : defaults);
  return out;
}
/// " (group g)" when there are several groups: the end of a message about one of them.
std::string group_suffix(std::size_t group, std::size_t groups);
}  // namespace group_detail

/// Hyperparameters by name ("lr", "momentum", "weight_decay", "betas.0", "amsgrad" as 0/1, ...).
using Hyperparameters = std::vector<std::pair<std::string, double>>;

/// One group in an optimizer's state: which parameters (positions in `parameters()`) and its
/// hyperparameters, as an entry of PyTorch's `state_dict()["param_groups"]`.
struct ParamGroupState {
  std::vector<std::size_t> params;
  Hyperparameters hyperparameters;
};

/// An optimizer's state, as `state_dict()` returns it and `load_state_dict()` restores it.
template <class T>
struct OptimizerState {
  /// Steps taken (`step_count()`). An integer, exact at any count (a float would round past
  /// 2^24); checkpoints store it as an int64 (`optimizer.step`), so at most 2^63 - 1.
  std::uint64_t step = 0;
  /// For each registered buffer and each parameter i, "<buffer>.<i>" (e.g. "exp_avg.0",
  /// "momentum_buffer.2"), i being the parameter's position in `parameters()`.
  StateDict<T> buffers;
  /// The groups and their hyperparameters (the current learning rates included). Empty in a
  /// state saved before groups existed: loading it keeps the optimizer's hyperparameters.
  std::vector<ParamGroupState> param_groups = {};
};

/// The base of every optimizer: the parameters in their groups, each group's learning rate,
/// the step count and the per-parameter state buffers.
template <class T>
class Optimizer {
 public:
  /// One group. Throws ValueError if `lr` <= 0 or a parameter is undefined.
  Optimizer(std::vector<Parameter<T>> params, double lr) : Optimizer("optimizer", std::move(params), lr) {}
  virtual ~Optimizer() = default;

  /// Applies one update to every parameter from its current gradient. In anomaly mode
  /// (AnomalyGuard), an update that makes a parameter NaN or Inf throws AnomalyError and is
  /// undone (see `update_parameter`).
  virtual void step() = 0;
  /// Resets every parameter's gradient.
  void zero_grad();

  /// The learning rate of the first group (of the only one, for an optimizer made from a list).
  double learning_rate() const noexcept { return groups_.front().lr; }
  /// The learning rate of group `group`.
  double learning_rate(std::size_t group) const { return groups_.at(group).lr; }
  /// Sets every group's learning rate. Throws ValueError if `lr` < 0 or not finite; 0 is
  /// allowed because a schedule may anneal to 0 (the constructor, though, wants a positive rate).
  void set_learning_rate(double lr);
  /// Sets group `group`'s learning rate (schedules call this).
  void set_learning_rate(std::size_t group, double lr);
  /// Every parameter, the groups' one after another.
  const std::vector<Parameter<T>>& parameters() const noexcept { return params_; }
  /// The number of parameter groups (at least 1).
  std::size_t num_param_groups() const noexcept { return groups_.size(); }
  /// Group `group`'s parameters are `parameters()[begin, end)`.
  std::pair<std::size_t, std::size_t> param_group_range(std::size_t group) const {
    return {groups_.at(group).begin, groups_.at(group).end};
  }
  /// The group of parameter `i` (its position in `parameters()`).
  std::size_t group_of(std::size_t i) const;
  /// Group `group`'s hyperparameters by name, "lr" first (PyTorch's param_groups[group]
  /// without "params").
  virtual Hyperparameters hyperparameters(std::size_t group) const;
  /// Number of `step()` calls so far (restored by `load_state_dict`).
  std::uint64_t step_count() const noexcept { return steps_; }
  /// The optimizer's name in messages ("Adam", "SGD", ...).
  const char* name() const noexcept { return name_; }

  /// The optimizer's state: the step count, copies of the per-parameter buffers and the groups
  /// with their hyperparameters (see OptimizerState), as PyTorch's state_dict().
  virtual OptimizerState<T> state_dict() const;
  /// Every problem `load_state_dict(state)` would report (empty when it would load): missing,
  /// unexpected, repeated or misshapen buffers, a step count above 2^63 - 1, groups that hold
  /// other parameters, unknown, missing or invalid hyperparameters. Changes nothing.
  virtual std::vector<std::string> state_problems(const OptimizerState<T>& state) const;
  /// Restores a state saved by `state_dict()` of an optimizer of the same kind over parameters
  /// of the same shapes in the same groups, hyperparameters included (as PyTorch, the saved
  /// ones replace the current ones). Buffer order does not matter. Checks everything first and
  /// throws one ValueError listing every problem (`state_problems`), changing nothing;
  /// otherwise later steps continue exactly as the saved optimizer's would.
  virtual void load_state_dict(const OptimizerState<T>& state);

 protected:
  /// For derived optimizers: `name` prefixes error messages.
  Optimizer(const char* name, std::vector<Parameter<T>> params, double lr);
  /// Groups of parameters, each with its learning rate. Throws ValueError if a rate is not
  /// positive and finite, a parameter is undefined, or one appears twice (in one group or two).
  Optimizer(const char* name, std::vector<std::pair<std::vector<Parameter<T>>, double>> groups);

  /// For derived optimizers with hyperparameters beyond lr: checks `values` (the whole set of
  /// group `group`'s hyperparameters, lr included) and returns the problems; when there are
  /// none and `apply`, makes them the group's. The base knows "lr" only.
  virtual std::vector<std::string> set_hyperparameters(std::size_t group, const Hyperparameters& values, bool apply);
  /// For set_hyperparameters: the problems of `values` against the names a group has (missing,
  /// unexpected, repeated), and a lookup of one value.
  static std::vector<std::string> name_problems(const Hyperparameters& values, const std::vector<std::string>& names);
  static double value_of(const Hyperparameters& values, const std::string& name);

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
  struct Group {
    std::size_t begin, end;
    double lr;
  };
  const char* name_;
  std::vector<Group> groups_;
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
