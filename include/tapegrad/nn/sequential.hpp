#pragma once
/// Modules applied one after another; children are named "0", "1", ...
///
///     tapegrad::nn::Sequential<float> net;
///     net.push_back(std::make_shared<tapegrad::nn::Linear<float>>(tapegrad::nn::LinearOptions(2, 4), rng));
///     net.push_back(std::make_shared<tapegrad::nn::ReLU<float>>());
///     auto y = net.forward(x);
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

/// Chains any modules whose `forward` takes one value and returns one (Module itself has no
/// virtual forward: `push_back` remembers how to call each module's own).
template <class T>
class Sequential : public Module<T> {
 public:
  Sequential() = default;
  /// Appends a module and returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    static_assert(std::is_convertible_v<decltype(module->forward(std::declval<const Var<T>&>())), Var<T>>,
                  "Sequential chains modules with a forward(const Var<T>&) that returns a Var<T>");
    this->register_module(std::to_string(steps_.size()), module);
    steps_.push_back({module.get(), [](Module<T>* m, const Var<T>& x) -> Var<T> {
                        return static_cast<M*>(m)->forward(x);
                      }});
    return module;
  }
  Var<T> forward(const Var<T>& x) {
    Var<T> h = x;
    for (const auto& step : steps_) h = step.forward(step.module, h);
    return h;
  }
  std::size_t size() const noexcept { return steps_.size(); }

 private:
  struct Step {
    Module<T>* module;  // owned by the registry (children())
    Var<T> (*forward)(Module<T>*, const Var<T>&);
  };
  std::vector<Step> steps_;
};

/// A list of modules that registers them ("0", "1", ...) and leaves applying them to its
/// owner (as MLP does, with ReLU between).
template <class T>
class ModuleList : public Module<T> {
 public:
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return this->register_module(std::to_string(this->children().size()), std::move(module));
  }
  std::size_t size() const noexcept { return this->children().size(); }
};

}  // namespace tapegrad::nn
