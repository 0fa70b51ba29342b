// Fashion-MNIST with a small convolutional network, the recipe exactly:
//
//   conv(1→32, 3×3, padding 1) → ReLU → max_pool 2 → conv(32→64, 3×3, padding 1) → ReLU → max_pool 2
//   → flatten → Linear(3136→128) → ReLU → Linear(128→10)
//
// Adam (lr 1e-3), batch 128, softmax cross-entropy, pixels in [0, 1]. The same training in
// libtorch is benchmarks/fashion_mnist_cnn_libtorch.cpp; `benchmarks/fashion_epochs.sh cnn` runs
// the two side by side.
//
//     scripts/demo fashion_mnist_cnn                       # installs the data set if needed
//     build/examples/fashion_mnist_cnn --epochs 1 --train-limit 6000 --threads 2
//     mpirun -np 2 build/examples/fashion_mnist_cnn --distributed    # data-parallel on MPI
//
// With --distributed (examples/distributed.hpp) each process trains on its share of every
// global batch and the gradients are averaged over the processes, so N processes take the steps
// one process takes (--deterministic: to the last bit).
//
// Prints one line per epoch (on a terminal, a progress bar runs within the epoch and leaves only
// that line), the final test accuracy, and a checksum of the trained parameters; writes the
// curves as CSV (and as a PNG when gnuplot is installed) and the model as a checkpoint whose
// names are a PyTorch nn.Sequential's (0.weight, 0.bias, 3.weight, ..., 9.bias; Linear weights
// are (in, out), the transpose of PyTorch's).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cnn_network.hpp"
#include "distributed.hpp"
#include "progress.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;

namespace {

struct Config {
  int epochs = 5;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::size_t train_limit = 0;
  std::size_t test_limit = 0;
  std::string out_dir = "fashion_mnist_cnn_out";
  std::size_t batch_size = 128;
  double lr = 1e-3;
  std::uint64_t seed = 42;
  int threads = 0;
  bool verbose = false;
  double min_test_accuracy = 0;
  bool check_loss_falls = false;
  examples::DistributedFlags dist;
};

// A batch of flattened images (n, 784) as the network's input (n, 1, 28, 28): the same values.
tg::Var<float> images(tg::Tape<float>& tape, tg::Array<float>&& features) {
  features.reshape({features.shape()[0], std::size_t(1), std::size_t(28), std::size_t(28)});
  return tape.constant(std::move(features));  // moved, not copied: the tape hands back its old buffer
}

// Distributed: each rank evaluates its share, and the counts are summed.
double evaluate(nn::Sequential<float>& model, const tg::data::TensorDataset<float>& data, tg::Tape<float>& tape,
                const examples::Distributed& dist) {
  tg::NoGradGuard no_grad;
  model.eval();
  tg::data::DataLoader<float> loader(data, dist.eval_loader(1000, data.size()));
  double correct = 0;
  for (auto& batch : loader) {
    if (batch.size() == 0) continue;
    const auto logits = model.forward(images(tape, std::move(batch.features)));
    correct += tg::accuracy(logits.value(), batch.targets) * double(batch.size());
    tape.clear();
  }
  model.train();
  dist.sum(&correct, 1);
  return correct / double(data.size());
}

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

void plot(const std::string& dir) {
  const std::string script = dir + "/fashion_mnist_cnn_curves.gp";
  {
    tg::io::AtomicFile gp(script);
    gp.write("set terminal pngcairo size 900,400 noenhanced\n"
             "set output '" + dir + "/fashion_mnist_cnn_curves.png'\n"
             "set datafile separator ','\n"
             "set key autotitle columnhead\n"
             "set multiplot layout 1,2 title 'tapegrad: Fashion-MNIST, CNN (2 conv, 2 linear), Adam'\n"
             "set xlabel 'epoch'; set ylabel 'loss'; set grid\n"
             "plot '" + dir + "/fashion_mnist_cnn_curves.csv' using 1:2 with linespoints\n"
             "set ylabel 'accuracy'; set key bottom right\n"
             "plot '" + dir + "/fashion_mnist_cnn_curves.csv' using 1:3 with linespoints, '' using 1:4 with linespoints\n"
             "unset multiplot\n");
    gp.commit();
  }
  if (std::system(("gnuplot '" + script + "'").c_str()) != 0) {
    std::cerr << "fashion_mnist_cnn: gnuplot failed; the curves are in " << dir << "/fashion_mnist_cnn_curves.csv\n";
  }
}

int run(const Config& cfg, const examples::Distributed& dist) {
  using clock = std::chrono::steady_clock;
  dist.set_threads(cfg.threads);
  if (cfg.verbose) std::cout << tg::runtime_info() << std::flush;
  const auto train = tg::data::load_mnist<float>(cfg.data_dir, tg::data::MnistSplit::train, cfg.train_limit);
  const auto test = tg::data::load_mnist<float>(cfg.data_dir, tg::data::MnistSplit::test, cfg.test_limit);
  dist.check_dataset(train);
  dist.check_dataset(test);

  tg::Rng rng(cfg.seed);
  nn::Sequential<float> model;
  examples::build_cnn(model, rng);
  tg::optim::Adam<float> opt(model.parameters(), tg::optim::AdamOptions(cfg.lr));
  // Distributed: the global batch cut into one share per process.
  tg::data::DataLoader<float> loader(train, dist.train_loader(cfg.batch_size, train.size(), cfg.seed));
  examples::Trainer<float> trainer(dist, model);  // distributed: every rank starts from rank 0's weights
  tg::Tape<float> tape;
  examples::ProgressBar bar(loader.num_batches(), dist.is_root() && ::isatty(STDERR_FILENO) != 0);

  tg::Array<double> curves = xt::zeros<double>({std::size_t(cfg.epochs), std::size_t(5)});
  std::vector<double> first_epoch_losses;
  double test_acc = 0;
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const std::string label = "epoch " + std::to_string(epoch) + "/" + std::to_string(cfg.epochs);
    bar.restart();
    const auto start = clock::now();
    double sums[3] = {0, 0, 0};  // loss x examples, correct predictions, examples (this rank's)
    std::size_t done = 0;
    for (auto& batch : loader) {
      const auto stats = trainer.step(tape, batch, [&](tg::Tape<float>& t, tg::data::Batch<float>& x) {
        const auto logits = model.forward(images(t, std::move(x.features)));
        sums[1] += tg::accuracy(logits.value(), x.targets) * double(x.size());
        return tg::softmax_cross_entropy(logits, x.targets);
      });
      opt.step();
      sums[0] += stats.loss_sum;
      sums[2] += double(stats.examples);
      if (epoch == 1 && stats.examples > 0) first_epoch_losses.push_back(stats.loss_sum / double(stats.examples));
      // Rank 0's running loss; examples/s of the whole job.
      bar.update(++done, sums[0] / sums[2], std::size_t(sums[2]) * std::size_t(dist.world_size()), label);
    }
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    bar.clear();
    test_acc = evaluate(model, test, tape, dist);
    dist.sum(sums, 3);
    const double loss = sums[0] / sums[2], train_acc = sums[1] / sums[2];
    if (dist.is_root()) {
      std::printf("%s loss=%.4f train_acc=%.4f test_acc=%.4f time=%.2fs\n", label.c_str(), loss, train_acc, test_acc,
                  seconds);
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
      std::cerr << "fashion_mnist_cnn: cannot create " << cfg.out_dir << "\n";
      return 1;
    }
    tg::io::write_csv(cfg.out_dir + "/fashion_mnist_cnn_curves.csv",
                      {"epoch", "loss", "train_acc", "test_acc", "seconds"}, curves);
    tg::save(model, cfg.out_dir + "/fashion_mnist_cnn_model.npz");
    if (have_gnuplot()) plot(cfg.out_dir);
  }
  if (dist.is_root()) std::printf("model checksum: %s\n", checksum.c_str());

  int status = 0;
  if (cfg.check_loss_falls) {
    // The mean loss of the first epoch's last quarter of batches must be below its first quarter's.
    const std::size_t q = std::max<std::size_t>(1, first_epoch_losses.size() / 4);
    double head = 0, tail = 0;
    for (std::size_t i = 0; i < q; ++i) {
      head += first_epoch_losses[i];
      tail += first_epoch_losses[first_epoch_losses.size() - 1 - i];
    }
    if (!(tail < head)) {
      std::cerr << "fashion_mnist_cnn: the loss did not fall: " << head / double(q) << " over the first " << q
                << " batches, " << tail / double(q) << " over the last " << q << "\n";
      status = 1;
    }
  }
  if (test_acc < cfg.min_test_accuracy) {
    std::cerr << "fashion_mnist_cnn: test accuracy " << test_acc << " is below --min-test-accuracy "
              << cfg.min_test_accuracy << "\n";
    status = 1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"Train a small CNN on Fashion-MNIST with tapegrad"};
  app.add_option("--epochs", cfg.epochs, "Passes over the training set")->check(CLI::PositiveNumber);
  app.add_option("--data-dir", cfg.data_dir, "Directory of the IDX files (plain or .gz)");
  app.add_option("--train-limit", cfg.train_limit, "Train on the first N images only (0: all 60000)");
  app.add_option("--test-limit", cfg.test_limit, "Test on the first N images only (0: all 10000)");
  app.add_option("--out-dir", cfg.out_dir, "Where to write the curves (CSV, PNG) and the model (empty: nowhere)");
  app.add_option("--batch-size", cfg.batch_size, "Mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("--lr", cfg.lr, "Adam's learning rate")->check(CLI::PositiveNumber);
  app.add_option("--seed", cfg.seed, "Seed of the weights and of the shuffling");
  app.add_option("--threads", cfg.threads,
                 "Threads to compute on (0: OPENBLAS_NUM_THREADS, else one per core; distributed: the cores shared "
                 "among the processes on the machine)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--verbose", cfg.verbose, "Print what runs the products (kernel, instruction set, threads) first");
  app.add_option("--min-test-accuracy", cfg.min_test_accuracy,
                 "Exit with status 1 if the final test accuracy is lower (used by ctest)");
  app.add_flag("--check-loss-falls", cfg.check_loss_falls,
               "Exit with status 1 unless the first epoch's loss fell from its first to its last quarter (ctest)");
  examples::add_distributed_flags(app, cfg.dist);
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<examples::Distributed> dist;
  try {
    dist = std::make_unique<examples::Distributed>(cfg.dist, argc, argv);
    return run(cfg, *dist);
  } catch (const tg::Error& e) {
    // Distributed, this ends every process: the others may be waiting for this one.
    if (dist) return dist->fail("fashion_mnist_cnn", e.what());
    std::cerr << "fashion_mnist_cnn: " << e.what() << "\n";
    return 1;
  }
}
