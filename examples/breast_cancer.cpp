// Binary classification on the Wisconsin breast cancer data (569 tumours, 30 features): a small
// MLP [30, 16, 1] trained with binary cross-entropy on logits and Adam, on standardised
// features (the standardiser is fitted on the training split only).
//
//     build/examples/breast_cancer                  # examples/data/breast_cancer.csv
//     build/examples/breast_cancer --epochs 50 --csv my.csv --target diagnosis
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;

namespace {

struct Config {
  std::string csv = TAPEGRAD_EXAMPLES_DATA_DIR "/breast_cancer.csv";
  std::string target = "target";
  int epochs = 100;
  std::size_t batch_size = 32;
  double lr = 1e-3;
  double test_fraction = 0.2;
  std::uint64_t seed = 42;
  double min_test_accuracy = 0;
  bool verbose = false;
};

// binary accuracy of the model's logits (threshold 0) on a whole dataset.
double evaluate(tg::nn::MLP<float>& model, const tg::data::TensorDataset<float>& data) {
  tg::NoGradGuard no_grad;
  tg::Tape<float> tape;
  const auto logits = model.forward(tape.constant(data.features()));
  return tg::binary_accuracy(logits.value(), data.targets(), 0.0);
}

int run(const Config& cfg) {
  if (cfg.verbose) std::cout << tg::runtime_info() << std::flush;  // what runs the products, and on how many threads
  const auto table = tg::io::read_csv<float>(cfg.csv);
  const std::size_t t = table.column(cfg.target), n = table.values.shape()[0];
  const std::size_t f = table.columns.size() - 1;
  tg::Array<float> x = xt::zeros<float>({n, f});
  tg::Array<float> y = xt::zeros<float>({n, std::size_t(1)});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0, k = 0; j < table.columns.size(); ++j) {
      if (j == t) {
        y(i, 0) = table.values(i, j);
      } else {
        x(i, k++) = table.values(i, j);
      }
    }
  }
  auto [train, test] = tg::data::train_val_split(tg::data::TensorDataset<float>(x, y), cfg.test_fraction, cfg.seed);
  tg::data::Standardizer<float> scaler;
  scaler.fit(train.features());
  scaler.transform_inplace(train.features());
  scaler.transform_inplace(test.features());
  std::printf("%zu examples, %zu features: %zu for training, %zu for testing\n", n, f, train.size(), test.size());

  tg::Rng rng(cfg.seed);
  tg::nn::MLP<float> model({f, 16, 1}, rng);
  tg::optim::Adam<float> opt(model.parameters(), tg::optim::AdamOptions(cfg.lr));
  tg::data::DataLoader<float> loader(train, tg::data::DataLoaderOptions(cfg.batch_size).shuffle(true).seed(cfg.seed));
  tg::Tape<float> tape;
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    double loss_sum = 0;
    for (const auto& batch : loader) {
      opt.zero_grad();
      const auto loss = tg::bce_with_logits(model.forward(tape.constant(batch.features)), tape.constant(batch.targets));
      loss_sum += double(loss.item()) * double(batch.size());
      tape.backward(loss);
      opt.step();
    }
    if (epoch % 10 == 0 || epoch == cfg.epochs) {
      std::printf("epoch %d/%d loss=%.4f train_acc=%.4f test_acc=%.4f\n", epoch, cfg.epochs,
                  loss_sum / double(train.size()), evaluate(model, train), evaluate(model, test));
    }
  }
  const double train_acc = evaluate(model, train), test_acc = evaluate(model, test);
  std::printf("train accuracy: %.4f\ntest accuracy: %.4f\n", train_acc, test_acc);
  if (test_acc < cfg.min_test_accuracy) {
    std::cerr << "breast_cancer: test accuracy " << test_acc << " is below --min-test-accuracy "
              << cfg.min_test_accuracy << "\n";
    return 1;
  }
  std::printf("model checksum: %s\n", tg::io::checksum_hex(tg::io::checksum(model)).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"Binary classification of the Wisconsin breast cancer data with tapegrad"};
  app.add_option("--csv", cfg.csv, "Numeric CSV with a header row");
  app.add_option("--target", cfg.target, "The column holding the 0/1 label");
  app.add_option("--epochs", cfg.epochs, "Passes over the training split")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", cfg.batch_size, "Mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("--lr", cfg.lr, "Adam's learning rate")->check(CLI::PositiveNumber);
  app.add_option("--test-fraction", cfg.test_fraction, "Fraction of the rows held out for testing");
  app.add_option("--seed", cfg.seed, "Seed of the split, the weights and the shuffling");
  app.add_option("--min-test-accuracy", cfg.min_test_accuracy,
                 "Exit with status 1 if the final test accuracy is lower (used by ctest)");
  app.add_flag("--verbose", cfg.verbose, "Print what runs the matrix products (kernel, instruction set, threads) first");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(cfg);
  } catch (const tg::Error& e) {
    std::cerr << "breast_cancer: " << e.what() << "\n";
    return 1;
  }
}
