#pragma once
/// Layer 4: modules. A Module owns named parameters and submodules, and a train/eval flag.
///
///     class TwoLayer : public tapegrad::nn::Module<float> {
///      public:
///       explicit TwoLayer(tapegrad::Rng& rng)
///           : hidden_(register_module("hidden", std::make_shared<Linear<float>>(LinearOptions(2, 8), rng))),
///             out_(register_module("out", std::make_shared<Linear<float>>(LinearOptions(8, 1), rng))) {}
///       Var<float> forward(const Var<float>& x) override { return out_->forward(relu(hidden_->forward(x))); }
///      private:
///       std::shared_ptr<Linear<float>> hidden_, out_;
///     };
///     // parameters named hidden.weight, hidden.bias, out.weight, out.bias
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/tape.hpp"

namespace tapegrad::nn {

template <class T>
class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The module's computation.
  virtual Var<T> forward(const Var<T>& x) = 0;
  Var<T> operator()(const Var<T>& x) { return forward(x); }

  /// Every parameter of this module and its submodules, named with dots ("layers.0.weight"),
  /// in registration order.
  std::vector<std::pair<std::string, Parameter<T>>> named_parameters() const;
  /// The same parameters without names (handles: updating them updates the module).
  std::vector<Parameter<T>> parameters() const;
  /// The direct submodules, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& children() const { return children_; }

  /// Sets training (true) or evaluation (false) mode here and in every submodule.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const noexcept { return training_; }

  /// Resets the gradient of every parameter.
  void zero_grad();

 protected:
  /// Registers a parameter under `name` and returns the registered handle. Names are unique,
  /// non-empty and contain no dot (dots separate submodules).
  Parameter<T>& register_parameter(const std::string& name, Array<T> value);
  /// Registers a submodule under `name` and returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  /// The registered parameter `name` (throws ValueError if there is none).
  Parameter<T>& param(const std::string& name);
  /// The `i`-th registered parameter of this module (registration order), without a name
  /// lookup: for accessors on the hot path, which remember the position at registration.
  Parameter<T>& param_at(std::size_t i) { return params_[i].second; }
  /// How many parameters this module registered itself (submodules' not counted).
  std::size_t num_own_parameters() const noexcept { return params_.size(); }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module<T>> module);
  void check_name(const std::string& name) const;
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Parameter<T>>>& out) const;

  // Parameters are registered once, in the constructor, and looked up by name or position:
  // accessors return references into this list, so a module's "member" and its registry entry
  // are the same object (the trap of libtorch issue #21682 cannot happen).
  std::vector<std::pair<std::string, Parameter<T>>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
  bool training_ = true;
};

}  // namespace tapegrad::nn
