#include "tapegrad/nn/mlp.hpp"

#include "tapegrad/nn/sequential.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/pointwise.hpp"

namespace tapegrad::nn {

// ---- MLP ----------------------------------------------------------------------------------------

template <class T>
MLP<T>::MLP(const std::vector<std::size_t>& sizes, Rng& rng) : sizes_(sizes) {
  TG_CHECK(ValueError, sizes.size() >= 2, "MLP: needs at least two layer sizes (inputs and outputs), got ",
           sizes.size());
  // Every layer's size first: a bad one throws before any weight is drawn.
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    checked_numel(("MLP: layer " + std::to_string(i) + " weight").c_str(), {sizes[i], sizes[i + 1]});
  }
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

template class MLP<float>;
template class MLP<double>;

}  // namespace tapegrad::nn
