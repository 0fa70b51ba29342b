// The optimizer base: learning rate, step count, state save/restore.
#include <cmath>
#include <string>

#include "tapegrad/kernels.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim {

// ---- Optimizer ---------------------------------------------------------------------------------

template <class T>
Optimizer<T>::Optimizer(const char* name, std::vector<Parameter<T>> params, double lr)
    : params_(std::move(params)), name_(name), lr_(0) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    TG_CHECK(ValueError, params_[i].defined(), name_, ": parameter ", i, " is undefined");
    // A parameter listed twice would be updated twice per step.
    for (std::size_t j = 0; j < i; ++j) {
      TG_CHECK(ValueError, !params_[i].same(params_[j]), name_, ": parameters ", j, " and ", i,
               " are the same parameter");
    }
  }
  TG_CHECK(ValueError, std::isfinite(lr) && lr > 0, name_, ": lr (the learning rate) must be positive and finite, got ",
           lr);
  lr_ = lr;
}

template <class T>
void Optimizer<T>::set_learning_rate(double lr) {
  TG_CHECK(ValueError, std::isfinite(lr) && lr >= 0, name_, ": lr (the learning rate) must be >= 0 and finite, got ",
           lr);
  lr_ = lr;
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
StateDict<T> Optimizer<T>::state_dict() const {
  StateDict<T> out;
  out.emplace_back("step", Array<T>(T(steps_)));
  for (const auto& [name, buffers] : state_) {
    for (std::size_t i = 0; i < buffers.size(); ++i) out.emplace_back(name + "." + std::to_string(i), buffers[i]);
  }
  return out;
}

template <class T>
void Optimizer<T>::load_state_dict(const StateDict<T>& state) {
  // Every check comes first, and every problem is reported: fixing a checkpoint one error per
  // run is tedious. Nothing changes unless all checks pass.
  std::vector<std::string> problems;
  std::vector<bool> used(state.size(), false);
  auto find = [&](const std::string& key, const Shape& shape) -> const Array<T>* {
    const Array<T>* found = nullptr;
    for (std::size_t k = 0; k < state.size(); ++k) {
      if (state[k].first != key) continue;
      if (found != nullptr) {
        problems.push_back("'" + key + "' appears more than once");
        continue;
      }
      used[k] = true;
      found = &state[k].second;
    }
    if (found == nullptr) {
      problems.push_back("missing '" + key + "'");
    } else if (found->shape() != shape) {
      problems.push_back("'" + key + "' has shape " + to_string(found->shape()) + ", expected " + to_string(shape));
      found = nullptr;
    }
    return found;
  };

  const Array<T>* step = find("step", Shape{});
  if (step != nullptr) {
    const T s = (*step)();
    if (!(std::isfinite(s) && s >= T(0) && std::floor(s) == s)) {
      problems.push_back("'step' must be a non-negative integer, got " + detail::concat(s));
      step = nullptr;
    }
  }
  std::vector<std::vector<const Array<T>*>> sources(state_.size());
  for (std::size_t slot = 0; slot < state_.size(); ++slot) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      sources[slot].push_back(find(state_[slot].first + "." + std::to_string(i), params_[i].shape()));
    }
  }
  for (std::size_t k = 0; k < state.size(); ++k) {
    bool known = used[k];
    for (std::size_t j = 0; j < k && !known; ++j) known = used[j] && state[j].first == state[k].first;
    if (!known) problems.push_back("unexpected '" + state[k].first + "'");
  }
  if (!problems.empty()) {
    std::string message = detail::concat(name_, "::load_state_dict: ", problems.size(),
                                         problems.size() == 1 ? " problem: " : " problems: ");
    for (std::size_t k = 0; k < problems.size(); ++k) message += (k ? "; " : "") + problems[k];
    throw ValueError(message);
  }
  steps_ = static_cast<std::uint64_t>((*step)());
  for (std::size_t slot = 0; slot < state_.size(); ++slot) {
    for (std::size_t i = 0; i < params_.size(); ++i) state_[slot].second[i] = *sources[slot][i];
  }
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
