#include <algorithm>

#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/sequential.hpp"
#include "tapegrad/ops.hpp"

namespace tapegrad::nn {

// ---- Module -------------------------------------------------------------------------------------

template <class T>
void Module<T>::check_name(const std::string& name) const {
  TG_CHECK(ValueError, !name.empty() && name.find('.') == std::string::npos, "Module: invalid name '", name,
           "' (names are non-empty and contain no dot)");
  const auto same = [&](const auto& entry) { return entry.first == name; };
  TG_CHECK(ValueError,
           std::none_of(params_.begin(), params_.end(), same) &&
               std::none_of(children_.begin(), children_.end(), same),
           "Module: the name '", name, "' is already registered");
}

template <class T>
Parameter<T>& Module<T>::register_parameter(const std::string& name, Array<T> value) {
  check_name(name);
  params_.emplace_back(name, Parameter<T>(std::move(value)));
  return params_.back().second;
}

template <class T>
void Module<T>::add_child(const std::string& name, std::shared_ptr<Module<T>> module) {
  check_name(name);
  TG_CHECK(ValueError, module != nullptr, "Module: submodule '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

template <class T>
Parameter<T>& Module<T>::param(const std::string& name) {
  for (auto& [n, p] : params_) {
    if (n == name) return p;
  }
  throw ValueError(detail::concat("Module: no parameter named '", name, "'"));
}

template <class T>
void Module<T>::collect(const std::string& prefix, std::vector<std::pair<std::string, Parameter<T>>>& out) const {
  for (const auto& [name, p] : params_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

template <class T>
std::vector<std::pair<std::string, Parameter<T>>> Module<T>::named_parameters() const {
  std::vector<std::pair<std::string, Parameter<T>>> out;
  collect("", out);
  return out;
}

template <class T>
std::vector<Parameter<T>> Module<T>::parameters() const {
  std::vector<Parameter<T>> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

template <class T>
void Module<T>::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

template <class T>
void Module<T>::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
  for (auto& [name, child] : children_) child->zero_grad();
}

// ---- Linear -------------------------------------------------------------------------------------

template <class T>
Linear<T>::Linear(const LinearOptions& options, Rng& rng) : options_(options) {
  TG_CHECK(ValueError, options.in > 0 && options.out > 0, "Linear: features must be positive, got (", options.in,
           ", ", options.out, ")");
  weight_ = this->num_own_parameters();
  this->register_parameter("weight", init::he_normal<T>(options.in, options.out, rng));
  if (options.has_bias) {
    bias_ = this->num_own_parameters();
    this->register_parameter("bias", xt::zeros<T>({std::size_t(1), options.out}));
  }
}

template <class T>
Var<T> Linear<T>::forward(const Var<T>& x) {
  return options_.has_bias ? linear(x, weight(), bias()) : linear(x, weight());
}

// ---- MLP ----------------------------------------------------------------------------------------

template <class T>
MLP<T>::MLP(const std::vector<std::size_t>& sizes, Rng& rng) : sizes_(sizes) {
  TG_CHECK(ValueError, sizes.size() >= 2, "MLP: needs at least two layer sizes (inputs and outputs), got ",
           sizes.size());
  auto list = this->register_module("layers", std::make_shared<ModuleList<T>>());
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    layers_.push_back(list->push_back(std::make_shared<Linear<T>>(LinearOptions(sizes[i], sizes[i + 1]), rng)));
  }
}

template <class T>
Var<T> MLP<T>::forward(const Var<T>& x) {
  Var<T> h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i]->forward(h);
    if (i + 1 < layers_.size()) h = relu(h);
  }
  return h;
}

template class Module<float>;
template class Module<double>;
template class Linear<float>;
template class Linear<double>;
template class MLP<float>;
template class MLP<double>;

}  // namespace tapegrad::nn
