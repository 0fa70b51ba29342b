#pragma once
// The training loop the sequence-model examples share (fashion_mnist_lstm, fashion_mnist_vit):
// the recipe (Adam 1e-3, batch 128, softmax cross-entropy, pixels in [0, 1]), the MLP
// example's epoch line, a progress bar on a terminal, the curves as CSV and the model as a
// checkpoint, and `model checksum: <16 hex digits>` at the end. Each example supplies its model
// and how a batch of flat images (B, 784) becomes the model's input.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>

#include "progress.hpp"
#include "tapegrad/tapegrad.hpp"

namespace examples {

struct FashionConfig {
  int epochs = 2;
  int threads = 0;
  std::size_t train_limit = 0;
  std::size_t test_limit = 0;
  std::uint64_t seed = 42;
  bool verbose = false;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string out_dir;
  double lr = 1e-3;
  std::size_t batch_size = 128;
  double min_test_accuracy = 0;
};

/// The command line every such example takes.
inline void add_options(CLI::App& app, FashionConfig& cfg) {
  app.add_option("--epochs", cfg.epochs, "Passes over the training set")->check(CLI::PositiveNumber);
  app.add_option("--threads", cfg.threads, "Threads to compute on (0: OPENBLAS_NUM_THREADS, else one per core)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--train-limit", cfg.train_limit, "Use only the first N training images (0: all 60000)");
  app.add_option("--test-limit", cfg.test_limit, "Use only the first N test images (0: all 10000)");
  app.add_option("--seed", cfg.seed, "Seed of the weights and of the shuffling");
  app.add_flag("--verbose", cfg.verbose, "Print what runs the matrix products (kernel, instruction set, threads) first");
  app.add_option("--data-dir", cfg.data_dir, "Directory of the IDX files (plain or .gz)");
  app.add_option("--out-dir", cfg.out_dir, "Where to write the curves (CSV) and the model (empty: nowhere)");
  app.add_option("--min-test-accuracy", cfg.min_test_accuracy,
                 "Exit with status 1 if the final test accuracy is lower (used by ctest)");
}

/// FNV-1a 64 over the parameters in named_parameters() order: each one's name, a zero byte, its
/// rank and extents (8 bytes each, little-endian), then its elements' bytes. The definition of
/// io::checksum on branch mpi, written out here until that lands.
template <class T>
std::uint64_t model_checksum(const tapegrad::nn::Module<T>& model) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto bytes = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  };
  const auto u64 = [&](std::uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(le, 8);
  };
  for (const auto& [name, p] : model.named_parameters()) {
    bytes(name.data(), name.size());
    bytes("", 1);
    u64(p.value().dimension());
    for (auto d : p.shape()) u64(d);
    bytes(p.value().data(), p.value().size() * sizeof(T));
  }
  return h;
}

/// Trains `model` on Fashion-MNIST and reports as the MLP example does. `to_input(features)`
/// turns a batch's flat images (B, 784) into the model's input and returns a reference to it:
/// the features themselves, reshaped, or a buffer of the example's. It is moved onto the tape,
/// which hands its previous buffer back (DataLoader's idiom): no copy, no allocation per step.
/// Returns the exit status.
template <class Model, class ToInput>
int train_fashion(const char* name, Model& model, const FashionConfig& cfg, ToInput to_input) {
  namespace tg = tapegrad;
  using clock = std::chrono::steady_clock;
  if (cfg.threads > 0) tg::set_num_threads(cfg.threads);
  if (cfg.verbose) std::cout << tg::runtime_info() << std::flush;
  auto train = tg::data::load_mnist<float>(cfg.data_dir, tg::data::MnistSplit::train, cfg.train_limit);
  auto test = tg::data::load_mnist<float>(cfg.data_dir, tg::data::MnistSplit::test, cfg.test_limit);
  tg::optim::Adam<float> opt(model.parameters(), tg::optim::AdamOptions(cfg.lr));
  tg::data::DataLoader<float> loader(train, tg::data::DataLoaderOptions(cfg.batch_size).shuffle(true).seed(cfg.seed));
  tg::Tape<float> tape;
  ProgressBar bar(loader.num_batches());

  const auto evaluate = [&](const tg::data::TensorDataset<float>& data) {
    tg::NoGradGuard no_grad;
    model.eval();
    tg::data::DataLoader<float> chunks(data, tg::data::DataLoaderOptions(1000));
    double correct = 0;
    for (auto& batch : chunks) {
      const auto logits = model.forward(tape.constant(std::move(to_input(batch.features))));
      correct += tg::accuracy(logits.value(), batch.targets) * double(batch.size());
      tape.clear();
    }
    model.train();
    return correct / double(data.size());
  };

  tg::Array<double> curves = xt::zeros<double>({std::size_t(cfg.epochs), std::size_t(5)});
  double test_acc = 0;
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const auto start = clock::now();
    bar.restart();
    double loss_sum = 0, correct = 0;
    std::size_t seen = 0, b = 0;
    const std::string label = "epoch " + std::to_string(epoch) + "/" + std::to_string(cfg.epochs);
    for (auto& batch : loader) {
      opt.zero_grad();
      const auto logits = model.forward(tape.constant(std::move(to_input(batch.features))));
      const auto loss = tg::cross_entropy(logits, batch.targets);
      const double n = double(batch.size());
      loss_sum += double(loss.item()) * n;
      correct += tg::accuracy(logits.value(), batch.targets) * n;
      seen += batch.size();
      tape.backward(loss);
      opt.step();
      bar.update(++b, loss_sum / double(seen), seen, label);
    }
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    bar.clear();
    test_acc = evaluate(test);
    const double loss = loss_sum / double(seen), train_acc = correct / double(seen);
    std::printf("epoch %d/%d loss=%.4f train_acc=%.4f test_acc=%.4f time=%.2fs\n", epoch, cfg.epochs, loss, train_acc,
                test_acc, seconds);
    std::fflush(stdout);
    const std::size_t row = std::size_t(epoch - 1);
    curves(row, 0) = epoch;
    curves(row, 1) = loss;
    curves(row, 2) = train_acc;
    curves(row, 3) = test_acc;
    curves(row, 4) = seconds;
  }
  std::printf("test accuracy: %.4f\n", test_acc);
  if (!cfg.out_dir.empty()) {
    if (std::system(("mkdir -p '" + cfg.out_dir + "'").c_str()) != 0) {
      std::cerr << name << ": cannot create " << cfg.out_dir << "\n";
      return 1;
    }
    tg::io::write_csv(cfg.out_dir + "/" + name + "_curves.csv", {"epoch", "loss", "train_acc", "test_acc", "seconds"},
                      curves);
    tg::save(model, cfg.out_dir + "/" + name + "_model.npz");
  }
  std::printf("model checksum: %016llx\n", static_cast<unsigned long long>(model_checksum(model)));
  if (test_acc < cfg.min_test_accuracy) {
    std::cerr << name << ": test accuracy " << test_acc << " is below --min-test-accuracy " << cfg.min_test_accuracy
              << "\n";
    return 1;
  }
  return 0;
}

}  // namespace examples
