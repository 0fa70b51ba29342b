// A residual MLP with LayerNorm, dropout and Embedding inputs for categorical features, against
// a plain MLP of the same size, on real tabular data: the weather in Seattle 2012–2015
// (examples/data/seattle_weather.csv, from Debian's python3-vega-datasets), predicting the
// day's weather (drizzle, fog, rain, snow, sun) from precipitation, temperatures and wind, plus
// the month and the year as categorical features (see examples/data/README.md).
//
//     build/examples/residual_mlp                      # both models, seed 1
//     build/examples/residual_mlp --model residual --epochs 100 --seed 3 --save weather.npz
//
// What it shows: a module whose forward takes several inputs (ResidualMLP::forward(numeric,
// ids), examples/residual_mlp.hpp), nn::Embedding, nn::LayerNorm, nn::BatchNorm1d (its running
// statistics are buffers, saved with --save), nn::Dropout, train()/eval(), cross_entropy with
// label smoothing, AdamW with two parameter groups (no weight decay on biases, norms and
// embeddings), gradient clipping and a cosine schedule over both groups.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "residual_mlp.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;

namespace {

constexpr std::size_t kNumeric = 4;                // precipitation, temp_max, temp_min, wind
const std::vector<std::size_t> kCategories{12, 4};  // month, year
constexpr std::size_t kClasses = 5;

struct Config {
  std::string csv = TAPEGRAD_EXAMPLES_DATA_DIR "/seattle_weather.csv";
  std::string model = "both";
  int epochs = 60;
  std::size_t batch_size = 64;
  std::size_t width = 64;
  std::size_t blocks = 2;
  double dropout = 0.1;
  double lr = 3e-3;
  double weight_decay = 0.01;
  double label_smoothing = 0.0;
  double clip = 1.0;
  double test_fraction = 0.2;
  std::uint64_t seed = 1;
  int threads = 0;
  std::string save;
  double min_test_accuracy = 0;
};

// One batch of the dataset's rows [numeric (4), month, year] as the models' inputs.
struct Inputs {
  tg::Array<float> numeric;                 // (n, 4), standardised
  std::vector<tg::Array<float>> ids;        // month (n,), year (n,)
  tg::Array<float> onehot;                  // (n, 4 + 12 + 4): the baseline's input
  std::vector<std::int64_t> labels;
};

Inputs split_columns(const tg::Array<float>& rows, const tg::Array<float>& targets) {
  const std::size_t n = rows.shape()[0];
  Inputs in;
  in.numeric = tg::Array<float>::from_shape({n, kNumeric});
  std::size_t width = kNumeric;
  for (std::size_t c : kCategories) width += c;
  in.onehot = xt::zeros<float>({n, width});
  for (std::size_t k = 0; k < kCategories.size(); ++k) in.ids.push_back(tg::Array<float>::from_shape({n}));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < kNumeric; ++j) in.numeric(i, j) = in.onehot(i, j) = rows(i, j);
    std::size_t offset = kNumeric;
    for (std::size_t k = 0; k < kCategories.size(); ++k) {
      const float id = rows(i, kNumeric + k);
      in.ids[k](i) = id;
      in.onehot(i, offset + std::size_t(id)) = 1.f;
      offset += kCategories[k];
    }
    in.labels.push_back(std::int64_t(targets(i, 0)));
  }
  return in;
}

// The residual MLP or the baseline behind one interface.
struct Model {
  std::unique_ptr<residual_mlp::ResidualMLP<float>> residual;
  std::unique_ptr<tg::nn::MLP<float>> baseline;
  tg::nn::Module<float>& module() { return residual ? static_cast<tg::nn::Module<float>&>(*residual) : *baseline; }
  tg::Var<float> forward(tg::Tape<float>& tape, const Inputs& in) {
    if (!residual) return baseline->forward(tape.constant(in.onehot));
    std::vector<tg::Var<float>> ids;
    for (const auto& a : in.ids) ids.push_back(tape.constant(a));
    return residual->forward(tape.constant(in.numeric), ids);
  }
};

double accuracy(Model& m, const Inputs& data) {
  tg::NoGradGuard no_grad;
  m.module().eval();  // dropout off, BatchNorm's running statistics
  tg::Tape<float> tape;
  const double acc = tg::accuracy(m.forward(tape, data).value(), data.labels);
  m.module().train();
  return acc;
}

std::size_t count_parameters(const tg::nn::Module<float>& m) {
  std::size_t n = 0;
  for (const auto& p : m.parameters()) n += p.value().size();
  return n;
}

// Trains one model; returns its final test accuracy.
double train_one(const std::string& kind, const Config& cfg, const tg::data::TensorDataset<float>& train,
                 const Inputs& train_all, const Inputs& test_all) {
  tg::Rng rng(cfg.seed);
  Model m;
  if (kind == "residual") {
    m.residual = std::make_unique<residual_mlp::ResidualMLP<float>>(kNumeric, kCategories, cfg.width, cfg.blocks,
                                                                     kClasses, cfg.dropout, rng);
  } else {
    m.baseline = std::make_unique<tg::nn::MLP<float>>(
        residual_mlp::baseline_sizes(train_all.onehot.shape()[1], cfg.width, cfg.blocks, kClasses), rng);
  }
  // Two parameter groups: weight decay on the Linear weights only, none on biases, norms and
  // embeddings (the common recipe).
  std::vector<tg::Parameter<float>> decay, no_decay;
  for (const auto& [name, p] : m.module().named_parameters()) {
    const bool linear_weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
                               name.find("norm") == std::string::npos && name.find("embeddings") == std::string::npos;
    (linear_weight ? decay : no_decay).push_back(p);
  }
  using Group = tg::optim::AdamW<float>::Group;
  const auto options = tg::optim::AdamWOptions(cfg.lr).weight_decay(cfg.weight_decay);
  tg::optim::AdamW<float> opt({Group(decay), Group(no_decay, tg::optim::AdamWOptions(options).weight_decay(0))}, options);
  tg::optim::CosineAnnealingLR<float> schedule(opt, cfg.epochs);
  const std::vector<tg::Parameter<float>> params = opt.parameters();

  std::printf("%s MLP: %zu parameters\n", kind.c_str(), count_parameters(m.module()));
  tg::data::DataLoader<float> loader(train, tg::data::DataLoaderOptions(cfg.batch_size).shuffle(true).seed(cfg.seed));
  tg::Tape<float> tape;
  const auto loss_options = tg::CrossEntropyOptions().label_smoothing(cfg.label_smoothing);
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    double loss_sum = 0;
    for (const auto& batch : loader) {
      const Inputs in = split_columns(batch.features, batch.targets);
      opt.zero_grad();
      const auto loss = tg::cross_entropy(m.forward(tape, in), in.labels, loss_options);
      loss_sum += double(loss.item()) * double(batch.size());
      tape.backward(loss);
      if (cfg.clip > 0) tg::nn::utils::clip_grad_norm_(params, cfg.clip);
      opt.step();
    }
    schedule.step();
    if (epoch % 10 == 0 || epoch == cfg.epochs) {
      std::printf("  epoch %d/%d loss=%.4f train_acc=%.4f test_acc=%.4f\n", epoch, cfg.epochs,
                  loss_sum / double(train.size()), accuracy(m, train_all), accuracy(m, test_all));
    }
  }
  const double test_acc = accuracy(m, test_all);
  std::printf("%s MLP: test accuracy %.4f\n", kind.c_str(), test_acc);
  // A hash of every parameter's name, shape and bytes: two runs compared at a glance.
  std::printf("model checksum: %s\n", tg::io::checksum_hex(tg::io::checksum(m.module())).c_str());
  if (!cfg.save.empty() && kind == "residual") {
    tg::save(m.module(), cfg.save);  // parameters and BatchNorm's buffers, by name
    std::printf("saved %s\n", cfg.save.c_str());
  }
  return test_acc;
}

int run(const Config& cfg) {
  if (cfg.threads > 0) tg::set_num_threads(cfg.threads);
  const auto table = tg::io::read_csv<float>(cfg.csv);
  const std::vector<std::string> columns{"precipitation", "temp_max", "temp_min", "wind", "month", "year"};
  const std::size_t n = table.values.shape()[0];
  tg::Array<float> x = tg::Array<float>::from_shape({n, columns.size()});
  tg::Array<float> y = tg::Array<float>::from_shape({n, std::size_t(1)});
  for (std::size_t j = 0; j < columns.size(); ++j) {
    const std::size_t c = table.column(columns[j]);
    for (std::size_t i = 0; i < n; ++i) x(i, j) = table.values(i, c);
  }
  const std::size_t t = table.column("weather");
  for (std::size_t i = 0; i < n; ++i) y(i, 0) = table.values(i, t);

  auto [train, test] = tg::data::train_val_split(tg::data::TensorDataset<float>(x, y), cfg.test_fraction, cfg.seed);
  // Standardise the numeric columns with the training split's mean and scale (the categorical
  // columns stay indices).
  const auto numeric_columns = [](const tg::Array<float>& rows) {
    tg::Array<float> out = tg::Array<float>::from_shape({rows.shape()[0], kNumeric});
    for (std::size_t i = 0; i < rows.shape()[0]; ++i)
      for (std::size_t j = 0; j < kNumeric; ++j) out(i, j) = rows(i, j);
    return out;
  };
  tg::data::Standardizer<float> scaler;
  scaler.fit(numeric_columns(train.features()));
  for (auto* d : {&train, &test}) {
    tg::Array<float> part = numeric_columns(d->features());
    scaler.transform_inplace(part);
    for (std::size_t i = 0; i < part.shape()[0]; ++i)
      for (std::size_t j = 0; j < kNumeric; ++j) d->features()(i, j) = part(i, j);
  }
  const Inputs train_all = split_columns(train.features(), train.targets());
  const Inputs test_all = split_columns(test.features(), test.targets());
  std::printf("%zu days: %zu for training, %zu for testing (seed %llu)\n", n, train.size(), test.size(),
              static_cast<unsigned long long>(cfg.seed));

  double worst = 1;
  for (const std::string kind : {"residual", "baseline"}) {
    if (cfg.model != "both" && cfg.model != kind) continue;
    worst = std::min(worst, train_one(kind, cfg, train, train_all, test_all));
  }
  if (worst < cfg.min_test_accuracy) {
    std::cerr << "residual_mlp: test accuracy " << worst << " is below --min-test-accuracy " << cfg.min_test_accuracy
              << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"A residual MLP with LayerNorm, dropout and embeddings against a plain MLP, on Seattle's weather"};
  app.add_option("--csv", cfg.csv, "The data (examples/data/seattle_weather.csv)");
  app.add_option("--model", cfg.model, "residual, baseline or both")->check(CLI::IsMember({"residual", "baseline", "both"}));
  app.add_option("--epochs", cfg.epochs, "Passes over the training split")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", cfg.batch_size, "Mini-batch size")->check(CLI::PositiveNumber);
  app.add_option("--width", cfg.width, "Hidden width H")->check(CLI::PositiveNumber);
  app.add_option("--blocks", cfg.blocks, "Residual blocks (the baseline has 2 hidden layers per block)");
  app.add_option("--dropout", cfg.dropout, "Dropout probability in the residual blocks")->check(CLI::Range(0.0, 1.0));
  app.add_option("--lr", cfg.lr, "AdamW's learning rate (annealed along a cosine)")->check(CLI::PositiveNumber);
  app.add_option("--weight-decay", cfg.weight_decay, "AdamW's decay of the Linear weights");
  app.add_option("--label-smoothing", cfg.label_smoothing, "cross_entropy's label_smoothing")->check(CLI::Range(0.0, 1.0));
  app.add_option("--clip", cfg.clip, "clip_grad_norm_'s max_norm (0: no clipping)");
  app.add_option("--test-fraction", cfg.test_fraction, "Fraction of the days held out for testing");
  app.add_option("--seed", cfg.seed, "Seed of the split, the weights, the dropout and the shuffling");
  app.add_option("--threads", cfg.threads, "Threads to compute on (0: OPENBLAS_NUM_THREADS, else one per core)");
  app.add_option("--save", cfg.save, "Save the residual model (parameters and buffers) to this .npz");
  app.add_option("--min-test-accuracy", cfg.min_test_accuracy,
                 "Exit with status 1 if a model's final test accuracy is lower (used by ctest)");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(cfg);
  } catch (const tg::Error& e) {
    std::cerr << "residual_mlp: " << e.what() << "\n";
    return 1;
  }
}
