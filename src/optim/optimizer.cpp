// The optimizer base: learning rate, step count, state save/restore.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "tapegrad/debug.hpp"
#include "tapegrad/kernels.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim {

namespace group_detail {
std::string group_suffix(std::size_t group, std::size_t groups) {
  return groups > 1 ? tapegrad::detail::concat(" (group ", group, ")") : std::string();
}
}  // namespace group_detail

// ---- Optimizer ---------------------------------------------------------------------------------

template <class T>
Optimizer<T>::Optimizer(const char* name, std::vector<Parameter<T>> params, double lr)
    : Optimizer(name, [&] {
        std::vector<std::pair<std::vector<Parameter<T>>, double>> one;
        one.emplace_back(std::move(params), lr);
        return one;
      }()) {}

template <class T>
Optimizer<T>::Optimizer(const char* name, std::vector<std::pair<std::vector<Parameter<T>>, double>> groups)
    : name_(name) {
  TG_CHECK(ValueError, !groups.empty(), name_, ": no parameter groups");
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const double lr = groups[g].second;
    TG_CHECK(ValueError, std::isfinite(lr) && lr > 0, name_,
             ": lr (the learning rate) must be positive and finite, got ", lr,
             groups.size() > 1 ? detail::concat(" (group ", g, ")") : std::string());
    groups_.push_back({params_.size(), params_.size() + groups[g].first.size(), lr});
    for (auto& p : groups[g].first) params_.push_back(std::move(p));
  }
  for (std::size_t i = 0; i < params_.size(); ++i) {
    TG_CHECK(ValueError, params_[i].defined(), name_, ": parameter ", i, " is undefined");
    // A parameter listed twice would be updated twice per step.
    for (std::size_t j = 0; j < i; ++j) {
      TG_CHECK(ValueError, !params_[i].same(params_[j]), name_, ": parameters ", j, " and ", i,
               " are the same parameter", group_of(i) != group_of(j) ? " (in two parameter groups)" : "");
    }
  }
}

template <class T>
std::size_t Optimizer<T>::group_of(std::size_t i) const {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (i < groups_[g].end) return g;
  }
  throw ValueError(detail::concat(name_, ": parameter ", i, " is out of range (", params_.size(), " parameters)"));
}

template <class T>
void Optimizer<T>::set_learning_rate(double lr) {
  TG_CHECK(ValueError, std::isfinite(lr) && lr >= 0, name_, ": lr (the learning rate) must be >= 0 and finite, got ",
           lr);
  for (auto& g : groups_) g.lr = lr;
}

template <class T>
void Optimizer<T>::set_learning_rate(std::size_t group, double lr) {
  TG_CHECK(ValueError, group < groups_.size(), name_, ": group ", group, " is out of range (", groups_.size(),
           " groups)");
  TG_CHECK(ValueError, std::isfinite(lr) && lr >= 0, name_, ": lr (the learning rate) must be >= 0 and finite, got ",
           lr, " (group ", group, ")");
  groups_[group].lr = lr;
}

template <class T>
Hyperparameters Optimizer<T>::hyperparameters(std::size_t group) const {
  return {{"lr", learning_rate(group)}};
}

template <class T>
std::vector<std::string> Optimizer<T>::name_problems(const Hyperparameters& values, const std::vector<std::string>& names) {
  std::vector<std::string> problems;
  for (const auto& n : names) {
    std::size_t count = 0;
    for (const auto& v : values) count += v.first == n;
    if (count == 0) problems.push_back("missing '" + n + "'");
    if (count > 1) problems.push_back("'" + n + "' appears more than once");
  }
  for (const auto& v : values) {
    if (std::find(names.begin(), names.end(), v.first) == names.end()) problems.push_back("unexpected '" + v.first + "'");
  }
  return problems;
}

template <class T>
double Optimizer<T>::value_of(const Hyperparameters& values, const std::string& name) {
  for (const auto& v : values) {
    if (v.first == name) return v.second;
  }
  return std::nan("");
}

template <class T>
std::vector<std::string> Optimizer<T>::set_hyperparameters(std::size_t group, const Hyperparameters& values,
                                                           bool apply) {
  std::vector<std::string> problems = name_problems(values, {"lr"});
  if (!problems.empty()) return problems;
  const double lr = value_of(values, "lr");
  if (!(std::isfinite(lr) && lr >= 0)) return {detail::concat("'lr' must be >= 0 and finite, got ", lr)};
  if (apply) groups_[group].lr = lr;
  return {};
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

template <class T>
std::size_t Optimizer<T>::add_state(const std::string& name) {
  std::vector<Array<T>> buffers;
  buffers.reserve(params_.size());
  for (const auto& p : params_) buffers.push_back(Array<T>(xt::zeros<T>(p.shape())));
  state_.emplace_back(name, std::move(buffers));
  return state_.size() - 1;
}

template <class T>
OptimizerState<T> Optimizer<T>::state_dict() const {
  OptimizerState<T> out;
  out.step = steps_;
  for (const auto& [name, buffers] : state_) {
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      out.buffers.emplace_back(name + "." + std::to_string(i), buffers[i]);
    }
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    ParamGroupState group;
    for (std::size_t i = groups_[g].begin; i < groups_[g].end; ++i) group.params.push_back(i);
    group.hyperparameters = hyperparameters(g);
    out.param_groups.push_back(std::move(group));
  }
  return out;
}

namespace {
// The largest step count a checkpoint holds: it stores the count as an int64.
constexpr std::uint64_t kMaxStep = std::uint64_t(std::numeric_limits<std::int64_t>::max());
}  // namespace

template <class T>
std::vector<std::string> Optimizer<T>::state_problems(const OptimizerState<T>& state) const {
  // Every problem is reported: fixing a checkpoint one error per run is tedious.
  std::vector<std::string> problems;
  if (state.step > kMaxStep) {
    problems.push_back(detail::concat("'step' is ", state.step, ", more than 2^63 - 1"));
  }
  const StateDict<T>& buffers = state.buffers;
  std::vector<bool> used(buffers.size(), false);
  for (const auto& [slot_name, slot] : state_) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const std::string key = slot_name + "." + std::to_string(i);
      const Array<T>* found = nullptr;
      for (std::size_t k = 0; k < buffers.size(); ++k) {
        if (buffers[k].first != key) continue;
        if (found != nullptr) {
          problems.push_back("'" + key + "' appears more than once");
          continue;
        }
        used[k] = true;
        found = &buffers[k].second;
      }
      if (found == nullptr) {
        problems.push_back("missing '" + key + "'");
      } else if (found->shape() != params_[i].shape()) {
        problems.push_back("'" + key + "' has shape " + to_string(found->shape()) + ", expected " +
                           to_string(params_[i].shape()));
      }
    }
  }
  for (std::size_t k = 0; k < buffers.size(); ++k) {
    bool known = used[k];
    for (std::size_t j = 0; j < k && !known; ++j) known = used[j] && buffers[j].first == buffers[k].first;
    if (!known) problems.push_back("unexpected '" + buffers[k].first + "'");
  }
  // The groups (a state saved before groups existed has none: nothing to check).
  const auto& groups = state.param_groups;
  if (!groups.empty() && groups.size() != groups_.size()) {
    problems.push_back(detail::concat("the state has ", groups.size(), " parameter groups, the optimizer ",
                                      groups_.size()));
  } else {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      std::vector<std::size_t> mine;
      for (std::size_t i = groups_[g].begin; i < groups_[g].end; ++i) mine.push_back(i);
      if (groups[g].params != mine) {
        problems.push_back(detail::concat("parameter group ", g, " holds ", groups[g].params.size(),
                                          " parameters other than the optimizer's ", mine.size(), " (positions ",
                                          groups_[g].begin, " to ", groups_[g].end, ")"));
      }
      // const_cast: set_hyperparameters with apply = false only checks.
      for (const auto& p : const_cast<Optimizer*>(this)->set_hyperparameters(g, groups[g].hyperparameters, false)) {
        problems.push_back(detail::concat("parameter group ", g, ": ", p));
      }
    }
  }
  return problems;
}

template <class T>
void Optimizer<T>::load_state_dict(const OptimizerState<T>& state) {
  const std::vector<std::string> problems = state_problems(state);
  if (!problems.empty()) {
    std::string message = detail::concat(name_, "::load_state_dict: ", problems.size(),
                                         problems.size() == 1 ? " problem: " : " problems: ");
    for (std::size_t k = 0; k < problems.size(); ++k) message += (k ? "; " : "") + problems[k];
    throw ValueError(message);
  }
  // Every key is present once with its buffer's shape: copying into the existing buffers
  // allocates nothing and cannot fail half-way.
  for (auto& [slot_name, slot] : state_) {
    for (std::size_t i = 0; i < slot.size(); ++i) {
      const std::string key = slot_name + "." + std::to_string(i);
      for (const auto& [name, a] : state.buffers) {
        if (name == key) std::copy(a.data(), a.data() + a.size(), slot[i].data());
      }
    }
  }
  for (std::size_t g = 0; g < state.param_groups.size(); ++g) {
    set_hyperparameters(g, state.param_groups[g].hyperparameters, true);
  }
  steps_ = state.step;
}

template <class T>
std::uint64_t Optimizer<T>::advance() {
  check_shapes();
  anomaly_step_ = anomaly_enabled();
  if (anomaly_step_) {
    // Copies into buffers kept from the previous step: after the first step, none allocates.
    backup_steps_ = steps_;
    backup_values_.resize(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) backup_values_[i] = params_[i].value();
    std::size_t k = 0;
    for (const auto& [name, buffers] : state_) k += buffers.size();
    backup_state_.resize(k);
    k = 0;
    for (const auto& [name, buffers] : state_) {
      for (const auto& b : buffers) backup_state_[k++] = b;
    }
  }
  return ++steps_;
}

template <class T>
void Optimizer<T>::check_update(std::size_t i) {
  const Parameter<T>& p = params_[i];
  const T* w = p.value().data();
  const std::size_t size = p.value().size();
  std::size_t bad = 0;
  while (bad < size && std::isfinite(w[bad])) ++bad;
  if (bad == size) return;
  const T now = w[bad];
  const T before = backup_values_[i].data()[bad];
  const T grad = p.has_grad() ? p.grad().data()[bad] : T(0);
  // Put everything back: the copies have the shapes of the originals (checked by advance()),
  // so these copies allocate nothing.
  for (std::size_t j = 0; j < params_.size(); ++j) {
    const Array<T>& saved = backup_values_[j];
    std::copy(saved.data(), saved.data() + saved.size(), params_[j].mutable_value().data());
  }
  std::size_t k = 0;
  for (auto& [name, buffers] : state_) {
    for (auto& b : buffers) {
      const Array<T>& saved = backup_state_[k++];
      std::copy(saved.data(), saved.data() + saved.size(), b.data());
    }
  }
  steps_ = backup_steps_;
  anomaly_step_ = false;
  const bool already = !std::isfinite(before);
  throw AnomalyError(detail::concat(
      "anomaly in ", name_, "::step: parameter ", i, " (shape ", to_string(p.shape()), ") ",
      already ? "holds " : "became ", now, " at element ", bad,
      already ? " and was already non-finite before this step" : "", " (value before the step ", before,
      ", gradient ", grad, ", lr ", learning_rate(group_of(i)), "); the step was undone: every parameter, the optimizer's state and its",
      " step count are as before it"));
}
template <class T>
void Optimizer<T>::check_shapes() const {
  // Every parameter is checked before any is updated, so a failing step changes nothing; an
  // update past the end of a stale gradient or state buffer would corrupt memory.
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Shape& shape = params_[i].shape();
    if (has_gradient(i)) {
      const Shape& grad = params_[i].grad().shape();
      TG_CHECK(ShapeError, same_shape(grad, shape), name_, ": parameter ", i, " has shape ", to_string(shape),
               " but its gradient has shape ", to_string(grad), "; was its value replaced after backward()?");
    }
    for (const auto& [name, buffers] : state_) {
      TG_CHECK(ShapeError, same_shape(buffers[i].shape(), shape), name_, ": parameter ", i, " has shape ",
               to_string(shape), " but its state '", name, "' has shape ", to_string(buffers[i].shape()),
               "; make a new optimizer after reshaping a parameter");
    }
  }
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace tapegrad::optim
