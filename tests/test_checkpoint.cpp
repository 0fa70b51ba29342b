#include "tapegrad/io/checkpoint.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <functional>
#include <unistd.h>

#include "io_test_util.hpp"
#include "tapegrad/io/file.hpp"
#include "tapegrad/io/npy.hpp"
#include "tapegrad/io/npz.hpp"
#include "tapegrad/losses.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/optim/adam.hpp"

using namespace tapegrad;
using tg_test::TempDir;

namespace {

std::vector<Array<float>> values(const nn::Module<float>& m) {
  std::vector<Array<float>> out;
  for (const auto& p : m.parameters()) out.push_back(p.value());
  return out;
}

// A few Adam steps of a classifier on fixed random data.
void train(nn::MLP<float>& net, optim::Optimizer<float>& opt, int steps) {
  Rng rng(99);
  const Array<float> x = rng.normal<float>({16, 4});
  std::vector<std::int64_t> y;
  for (std::int64_t i = 0; i < 16; ++i) y.push_back(i % 3);
  Tape<float> tape;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    tape.backward(softmax_cross_entropy(net.forward(tape.constant(x)), y));
    opt.step();
  }
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ValueError";
  return "";
}

}  // namespace

TEST(Checkpoint, SavesParametersByNameAndLoadsThemBack) {
  TempDir dir;
  Rng r1(1), r2(2);
  nn::MLP<float> a({4, 8, 3}, r1), b({4, 8, 3}, r2);
  save(a, dir / "a.npz");
  const auto file = io::read_npz<float>(dir / "a.npz");
  ASSERT_EQ(file.size(), 4u);
  EXPECT_EQ(file[0].first, "layers.0.weight");
  EXPECT_EQ(file[0].second.shape(), (Shape{4, 8}));
  EXPECT_EQ(file[3].first, "layers.1.bias");
  EXPECT_NE(values(a), values(b));
  load(b, dir / "a.npz");
  EXPECT_EQ(values(a), values(b));
  // Loading writes into the parameters' existing buffers.
  const float* storage = b.layer(0).weight().value().data();
  load(b, dir / "a.npz");
  EXPECT_EQ(b.layer(0).weight().value().data(), storage);
  // A float checkpoint loads into a double model.
  Rng r3(3);
  nn::MLP<double> d({4, 8, 3}, r3);
  load(d, dir / "a.npz");
  EXPECT_EQ(d.layer(1).bias().value(), Array<double>(xt::cast<double>(a.layer(1).bias().value())));
}

TEST(Checkpoint, ResumesTrainingExactlyWithOptimizerState) {
  TempDir dir;
  Rng r1(5), r2(6);
  nn::MLP<float> a({4, 8, 3}, r1), b({4, 8, 3}, r2);
  optim::Adam<float> opt_a(a.parameters(), optim::AdamOptions(0.01));
  optim::Adam<float> opt_b(b.parameters(), optim::AdamOptions(0.01));
  train(a, opt_a, 5);
  save(a, opt_a, dir / "train.npz");
  const auto file = io::read_npz<float>(dir / "train.npz");
  EXPECT_EQ(file[4].first, "optimizer.step");
  load(b, opt_b, dir / "train.npz");
  EXPECT_EQ(opt_b.step_count(), 5u);
  train(a, opt_a, 3);
  train(b, opt_b, 3);
  EXPECT_EQ(values(a), values(b));  // bit-identical: the moments were restored too
  // The module alone loads from a training checkpoint (optimizer entries are ignored).
  Rng r3(7);
  nn::MLP<float> c({4, 8, 3}, r3);
  load(c, dir / "train.npz");
}

TEST(Checkpoint, ParameterGroupsAndTheirRatesRoundTrip) {
  TempDir dir;
  Rng r1(5), r2(6);
  nn::MLP<float> a({4, 8, 3}, r1), b({4, 8, 3}, r2);
  using Group = optim::AdamW<float>::Group;
  const auto opts = optim::AdamWOptions(0.01).weight_decay(0.1);
  optim::AdamW<float> opt_a({Group({a.layer(0).weight(), a.layer(1).weight()}),
                             Group({a.layer(0).bias(), a.layer(1).bias()}, optim::AdamWOptions(0.02).weight_decay(0))},
                            opts);
  optim::AdamW<float> opt_b({Group({b.layer(0).weight(), b.layer(1).weight()}),
                             Group({b.layer(0).bias(), b.layer(1).bias()})},
                            optim::AdamWOptions(0.5).weight_decay(0.3));
  train(a, opt_a, 4);
  opt_a.set_learning_rate(0, 0.005);  // as a schedule would
  save(a, opt_a, dir / "train.npz");
  // NumPy sees the groups: positions and hyperparameters, float64 whatever T is.
  const auto file = io::read_npz<double>(dir / "train.npz");
  bool found = false;
  for (const auto& [name, v] : file) {
    if (name == "optimizer.param_groups.1.lr") found = v() == 0.02;
  }
  EXPECT_TRUE(found);
  load(b, opt_b, dir / "train.npz");
  EXPECT_EQ(opt_b.learning_rate(0), 0.005);
  EXPECT_EQ(opt_b.learning_rate(1), 0.02);
  EXPECT_EQ(opt_b.group_options(0).weight_decay(), 0.1);
  EXPECT_EQ(opt_b.group_options(1).weight_decay(), 0.0);
  train(a, opt_a, 3);
  train(b, opt_b, 3);
  EXPECT_EQ(values(a), values(b));
  // Other groups: reported with the module's problems, nothing changed.
  Rng r3(7);
  nn::MLP<float> c({4, 8, 3}, r3);
  optim::AdamW<float> one(c.parameters(), opts);
  const auto before = values(c);
  EXPECT_NE(message_of([&] { load(c, one, dir / "train.npz"); }).find("optimizer: the state has 2 parameter groups"),
            std::string::npos);
  EXPECT_EQ(values(c), before);
}

TEST(Checkpoint, ReportsEveryMismatchAndChangesNothing) {
  TempDir dir;
  Rng r1(1), r2(2), r3(3);
  nn::MLP<float> saved({4, 8, 3, 2}, r1);
  save(saved, dir / "big.npz");
  nn::MLP<float> other({4, 6, 3}, r2);
  const auto before = values(other);
  const std::string msg = message_of([&] { load(other, dir / "big.npz"); });
  EXPECT_NE(msg.find(dir / "big.npz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5 problems"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'layers.0.weight' has shape (4, 8), the module's is (4, 6)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'layers.0.bias' has shape (1, 8), the module's is (1, 6)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'layers.1.weight' has shape (8, 3), the module's is (6, 3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected 'layers.2.weight' (3, 2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected 'layers.2.bias' (1, 2)"), std::string::npos) << msg;
  EXPECT_EQ(values(other), before);

  nn::MLP<float> deeper({4, 8, 3, 2, 2}, r3);
  const std::string missing = message_of([&] { load(deeper, dir / "big.npz"); });
  EXPECT_NE(missing.find("missing 'layers.3.weight' (2, 2)"), std::string::npos) << missing;
  EXPECT_NE(missing.find("missing 'layers.3.bias' (1, 2)"), std::string::npos) << missing;
}

TEST(Checkpoint, ModuleAndOptimizerProblemsAreReportedTogether) {
  TempDir dir;
  Rng r1(1), r2(2);
  nn::MLP<float> a({4, 8, 3}, r1);
  optim::Adam<float> opt_a(a.parameters(), optim::AdamOptions(0.01));
  train(a, opt_a, 2);
  save(a, opt_a, dir / "a.npz");
  nn::MLP<float> b({4, 5, 3}, r2);
  optim::Adam<float> opt_b(b.parameters(), optim::AdamOptions(0.01));
  train(b, opt_b, 1);
  const auto before = values(b);
  const auto state_before = opt_b.state_dict();
  const std::string msg = message_of([&] { load(b, opt_b, dir / "a.npz"); });
  EXPECT_NE(msg.find("'layers.0.weight' has shape (4, 8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("optimizer: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("exp_avg.0"), std::string::npos) << msg;
  EXPECT_EQ(values(b), before);
  const auto state_after = opt_b.state_dict();
  EXPECT_EQ(state_after.step, state_before.step);
  ASSERT_EQ(state_after.buffers.size(), state_before.buffers.size());
  for (std::size_t k = 0; k < state_after.buffers.size(); ++k) {
    EXPECT_EQ(state_after.buffers[k].second, state_before.buffers[k].second);
  }

  // The module matches but the optimizer's state does not (another kind of optimizer's
  // checkpoint, here: a module-only one): the module is left unchanged as well.
  nn::MLP<float> c({4, 8, 3}, r2);
  optim::Adam<float> opt_c(c.parameters(), optim::AdamOptions(0.01));
  save(a, dir / "module-only.npz");
  const auto c_before = values(c);
  const std::string opt_msg = message_of([&] { load(c, opt_c, dir / "module-only.npz"); });
  EXPECT_NE(opt_msg.find("missing 'step'"), std::string::npos) << opt_msg;
  EXPECT_EQ(values(c), c_before);
}

TEST(Checkpoint, StepCountIsAnExactInt64) {
  // A float step count rounded 16777217 (2^24 + 1) to 16777216 on a round trip, and a failed load
  // (which put back a copy through that float) changed it too.
  TempDir dir;
  Rng r1(1), r2(2);
  nn::MLP<float> a({4, 8, 3}, r1), b({4, 8, 3}, r2);
  optim::Adam<float> opt_a(a.parameters(), optim::AdamOptions(0.01));
  optim::Adam<float> opt_b(b.parameters(), optim::AdamOptions(0.01));
  const std::uint64_t big = (std::uint64_t(1) << 24) + 1;
  opt_a.load_state_dict({big, opt_a.state_dict().buffers});
  save(a, opt_a, dir / "a.npz");
  load(b, opt_b, dir / "a.npz");
  EXPECT_EQ(opt_b.step_count(), big);
  // NumPy sees an int64 0-d array.
  ASSERT_EQ(tg_test::run_python(dir.path(), "import numpy as np, sys\n"
                                            "s = np.load('" + dir / "a.npz" + "')['optimizer.step']\n"
                                            "sys.exit(0 if s.dtype == np.int64 and s.shape == () and s == 16777217 else 1)\n"),
            0);
  // A failed load (the module does not match) leaves the count exactly as it was.
  Rng r3(3);
  nn::MLP<float> other({4, 5, 3}, r3);
  save(other, dir / "other.npz");
  EXPECT_NE(message_of([&] { load(b, opt_b, dir / "other.npz"); }).find("nothing was changed"), std::string::npos);
  EXPECT_EQ(opt_b.step_count(), big);
}

TEST(Checkpoint, OlderCheckpointsWithAFloatStepStillLoad) {
  // Checkpoints written before the step count was an int64 hold it as a float (f4 for a float
  // model): an exact integer loads; anything else is listed with the other problems.
  TempDir dir;
  Rng r1(1), r2(2);
  nn::MLP<float> a({4, 8, 3}, r1), b({4, 8, 3}, r2);
  optim::Adam<float> opt_a(a.parameters(), optim::AdamOptions(0.01));
  optim::Adam<float> opt_b(b.parameters(), optim::AdamOptions(0.01));
  train(a, opt_a, 3);
  auto old_format = [&](float step) {
    StateDict<float> all = state_dict(a);
    all.emplace_back("optimizer.step", Array<float>(step));
    for (auto& [name, x] : opt_a.state_dict().buffers) all.emplace_back("optimizer." + name, x);
    io::write_npz(dir / "old.npz", all);
  };
  old_format(3.f);
  load(b, opt_b, dir / "old.npz");
  EXPECT_EQ(opt_b.step_count(), 3u);
  EXPECT_EQ(values(a), values(b));
  train(a, opt_a, 2);
  train(b, opt_b, 2);
  EXPECT_EQ(values(a), values(b));

  const auto before = values(b);
  old_format(1e30f);
  const std::string msg = message_of([&] { load(b, opt_b, dir / "old.npz"); });
  EXPECT_NE(msg.find("optimizer: 'step' must be a non-negative integer below 2^63, got 1e+30"),
            std::string::npos)
      << msg;
  EXPECT_EQ(opt_b.step_count(), 5u);
  EXPECT_EQ(values(b), before);
}

TEST(Checkpoint, ACrashWhileSavingLeavesThePreviousCheckpoint) {
  TempDir dir;
  Rng r1(1);
  nn::MLP<float> a({4, 8, 3}, r1);
  save(a, dir / "model.npz");
  const std::string before = tg_test::read_bytes(dir / "model.npz");
  // A child process starts writing a new checkpoint and dies half-way (no destructor runs).
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    io::AtomicFile out(dir / "model.npz");
    out.write(std::string(1 << 20, 'x'));
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(tg_test::read_bytes(dir / "model.npz"), before);
  Rng r2(2);
  nn::MLP<float> b({4, 8, 3}, r2);
  load(b, dir / "model.npz");
  EXPECT_EQ(values(a), values(b));
  // An exception while writing removes the temporary file too.
  try {
    io::AtomicFile out(dir / "model.npz");
    out.write(std::string(100, 'x'));
    throw std::runtime_error("disk on fire");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(tg_test::read_bytes(dir / "model.npz"), before);
  // Only the crashed child's temporary file remains besides the checkpoint.
  EXPECT_EQ(dir.files().size(), 2u);
  // Saving into a missing directory is an IoError naming the path.
  EXPECT_THROW(save(a, dir / "no/such/dir/model.npz"), IoError);
}

TEST(Checkpoint, NumpyAndPyTorchLayoutRoundTrip) {
  TempDir dir;
  Rng rng(11);
  nn::MLP<float> model({6, 5, 4, 3}, rng);
  const Array<float> x = rng.normal<float>({7, 6});
  Array<float> y;
  {
    Tape<float> tape;
    NoGradGuard no_grad;
    y = model.forward(tape.constant(x)).value();
  }
  save(model, dir / "model.npz");
  io::write_npy(dir / "x.npy", x);
  io::write_npy(dir / "y.npy", y);
  // numpy computes the same forward pass from the checkpoint, once in tapegrad's layout and once
  // through docs/checkpoint_to_pytorch.py's conversion to torch.nn.Linear's layout; then it
  // writes a modified checkpoint for C++ to load.
  const std::string script =
      "import sys, importlib.util, numpy as np\n"
      "spec = importlib.util.spec_from_file_location('conv', '" TAPEGRAD_SOURCE_DIR "/docs/checkpoint_to_pytorch.py')\n"
      "conv = importlib.util.module_from_spec(spec); spec.loader.exec_module(conv)\n"
      "d = '" + dir.path() + "'\n"
      "ck = np.load(d + '/model.npz')\n"
      "x, y = np.load(d + '/x.npy'), np.load(d + '/y.npy')\n"
      "h = x\n"
      "for i in range(3):\n"
      "    h = h @ ck[f'layers.{i}.weight'] + ck[f'layers.{i}.bias']\n"
      "    if i < 2: h = np.maximum(h, 0)\n"
      "assert np.allclose(h, y, rtol=1e-5, atol=1e-6), (h, y)\n"
      "t = conv.torch_state_dict_arrays(d + '/model.npz')\n"
      "assert sorted(t) == ['0.bias', '0.weight', '2.bias', '2.weight', '4.bias', '4.weight'], sorted(t)\n"
      "assert t['0.weight'].shape == (5, 6) and t['0.bias'].shape == (5,) and t['4.weight'].shape == (3, 4)\n"
      "h = x\n"
      "for k in [0, 2, 4]:\n"
      "    h = h @ t[f'{k}.weight'].T + t[f'{k}.bias']\n"
      "    if k < 4: h = np.maximum(h, 0)\n"
      "assert np.allclose(h, y, rtol=1e-5, atol=1e-6)\n"
      "np.savez_compressed(d + '/edited.npz', **{k: ck[k] * 2 for k in ck.files})\n";
  ASSERT_EQ(tg_test::run_python(dir.path(), script), 0);
  const auto old = values(model);
  load(model, dir / "edited.npz");
  const auto now = values(model);
  for (std::size_t i = 0; i < old.size(); ++i) EXPECT_EQ(now[i], old[i] * 2.f);
}
