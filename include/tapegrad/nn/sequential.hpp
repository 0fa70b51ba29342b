#pragma once
/// Modules applied one after another; children are named "0", "1", ...
///
///     tapegrad::nn::Sequential<float> net;
///     net.push_back(std::make_shared<Linear<float>>(LinearOptions(2, 4), rng));
///     net.push_back(std::make_shared<ReLU<float>>());
#include <memory>
#include <string>

#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

template <class T>
class Sequential : public Module<T> {
 public:
  Sequential() = default;
  /// Appends a module and returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return this->register_module(std::to_string(this->children().size()), std::move(module));
  }
  Var<T> forward(const Var<T>& x) override {
    Var<T> h = x;
    for (const auto& child : this->children()) h = child.second->forward(h);
    return h;
  }
  std::size_t size() const noexcept { return this->children().size(); }
};

}  // namespace tapegrad::nn

namespace tapegrad::nn {

/// A list of modules that registers them ("0", "1", ...) but has no forward of its own: the
/// owner decides how to apply them (as MLP does, with ReLU between).
template <class T>
class ModuleList : public Module<T> {
 public:
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return this->register_module(std::to_string(this->children().size()), std::move(module));
  }
  /// Throws StateError: a ModuleList is applied by its owner.
  Var<T> forward(const Var<T>&) override {
    throw StateError("ModuleList::forward: a ModuleList has no forward; apply its modules yourself");
  }
  std::size_t size() const noexcept { return this->children().size(); }
};

}  // namespace tapegrad::nn
