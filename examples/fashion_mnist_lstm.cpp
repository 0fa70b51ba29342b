// Fashion-MNIST with an LSTM: each image's 28 rows are 28 steps of 28 pixels, an
// LSTM(28, 128, batch_first) reads them, and a Linear(128, 10) classifies the last step's output.
// Adam (lr 1e-3), batch 128, softmax cross-entropy, pixels in [0, 1] (the recipe; its
// libtorch twin is benchmarks/fashion_mnist_libtorch.cpp --model lstm, and
// benchmarks/fashion_epochs.sh times the two side by side).
//
//     build/examples/fashion_mnist_lstm --epochs 2
//     build/examples/fashion_mnist_lstm --epochs 1 --train-limit 5000 --threads 1 --out-dir /tmp/lstm
//
// Prints one line per epoch, the final test accuracy and the model's checksum; writes the curves
// (CSV) and the model (checkpoint) with --out-dir.
#include <cmath>
#include <memory>

#include "fashion_training.hpp"
#include "tapegrad/shape_ops.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;

namespace {

struct LstmClassifier : tg::nn::Module<float> {
  explicit LstmClassifier(tg::Rng& rng)
      : lstm(register_module("lstm", std::make_shared<tg::nn::LSTM<float>>(
                                         tg::nn::LSTMOptions(28, 128).batch_first(true), rng))),
        fc(register_module("fc", std::make_shared<tg::nn::Linear<float>>(tg::nn::LinearOptions(128, 10), rng))) {
    // PyTorch's Linear init, U(-1/sqrt(in), 1/sqrt(in)), as the libtorch twin has.
    const float k = 1 / std::sqrt(128.f);
    fc->weight().mutable_value() = rng.uniform<float>({128, 10}, -k, k);
    fc->bias().mutable_value() = rng.uniform<float>({1, 10}, -k, k);
  }
  // images (B, 28, 28): rows as steps.
  tg::Var<float> forward(const tg::Var<float>& images) {
    const auto r = lstm->forward(images);                             // output (B, 28, 128)
    const auto last = tg::squeeze(tg::narrow(r.output, 1, -1, 1), 1);  // output[:, -1] (B, 128)
    return fc->forward(last);
  }
  std::shared_ptr<tg::nn::LSTM<float>> lstm;
  std::shared_ptr<tg::nn::Linear<float>> fc;
};

}  // namespace

int main(int argc, char** argv) {
  examples::FashionConfig cfg;
  CLI::App app{"Train an LSTM(28, 128) over the rows of Fashion-MNIST images with tapegrad"};
  examples::add_options(app, cfg);
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<examples::Distributed> dist;
  try {
    dist = std::make_unique<examples::Distributed>(cfg.dist, argc, argv);
    tg::Rng rng(cfg.seed);
    LstmClassifier model(rng);
    return examples::train_fashion("fashion_mnist_lstm", model, cfg, *dist, [](tg::Array<float>& features) -> tg::Array<float>& {
      features.reshape({features.shape()[0], std::size_t(28), std::size_t(28)});  // no copy
      return features;
    });
  } catch (const tg::Error& e) {
    // Distributed, this ends every process: the others may be waiting for this one.
    if (dist) return dist->fail("fashion_mnist_lstm", e.what());
    std::cerr << "fashion_mnist_lstm: " << e.what() << "\n";
    return 1;
  }
}
