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

#include "distributed.hpp"
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
  DistributedFlags dist;
};

/// The command line every such example takes.
inline void add_options(CLI::App& app, FashionConfig& cfg) {
  app.add_option("--epochs", cfg.epochs, "Passes over the training set")->check(CLI::PositiveNumber);
  app.add_option("--threads", cfg.threads,
                 "Threads to compute on (0: OPENBLAS_NUM_THREADS, else one per core; distributed: the cores shared "
                 "among the processes on the machine)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--train-limit", cfg.train_limit, "Use only the first N training images (0: all 60000)");
  app.add_option("--test-limit", cfg.test_limit, "Use only the first N test images (0: all 10000)");
  app.add_option("--seed", cfg.seed, "Seed of the weights and of the shuffling");
  app.add_flag("--verbose", cfg.verbose, "Print what runs the matrix products (kernel, instruction set, threads) first");
  app.add_option("--data-dir", cfg.data_dir, "Directory of the IDX files (plain or .gz)");
  app.add_option("--out-dir", cfg.out_dir, "Where to write the curves (CSV) and the model (empty: nowhere)");
  app.add_option("--min-test-accuracy", cfg.min_test_accuracy,
                 "Exit with status 1 if the final test accuracy is lower (used by ctest)");
  add_distributed_flags(app, cfg.dist);
}

/// Trains `model` on Fashion-MNIST and reports as the MLP example does. `to_input(features)`
/// turns a batch's flat images (B, 784) into the model's input and returns a reference to it:
/// the features themselves, reshaped, or a buffer of the example's. It is moved onto the tape,
/// which hands its previous buffer back (DataLoader's idiom): no copy, no allocation per step.
/// With --distributed (`dist`), each process trains on its share of every global batch and the
/// gradients are averaged over the processes (examples/distributed.hpp). Returns the exit status.
template <class Model, class ToInput>
int train_fashion(const char* name, Model& model, const FashionConfig& cfg, const Distributed& dist, ToInput to_input) {
  namespace tg = tapegrad;
  using clock = std::chrono::steady_clock;
  dist.set_threads(cfg.threads);
  if (cfg.verbose) std::cout << tg::runtime_info() << std::flush;
  auto train = tg::data::load_mnist<float>(cfg.data_dir, tg::data::MnistSplit::train, cfg.train_limit);
  auto test = tg::data::load_mnist<float>(cfg.data_dir, tg::data::MnistSplit::test, cfg.test_limit);
  dist.check_dataset(train);
  dist.check_dataset(test);
  tg::optim::Adam<float> opt(model.parameters(), tg::optim::AdamOptions(cfg.lr));
  // Distributed: the global batch cut into one share per process.
  tg::data::DataLoader<float> loader(train, dist.train_loader(cfg.batch_size, train.size(), cfg.seed));
  Trainer<float> trainer(dist, model);  // distributed: every rank starts from rank 0's weights
  tg::Tape<float> tape;
  ProgressBar bar(loader.num_batches(), dist.is_root() && ::isatty(STDERR_FILENO) != 0);

  const auto evaluate = [&](const tg::data::TensorDataset<float>& data) {
    tg::NoGradGuard no_grad;
    model.eval();
    tg::data::DataLoader<float> chunks(data, dist.eval_loader(1000, data.size()));  // this rank's share
    double correct = 0;
    for (auto& batch : chunks) {
      if (batch.size() == 0) continue;
      const auto logits = model.forward(tape.constant(std::move(to_input(batch.features))));
      correct += tg::accuracy(logits.value(), batch.targets) * double(batch.size());
      tape.clear();
    }
    model.train();
    dist.sum(&correct, 1);
    return correct / double(data.size());
  };

  tg::Array<double> curves = xt::zeros<double>({std::size_t(cfg.epochs), std::size_t(5)});
  double test_acc = 0;
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const auto start = clock::now();
    bar.restart();
    double sums[3] = {0, 0, 0};  // loss x examples, correct predictions, examples (this rank's)
    std::size_t b = 0;
    const std::string label = "epoch " + std::to_string(epoch) + "/" + std::to_string(cfg.epochs);
    for (auto& batch : loader) {
      const auto stats = trainer.step(tape, batch, [&](tg::Tape<float>& t, tg::data::Batch<float>& x) {
        const auto logits = model.forward(t.constant(std::move(to_input(x.features))));
        sums[1] += tg::accuracy(logits.value(), x.targets) * double(x.size());
        return tg::cross_entropy(logits, x.targets);
      });
      opt.step();
      sums[0] += stats.loss_sum;
      sums[2] += double(stats.examples);
      // Rank 0's running loss; examples/s of the whole job.
      bar.update(++b, sums[0] / sums[2], std::size_t(sums[2]) * std::size_t(dist.world_size()), label);
    }
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    bar.clear();
    test_acc = evaluate(test);
    dist.sum(sums, 3);
    const double loss = sums[0] / sums[2], train_acc = sums[1] / sums[2];
    if (dist.is_root()) {
      std::printf("epoch %d/%d loss=%.4f train_acc=%.4f test_acc=%.4f time=%.2fs\n", epoch, cfg.epochs, loss,
                  train_acc, test_acc, seconds);
      std::fflush(stdout);
    }
    const std::size_t row = std::size_t(epoch - 1);
    curves(row, 0) = epoch;
    curves(row, 1) = loss;
    curves(row, 2) = train_acc;
    curves(row, 3) = test_acc;
    curves(row, 4) = seconds;
  }
  // Collective (distributed: also checks that every rank holds the same weights).
  const std::string checksum = dist.checksum(model);
  if (dist.is_root()) std::printf("test accuracy: %.4f\n", test_acc);
  if (!cfg.out_dir.empty() && dist.is_root()) {
    if (std::system(("mkdir -p '" + cfg.out_dir + "'").c_str()) != 0) {
      std::cerr << name << ": cannot create " << cfg.out_dir << "\n";
      return 1;
    }
    tg::io::write_csv(cfg.out_dir + "/" + name + "_curves.csv", {"epoch", "loss", "train_acc", "test_acc", "seconds"},
                      curves);
    tg::save(model, cfg.out_dir + "/" + name + "_model.npz");
  }
  if (dist.is_root()) std::printf("model checksum: %s\n", checksum.c_str());
  if (test_acc < cfg.min_test_accuracy) {
    std::cerr << name << ": test accuracy " << test_acc << " is below --min-test-accuracy " << cfg.min_test_accuracy
              << "\n";
    return 1;
  }
  return 0;
}

}  // namespace examples
