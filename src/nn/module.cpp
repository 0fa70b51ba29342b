#include "tapegrad/nn/module.hpp"

#include <algorithm>
#include <unordered_set>

#include "instantiate.hpp"

namespace tapegrad::nn {

// Submodules this module owns alone are taken apart here, one level at a time, instead of by
// their own destructors in turn: a chain of 100,000 modules would otherwise recurse 100,000 deep.
template <class T>
Module<T>::~Module() {
  std::vector<std::shared_ptr<Module<T>>> orphans;
  for (auto& [name, child] : children_) orphans.push_back(std::move(child));
  while (!orphans.empty()) {
    std::shared_ptr<Module<T>> m = std::move(orphans.back());
    orphans.pop_back();
    if (m.use_count() == 1) {
      for (auto& [name, child] : m->children_) orphans.push_back(std::move(child));
      m->children_.clear();
    }
  }
}

template <class T>
void Module<T>::check_name(const std::string& name) const {
  TG_CHECK(ValueError, !name.empty() && name.find('.') == std::string::npos, "Module: invalid name '", name,
           "' (names are non-empty and contain no dot)");
  const auto same = [&](const auto& entry) { return entry.first == name; };
  TG_CHECK(ValueError,
           std::none_of(params_.begin(), params_.end(), same) && std::none_of(buffers_.begin(), buffers_.end(), same) &&
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
Parameter<T>& Module<T>::register_buffer(const std::string& name, Array<T> value) {
  check_name(name);
  buffers_.emplace_back(name, Parameter<T>(std::move(value)));
  buffers_.back().second.set_requires_grad(false);
  return buffers_.back().second;
}

// Walks this module and every submodule once, depth first in registration order, without
// recursion (a chain of 100,000 modules must not overflow the stack): visit(module, prefix).
template <class T>
template <class Visit>
void Module<T>::walk(Visit visit) const {
  std::unordered_set<const Module*> seen;
  std::vector<std::pair<const Module*, std::string>> stack{{this, ""}};
  while (!stack.empty()) {
    auto [m, prefix] = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(m).second) continue;  // reachable under two names: the first one wins
    visit(*m, prefix);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it) {
      stack.emplace_back(it->second.get(), prefix + it->first + ".");
    }
  }
}

template <class T>
bool Module<T>::reaches(const Module* target) const {
  bool found = false;
  walk([&](const Module& m, const std::string&) { found = found || &m == target; });
  return found;
}

template <class T>
void Module<T>::add_child(const std::string& name, std::shared_ptr<Module<T>> module) {
  check_name(name);
  TG_CHECK(ValueError, module != nullptr, "Module: submodule '", name, "' is null");
  // A cycle would make every walk endless. It needs this module inside `module`'s tree, which
  // is only possible if this module was registered somewhere already: a module built bottom-up
  // is checked in O(1).
  TG_CHECK(ValueError, module.get() != this && (parents_ == 0 || !module->reaches(this)), "Module: registering '",
           name, "' would make a cycle (the submodule contains this module)");
  ++module->parents_;
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
Parameter<T>& Module<T>::buffer(const std::string& name) {
  for (auto& [n, p] : buffers_) {
    if (n == name) return p;
  }
  throw ValueError(detail::concat("Module: no buffer named '", name, "'"));
}

template <class T>
typename Module<T>::Named Module<T>::collect(bool buffers) const {
  Named out;
  std::unordered_set<const void*> seen;  // a parameter shared by two modules (tied weights) once
  walk([&](const Module& m, const std::string& prefix) {
    for (const auto& [name, p] : buffers ? m.buffers_ : m.params_) {
      if (seen.insert(p.id()).second) out.emplace_back(prefix + name, p);
    }
  });
  return out;
}

template <class T>
std::vector<std::pair<std::string, Parameter<T>>> Module<T>::named_parameters() const {
  return collect(false);
}

template <class T>
std::vector<std::pair<std::string, Parameter<T>>> Module<T>::named_buffers() const {
  return collect(true);
}

template <class T>
std::vector<Parameter<T>> Module<T>::parameters() const {
  std::vector<Parameter<T>> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

template <class T>
std::vector<Parameter<T>> Module<T>::buffers() const {
  std::vector<Parameter<T>> out;
  for (auto& [name, p] : named_buffers()) out.push_back(p);
  return out;
}

template <class T>
void Module<T>::train(bool on) {
  walk([on](const Module& m, const std::string&) { const_cast<Module&>(m).training_ = on; });
}

template <class T>
void Module<T>::zero_grad() {
  walk([](const Module& m, const std::string&) {
    for (const auto& [name, p] : m.params_) p.zero_grad();
  });
}

#define TAPEGRAD_MODULE(T) template class Module<T>;
TAPEGRAD_INSTANTIATE(TAPEGRAD_MODULE)

}  // namespace tapegrad::nn
