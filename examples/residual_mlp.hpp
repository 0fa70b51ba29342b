#pragma once
// The models of examples/residual_mlp.cpp, in a header so that tests/test_nn_modules.cpp checks
// them too: a residual MLP whose forward takes three inputs (numeric features and two
// categorical ones), and the plain MLP of the same size it is compared with.
#include <memory>
#include <vector>

#include "tapegrad/tapegrad.hpp"

namespace residual_mlp {

namespace tg = tapegrad;

// x + Linear(Dropout(GELU(Linear(LayerNorm(x))))): a pre-norm residual block (as in
// Transformers' MLP blocks), GELU with the erf form (torch.nn.GELU's default).
template <class T>
struct ResidualBlock : tg::nn::Module<T> {
  ResidualBlock(std::size_t width, double dropout, tg::Rng& rng)
      : norm(this->register_module("norm", std::make_shared<tg::nn::LayerNorm<T>>(tg::nn::LayerNormOptions(width)))),
        fc1(this->register_module("fc1", std::make_shared<tg::nn::Linear<T>>(tg::nn::LinearOptions(width, width), rng))),
        drop(this->register_module("drop", std::make_shared<tg::nn::Dropout<T>>(dropout, rng))),
        fc2(this->register_module("fc2", std::make_shared<tg::nn::Linear<T>>(tg::nn::LinearOptions(width, width), rng))) {
    tg::nn::init::zeros_(fc2->weight());  // each block starts as the identity
  }
  tg::Var<T> forward(const tg::Var<T>& x) { return x + fc2->forward(drop->forward(tg::gelu(fc1->forward(norm->forward(x))))); }

  std::shared_ptr<tg::nn::LayerNorm<T>> norm;
  std::shared_ptr<tg::nn::Linear<T>> fc1;
  std::shared_ptr<tg::nn::Dropout<T>> drop;
  std::shared_ptr<tg::nn::Linear<T>> fc2;
};

// Numeric features (N, F), standardised by a BatchNorm1d (its running statistics are buffers),
// projected to the width H, plus an Embedding of each categorical feature (N,) -> (N, H): the
// sum is a linear layer over [numeric, one-hot(month), one-hot(year)], without concatenating.
// Then residual blocks, a final LayerNorm and the classifier head.
template <class T>
struct ResidualMLP : tg::nn::Module<T> {
  ResidualMLP(std::size_t numeric, std::vector<std::size_t> categories, std::size_t width, std::size_t blocks,
              std::size_t classes, double dropout, tg::Rng& rng)
      : input_norm(this->register_module("input_norm", std::make_shared<tg::nn::BatchNorm1d<T>>(numeric))),
        input(this->register_module("input",
                                    std::make_shared<tg::nn::Linear<T>>(tg::nn::LinearOptions(numeric, width), rng))),
        embeddings(this->register_module("embeddings", std::make_shared<tg::nn::ModuleList<T>>())),
        layers(this->register_module("blocks", std::make_shared<tg::nn::ModuleList<T>>())),
        norm(this->register_module("norm", std::make_shared<tg::nn::LayerNorm<T>>(tg::nn::LayerNormOptions(width)))),
        head(this->register_module("head",
                                   std::make_shared<tg::nn::Linear<T>>(tg::nn::LinearOptions(width, classes), rng))) {
    for (std::size_t c : categories) {
      auto e = embeddings->push_back(std::make_shared<tg::nn::Embedding<T>>(c, width, rng));
      tg::nn::init::normal_(e->weight(), 0.0, 0.1, rng);  // on the scale of the projected features
      tables.push_back(e);
    }
    for (std::size_t b = 0; b < blocks; ++b) {
      block_list.push_back(layers->push_back(std::make_shared<ResidualBlock<T>>(width, dropout, rng)));
    }
  }

  // numeric (N, F); ids[k] (N,) holds category indices of feature k.
  tg::Var<T> forward(const tg::Var<T>& numeric, const std::vector<tg::Var<T>>& ids) {
    tg::Var<T> h = input->forward(input_norm->forward(numeric));
    for (std::size_t k = 0; k < tables.size(); ++k) h = h + tables[k]->forward(ids[k]);
    for (auto& block : block_list) h = block->forward(h);
    return head->forward(norm->forward(h));
  }

  std::shared_ptr<tg::nn::BatchNorm1d<T>> input_norm;
  std::shared_ptr<tg::nn::Linear<T>> input;
  std::shared_ptr<tg::nn::ModuleList<T>> embeddings, layers;
  std::shared_ptr<tg::nn::LayerNorm<T>> norm;
  std::shared_ptr<tg::nn::Linear<T>> head;
  std::vector<std::shared_ptr<tg::nn::Embedding<T>>> tables;
  std::vector<std::shared_ptr<ResidualBlock<T>>> block_list;
};

// The baseline (tg::nn::MLP of these sizes): a plain ReLU MLP of the same depth and width over [standardised numeric
// features, one-hot categories]: [F + Σcategories, H, (H) × 2·blocks, classes], so it has
// the same Linear layers as ResidualMLP (its input layer takes the one-hot columns that
// ResidualMLP's embeddings stand for). No norm, no residual connection, no dropout.
inline std::vector<std::size_t> baseline_sizes(std::size_t inputs, std::size_t width, std::size_t blocks,
                                               std::size_t classes) {
  std::vector<std::size_t> sizes{inputs, width};
  for (std::size_t b = 0; b < 2 * blocks; ++b) sizes.push_back(width);
  sizes.push_back(classes);
  return sizes;
}

}  // namespace residual_mlp
