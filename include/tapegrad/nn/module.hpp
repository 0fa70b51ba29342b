#pragma once
/// Layer 4: modules. A Module owns named parameters, buffers and submodules, and a train/eval
/// flag. It has no `forward` of its own: each module defines the one it needs, with as many
/// inputs as it needs (as in libtorch's C++ frontend), and `Sequential` chains any module whose
/// `forward` takes one value.
///
///     struct TwoLayer : tapegrad::nn::Module<float> {
///       explicit TwoLayer(tapegrad::Rng& rng)
///           : hidden(register_module("hidden", std::make_shared<tapegrad::nn::Linear<float>>(
///                                                  tapegrad::nn::LinearOptions(2, 8), rng))),
///             out(register_module("out", std::make_shared<tapegrad::nn::Linear<float>>(
///                                            tapegrad::nn::LinearOptions(8, 1), rng))) {}
///       tapegrad::Var<float> forward(const tapegrad::Var<float>& x) {
///         return out->forward(tapegrad::relu(hidden->forward(x)));
///       }
///       std::shared_ptr<tapegrad::nn::Linear<float>> hidden, out;
///     };
///     // parameters named hidden.weight, hidden.bias, out.weight, out.bias
///
/// A parameter can also be a member reference: `Parameter<float>& w = register_parameter(...)`
/// stays valid for the module's life.
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/tape.hpp"

namespace tapegrad::nn {

template <class T>
class Module {
 public:
  virtual ~Module();
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Every parameter of this module and its submodules, named with dots ("layers.0.weight"),
  /// in registration order, each once: a parameter or submodule reachable under two names is
  /// listed under the first (as PyTorch does).
  std::vector<std::pair<std::string, Parameter<T>>> named_parameters() const;
  /// The same parameters without names (handles: updating them updates the module).
  std::vector<Parameter<T>> parameters() const;
  /// Every buffer (state that is saved and loaded but not trained, e.g. BatchNorm's running
  /// mean), named and ordered as `named_parameters()`.
  std::vector<std::pair<std::string, Parameter<T>>> named_buffers() const;
  std::vector<Parameter<T>> buffers() const;
  /// The direct submodules, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& children() const { return children_; }

  /// Sets training (true) or evaluation (false) mode here and in every submodule.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const noexcept { return training_; }

  /// Resets the gradient of every parameter.
  void zero_grad();

 protected:
  /// Registers a parameter under `name` and returns its handle, which stays valid for the
  /// module's life. Names are unique among the module's parameters, buffers and submodules,
  /// non-empty and contain no dot (dots separate submodules).
  Parameter<T>& register_parameter(const std::string& name, Array<T> value);
  /// Registers a buffer: a value saved and loaded with the parameters but not trained (its
  /// `requires_grad()` is false and optimizers never see it).
  Parameter<T>& register_buffer(const std::string& name, Array<T> value);
  /// Registers a submodule under `name` and returns it. Throws ValueError if `module` contains
  /// this module (a cycle).
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  /// The registered parameter `name` (throws ValueError if there is none).
  Parameter<T>& param(const std::string& name);
  /// The registered buffer `name` (throws ValueError if there is none).
  Parameter<T>& buffer(const std::string& name);
  /// The `i`-th registered parameter of this module (registration order), without a name
  /// lookup: for accessors on the hot path, which remember the position at registration.
  Parameter<T>& param_at(std::size_t i) { return params_[i].second; }
  /// The `i`-th registered buffer of this module (registration order), as param_at.
  Parameter<T>& buffer_at(std::size_t i) { return buffers_[i].second; }
  /// How many parameters this module registered itself (submodules' not counted).
  std::size_t num_own_parameters() const noexcept { return params_.size(); }

 private:
  using Named = std::vector<std::pair<std::string, Parameter<T>>>;
  void add_child(const std::string& name, std::shared_ptr<Module<T>> module);
  void check_name(const std::string& name) const;
  bool reaches(const Module* target) const;
  template <class Visit>
  void walk(Visit visit) const;
  Named collect(bool buffers) const;

  // Deques: registering more never moves the ones registered before, so references returned
  // by register_parameter stay valid. A module's member and its registry entry are the same
  // handle (the trap of libtorch issue #21682 cannot happen).
  std::deque<std::pair<std::string, Parameter<T>>> params_;
  std::deque<std::pair<std::string, Parameter<T>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
  std::size_t parents_ = 0;  // how many times this module was registered as a submodule
  bool training_ = true;
};

}  // namespace tapegrad::nn
