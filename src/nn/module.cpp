#include <algorithm>

#include "tapegrad/nn/module.hpp"

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

template class Module<float>;
template class Module<double>;

}  // namespace tapegrad::nn
