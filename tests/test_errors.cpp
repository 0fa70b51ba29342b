// Every bad input of docs/errors.md: the kind of error, the key words of its message, and that
// nothing changed (parameters, their gradients, the tape). Numbered as in docs/errors.md.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <string>
#include <typeinfo>
#include <vector>

#include "bomb_util.hpp"
#include "io_test_util.hpp"  // replaces operator new: FailAllocationsAbove
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/data/standardizer.hpp"
#include "tapegrad/io/csv.hpp"
#include "tapegrad/io/idx.hpp"
#include "tapegrad/io/npy.hpp"
#include "tapegrad/io/npz.hpp"
#include "tapegrad/tapegrad.hpp"

namespace tg = tapegrad;
using tg::Array;
using tg::Parameter;
using tg::Var;

namespace {

// A scratch directory for one test, removed with its files at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tapegrad-errors-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    for (const auto& f : files_) std::remove(f.c_str());
    rmdir(path_.c_str());
  }
  std::string file(const std::string& name) {
    files_.push_back(path_ + "/" + name);
    return files_.back();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A valid .npy header (format 1.0) for a float32 array of `shape_text` ("(3,)"), without data.
std::string npy_header(const std::string& shape_text) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string h = "\x93NUMPY";
  h += char(1);
  h += char(0);
  h += char(dict.size() & 0xff);
  h += char(dict.size() >> 8);
  return h + dict;
}

// What "nothing changed" compares: parameter values and gradients, and the tape's entries.
struct Snapshot {
  std::vector<Array<double>> values, grads;
  std::vector<bool> has_grad;
  std::size_t tape_size = 0;
  std::uint64_t generation = 0;
  std::size_t bytes = 0;
  bool compare_bytes = true;

  Snapshot(const std::vector<Parameter<double>>& params, const tg::Tape<double>& tape)
      : tape_size(tape.size()), generation(tape.generation()), bytes(tape.bytes_in_use()) {
    for (const auto& p : params) {
      values.push_back(p.value());
      has_grad.push_back(p.has_grad());
      grads.push_back(p.has_grad() ? p.grad() : Array<double>());
    }
  }
  bool operator==(const Snapshot& o) const {
    return values == o.values && grads == o.grads && has_grad == o.has_grad && tape_size == o.tape_size &&
           generation == o.generation && (bytes == o.bytes || !compare_bytes);
  }
};

class Errors : public ::testing::Test {
 protected:
  // Runs f, which must throw exactly Kind with every word of `words` in its message, and leave the
  // parameters and the tape as they were.
  template <class Kind, class F>
  void expect(F&& f, std::initializer_list<std::string> words) {
    Snapshot before(params, tape);
    before.compare_bytes = compare_bytes;
    std::string msg;
    bool thrown = false;
    try {
      f();
    } catch (const tg::Error& e) {
      thrown = true;
      msg = e.what();
      EXPECT_EQ(typeid(e), typeid(Kind)) << "wrong kind of error, message: " << msg;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw a non-tapegrad exception: " << e.what();
      return;
    }
    ASSERT_TRUE(thrown) << "no error thrown";
    // TAPEGRAD_PRINT_ERRORS=1 lists every message, to regenerate the table of docs/errors.md.
    if (std::getenv("TAPEGRAD_PRINT_ERRORS")) {
      std::printf("%s\t%s\t%s\n", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                  typeid(Kind).name(), msg.c_str());
    }
    for (const auto& w : words) EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' missing in: " << msg;
    EXPECT_TRUE(before == Snapshot(params, tape)) << "state changed by a failing call: " << msg;
  }

  bool compare_bytes = true;  // false where a failed backward may leave gradient buffers on the tape
  tg::Tape<double> tape;
  Parameter<double> w{Array<double>{{1, 2, 3}, {4, 5, 6}}};  // (2, 3)
  Parameter<double> b{Array<double>{{0.5, 0.5, 0.5}}};      // (1, 3)
  std::vector<Parameter<double>> params{w, b};
  Var<double> x = tape.constant(Array<double>{{1, 2}, {3, 4}, {5, 6}, {7, 8}});  // (4, 2)
};

}  // namespace

// ---- 1-12: shape mismatches name the op and both shapes -----------------------------------------

TEST_F(Errors, E01_MatmulInnerDimensions) {
  auto a = tape.constant(Array<double>::from_shape({4, 3}));
  expect<tg::ShapeError>([&] { tg::matmul(a, w); }, {"matmul", "(4, 3)", "(2, 3)", "inner dimensions"});
}

TEST_F(Errors, E02_Matmul0D) {
  auto s = tape.constant(Array<double>(2.0));
  expect<tg::ShapeError>([&] { tg::matmul(s, w); }, {"matmul", "()", "(2, 3)", "at least 1 dim"});
}

TEST_F(Errors, E03_LinearFeatures) {
  auto a = tape.constant(Array<double>::from_shape({4, 5}));
  expect<tg::ShapeError>([&] { tg::linear(a, w, b); }, {"linear", "(4, 5)", "(2, 3)", "(in, out)"});
}

TEST_F(Errors, E04_LinearBias) {
  Parameter<double> bad(Array<double>{1.0, 2.0});
  params.push_back(bad);
  expect<tg::ShapeError>([&] { tg::linear(x, w, bad); }, {"linear", "bias", "(2,)", "(2, 3)"});
}

TEST_F(Errors, E05_AddBroadcast) {
  auto a = tape.constant(Array<double>::from_shape({4, 3}));
  expect<tg::ShapeError>([&] { tg::add(x, a); }, {"add", "(4, 2)", "(4, 3)", "broadcast"});
}

TEST_F(Errors, E06_SubBroadcast) {
  auto a = tape.constant(Array<double>::from_shape({3, 2}));
  expect<tg::ShapeError>([&] { x - a; }, {"sub", "(4, 2)", "(3, 2)"});
}

TEST_F(Errors, E07_MulBroadcast) {
  expect<tg::ShapeError>([&] { tg::mul(x, Var<double>(w)); }, {"mul", "(4, 2)", "(2, 3)"});
}

TEST_F(Errors, E08_DivBroadcast) {
  auto a = tape.constant(Array<double>{1, 2, 3});
  expect<tg::ShapeError>([&] { x / a; }, {"div", "(4, 2)", "(3,)"});
}

TEST_F(Errors, E09_BceShapes) {
  auto p = tape.constant(Array<double>::from_shape({4, 1}));
  expect<tg::ShapeError>([&] { tg::bce(p, x); }, {"binary_cross_entropy", "(4, 1)", "(4, 2)"});
}

TEST_F(Errors, E10_BceWithLogitsShapes) {
  auto y = tape.constant(Array<double>::from_shape({4}));
  expect<tg::ShapeError>([&] { tg::bce_with_logits(x, y); }, {"binary_cross_entropy_with_logits", "(4, 2)", "(4,)"});
}

TEST_F(Errors, E11_MseShapes) {
  auto y = tape.constant(Array<double>::from_shape({2, 4}));
  expect<tg::ShapeError>([&] { tg::mse(x, y); }, {"mse", "(4, 2)", "(2, 4)"});
}

TEST_F(Errors, E12_ReductionAxisOutOfRange) {
  expect<tg::ShapeError>([&] { tg::sum(x, 2); }, {"sum", "dim 2", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::mean(x, -3); }, {"mean", "dim -3", "(4, 2)"});
}

// ---- 13-18: bad values -----------------------------------------------------------------------------

TEST_F(Errors, E13_BceProbabilityOutOfRange) {
  auto p = tape.constant(Array<double>{0.5, 1.5});
  auto y = tape.constant(Array<double>{0.0, 1.0});
  expect<tg::ValueError>([&] { tg::bce(p, y); }, {"binary_cross_entropy", "[0, 1]", "element 1", "1.5", "binary_cross_entropy_with_logits"});
}

TEST_F(Errors, E14_BceNaNPrediction) {
  auto p = tape.constant(Array<double>{0.5, std::nan("")});
  auto y = tape.constant(Array<double>{0.0, 1.0});
  expect<tg::ValueError>([&] { tg::bce(p, y); }, {"binary_cross_entropy", "element 1", "nan"});
}

TEST_F(Errors, E15_EmptyBatch) {
  auto e = tape.constant(Array<double>::from_shape({0, 1}));
  expect<tg::ValueError>([&] { tg::bce_with_logits(e, e); }, {"binary_cross_entropy_with_logits", "empty", "(0, 1)"});
  expect<tg::ValueError>([&] { tg::mse(e, e); }, {"mse", "empty"});
  expect<tg::ValueError>([&] { tg::mean(e); }, {"mean", "empty", "(0, 1)"});
  expect<tg::ValueError>([&] { tg::mean(e, 0); }, {"mean", "extent 0", "(0, 1)"});
}

TEST_F(Errors, E16_DivisionByScalarZero) {
  expect<tg::ValueError>([&] { x / 0.0; }, {"div", "(4, 2)", "scalar 0"});
}

TEST_F(Errors, E17_ItemOfNonScalar) {
  expect<tg::ValueError>([&] { x.item(); }, {"item", "(4, 2)", "one element"});
}

TEST_F(Errors, E18_OpWithoutInputs) {
  expect<tg::ValueError>(
      [&] {
        tg::Op<double> op("nothing", std::vector<Var<double>>{});
      },
      {"nothing", "at least one input"});
}

// ---- 19-30: the tape used in a state that does not allow it -------------------------------------

TEST_F(Errors, E19_BackwardOnNonScalar) {
  auto y = tg::linear(x, w, b);
  expect<tg::StateError>([&] { tape.backward(y); }, {"backward", "'linear'", "(4, 3)", "seed"});
}

TEST_F(Errors, E20_BackwardSeedShape) {
  auto y = tg::linear(x, w, b);
  expect<tg::ShapeError>([&] { tape.backward(y, Array<double>::from_shape({3, 4})); },
                         {"backward", "seed", "(3, 4)", "(4, 3)"});
}

TEST_F(Errors, E21_SecondBackwardWithoutKeepGraph) {
  auto loss = tg::sum(tg::linear(x, w, b));
  tape.backward(loss);
  expect<tg::StateError>([&] { tape.backward(loss); }, {"backward", "freed by backward()", "keep_graph"});
}

TEST_F(Errors, E22_HandleFromClearedTape) {
  auto y = tg::relu(x);
  tape.clear();
  x = tape.constant(Array<double>{{1, 2}});
  expect<tg::StateError>([&] { y.value(); }, {"cleared tape", "generation"});
  expect<tg::StateError>([&] { tg::add(x, y); }, {"add", "cleared tape"});
}

TEST_F(Errors, E23_GradOfNonLeaf) {
  auto y = tg::linear(x, w, b);
  expect<tg::StateError>([&] { y.grad(); }, {"grad", "'linear'", "not a leaf"});
}

TEST_F(Errors, E24_BackwardOfConstant) {
  auto y = tg::sum(x);
  expect<tg::StateError>([&] { tape.backward(y); }, {"backward", "'sum'", "does not depend on any parameter"});
}

TEST_F(Errors, E25_BackwardOnUnboundParameter) {
  expect<tg::StateError>([&] { w.backward(); }, {"backward", "parameter", "nothing to differentiate"});
}

TEST_F(Errors, E26_InputsOnTwoTapes) {
  tg::Tape<double> other;
  auto z = other.constant(Array<double>{{1, 2}, {3, 4}, {5, 6}, {7, 8}});
  expect<tg::StateError>([&] { tg::add(x, z); }, {"add", "another tape"});
  EXPECT_EQ(other.size(), 1u);
}

TEST_F(Errors, E27_UndefinedVar) {
  Var<double> undefined;
  expect<tg::StateError>([&] { tg::add(x, undefined); }, {"add", "undefined Var"});
}

TEST_F(Errors, E28_UndefinedParameter) {
  Parameter<double> undefined;
  expect<tg::StateError>([&] { undefined.value(); }, {"Parameter", "undefined"});
}

TEST_F(Errors, E29_OpOnParametersOnly) {
  expect<tg::StateError>([&] { tg::mul(Var<double>(w), Var<double>(w)); }, {"mul", "no input is on a tape", "tape.bind"});
}

TEST_F(Errors, E30_TapeIndexOutOfRange) {
  expect<tg::ValueError>([&] { tape.op_name(7); }, {"op_name", "7", "size 1"});
}

TEST_F(Errors, E31_CustomBackwardWrongGradientShape) {
  // A bug in a user-defined op's backward rule is an InternalError naming the op and both shapes.
  Parameter<double> p(Array<double>{1.0, 2.0});
  auto v = tape.bind(p);
  Var<double> y;
  {
    tg::Op<double> op("my_op", {v});
    op.output(v.shape()) = v.value();
    y = op.finish([](tg::Backward<double>& g) { g.accumulate(0, Array<double>{1.0, 2.0, 3.0}); });
  }
  auto loss = tg::sum(y);
  params.push_back(p);
  compare_bytes = false;  // the tape is kept, with the output gradients computed so far
  expect<tg::InternalError>([&] { tape.backward(loss); }, {"backward of 'my_op'", "(3,)", "(2,)"});
}

// ---- 32-40: modules, optimizers, utilities ---------------------------------------------------------

TEST_F(Errors, E32_LearningRateNotPositive) {
  expect<tg::ValueError>([&] { tg::optim::SGD<double> opt(params, 0.0); }, {"SGD", "lr", "positive", "0"});
  expect<tg::ValueError>([&] { tg::optim::SGD<double> opt(params, -0.1); }, {"SGD", "-0.1"});
  expect<tg::ValueError>([&] { tg::optim::SGD<double> opt(params, std::nan("")); }, {"SGD", "nan"});
}

TEST_F(Errors, E33_SetLearningRateKeepsTheOldOne) {
  tg::optim::SGD<double> opt(params, 0.1);
  expect<tg::ValueError>([&] { opt.set_learning_rate(-1); }, {"SGD", "lr", "-1"});
  EXPECT_EQ(opt.learning_rate(), 0.1);
}

TEST_F(Errors, E34_LinearZeroFeatures) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::Linear<double> l(tg::nn::LinearOptions(0, 3), rng); },
                         {"Linear", "positive", "(0, 3)"});
}

TEST_F(Errors, E35_MlpTooFewSizes) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::MLP<double> m({4}, rng); }, {"MLP", "two layer sizes", "got 1"});
}

TEST_F(Errors, E36_BiasOfALayerWithout) {
  tg::Rng rng(0);
  tg::nn::Linear<double> l(tg::nn::LinearOptions(2, 3).bias(false), rng);
  expect<tg::ValueError>([&] { l.bias(); }, {"no parameter named 'bias'"});
}

TEST_F(Errors, E37_ModuleCycle) {
  auto a = std::make_shared<tg::nn::Sequential<double>>();
  auto b = std::make_shared<tg::nn::Sequential<double>>();
  a->push_back(b);
  expect<tg::ValueError>([&] { b->push_back(a); }, {"Module", "cycle"});
  EXPECT_EQ(b->size(), 0u);
  expect<tg::ValueError>([&] { a->push_back(a); }, {"Module", "cycle"});
}

TEST_F(Errors, E38_RngEmptyRange) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { rng.uniform<double>({2}, 1.0, 1.0); }, {"uniform", "empty range"});
  expect<tg::ValueError>([&] { rng.below(0); }, {"below", "positive"});
}

TEST_F(Errors, E39_GradcheckFlags) {
  expect<tg::ValueError>(
      [&] {
        tg::GradcheckOptions o;
        o.requires_grad({true});
        tg::gradcheck([](const std::vector<Var<double>>& v) { return tg::add(v[0], v[1]); },
                      {Array<double>{1.0}, Array<double>{2.0}}, o);
      },
      {"gradcheck", "1 flags", "2 inputs"});
}

TEST_F(Errors, E40_OptimizerStepAfterParameterReshaped) {
  // The gradient (and optimizer state) no longer match the value: a step would read past the
  // gradient's end. It throws before updating any parameter.
  tg::optim::SGD<double> opt(params, tg::optim::SGDOptions(0.1).momentum(0.9));
  auto loss = tg::sum(tg::linear(x, w, b));
  tape.backward(loss);
  Parameter<double> w2 = w;
  w2.mutable_value() = Array<double>::from_shape({4, 3});
  w2.mutable_value().fill(1.0);
  expect<tg::ShapeError>([&] { opt.step(); }, {"SGD", "parameter 0", "(4, 3)", "(2, 3)"});
  EXPECT_EQ(opt.step_count(), 0u);
}

TEST_F(Errors, E41_OptimizerDuplicateParameter) {
  expect<tg::ValueError>([&] { tg::optim::SGD<double> opt({w, w}, 0.1); }, {"SGD", "same parameter"});
}

TEST_F(Errors, E42_AnomalyMode) {
  tg::AnomalyGuard anomaly;
  auto z = tape.constant(Array<double>{0.0, 1.0});
  expect<tg::AnomalyError>([&] { tg::log(z); }, {"anomaly", "'log'", "-inf", "(2,)"});
}

// ---- 43-60: files, checkpoints, data. Reading never changes a file; a failed write leaves the
// destination as it was. ----------------------------------------------------------------------------

class FileErrors : public Errors {
 protected:
  // As expect(), and every file of `files` is byte-for-byte as before (or still absent).
  template <class Kind, class F>
  void expect_files(F&& f, std::initializer_list<std::string> words, const std::vector<std::string>& files) {
    std::vector<std::string> before;
    std::vector<bool> existed;
    for (const auto& p : files) {
      existed.push_back(access(p.c_str(), F_OK) == 0);
      before.push_back(read_bytes(p));
    }
    expect<Kind>(std::forward<F>(f), words);
    for (std::size_t i = 0; i < files.size(); ++i) {
      EXPECT_EQ(access(files[i].c_str(), F_OK) == 0, bool(existed[i])) << files[i];
      EXPECT_EQ(read_bytes(files[i]), before[i]) << files[i] << " changed";
    }
    // No temporary file left behind in the directory.
    std::size_t n = 0;
    if (FILE* ls = popen(("ls -A " + dir.path() + " | wc -l").c_str(), "r")) {
      if (std::fscanf(ls, "%zu", &n) != 1) n = 0;
      pclose(ls);
    }
    std::size_t present = 0;
    for (const auto& p : files) present += access(p.c_str(), F_OK) == 0;
    EXPECT_EQ(n, present) << "stray files in " << dir.path();
  }
  TempDir dir;
};

TEST_F(FileErrors, E43_MissingFile) {
  const auto path = dir.file("missing.npy");
  expect_files<tg::IoError>([&] { tg::io::read_npy<float>(path); }, {path, "cannot open", "No such file"}, {path});
}

TEST_F(FileErrors, E44_DirectoryInsteadOfFile) {
  expect_files<tg::IoError>([&] { tg::io::read_npy<float>(dir.path()); }, {dir.path(), "not a regular file"}, {});
}

TEST_F(FileErrors, E45_NpyTruncated) {
  const auto path = dir.file("t.npy");
  write_bytes(path, npy_header("(4,)") + std::string(10, '\0'));  // 16 bytes announced, 10 present
  expect_files<tg::IoError>([&] { tg::io::read_npy<float>(path); }, {path, "truncated", "(4,)"}, {path});
}

TEST_F(FileErrors, E46_NpyHeaderClaimsEnormousSize) {
  // 10^12 float32 = 4 TB announced by a 64-byte file: rejected before any allocation.
  const auto path = dir.file("bomb.npy");
  write_bytes(path, npy_header("(1000000, 1000000)"));
  expect_files<tg::IoError>([&] { tg::io::read_npy<float>(path); }, {path, "(1000000, 1000000)"}, {path});
  write_bytes(path, npy_header("(4294967296, 4294967296, 4294967296)"));  // numel overflows 64 bits
  expect_files<tg::IoError>([&] { tg::io::read_npy<double>(path); }, {path, "too large"}, {path});
}

TEST_F(FileErrors, E47_NpyCorruptMagic) {
  const auto path = dir.file("bad.npy");
  write_bytes(path, "PK\x03\x04 this is not an npy file");
  expect_files<tg::IoError>([&] { tg::io::read_npy<float>(path); }, {path}, {path});
}

TEST_F(FileErrors, E48_NpyMalformedHeader) {
  const auto path = dir.file("hdr.npy");
  std::string h = npy_header("(2,)");
  h.replace(h.find("'<f4'"), 5, "'<c8'");  // complex64: not a supported dtype
  write_bytes(path, h + std::string(16, '\0'));
  expect_files<tg::IoError>([&] { tg::io::read_npy<float>(path); }, {path, "<c8"}, {path});
}

TEST_F(FileErrors, E49_NpzCorrupt) {
  const auto path = dir.file("bad.npz");
  write_bytes(path, std::string(200, 'x'));
  expect_files<tg::IoError>([&] { tg::io::read_npz<float>(path); }, {path, "not a readable .npz"}, {path});
}

TEST_F(FileErrors, E50_NpzTruncated) {
  const auto path = dir.file("t.npz");
  tg::io::write_npz<float>(path, {{"w", Array<float>::from_shape({64, 64})}});
  const std::string full = read_bytes(path);
  write_bytes(path, full.substr(0, full.size() / 2));
  expect_files<tg::IoError>([&] { tg::io::read_npz<float>(path); }, {path}, {path});
}

TEST_F(FileErrors, E51_IdxTruncatedAndEnormous) {
  const auto path = dir.file("t.idx");
  // magic 0x00000803 (u8, rank 3), dims 60000 x 28 x 28, and only 10 data bytes
  std::string h("\0\0\x08\x03", 4);
  for (unsigned d : {60000u, 28u, 28u}) {
    for (int k = 3; k >= 0; --k) h += char((d >> (8 * k)) & 0xff);
  }
  write_bytes(path, h + std::string(10, '\0'));
  expect_files<tg::IoError>([&] { tg::io::read_idx<float>(path); }, {path, "truncated", "(60000, 28, 28)"}, {path});
}

TEST_F(FileErrors, E52_IdxBadMagic) {
  const auto path = dir.file("m.idx");
  write_bytes(path, std::string("\x01\x02\x08\x01\0\0\0\x01\x05", 9));
  expect_files<tg::IoError>([&] { tg::io::read_idx<float>(path); }, {path, "not an IDX file"}, {path});
}

TEST_F(FileErrors, E53_CsvRaggedRow) {
  const auto path = dir.file("r.csv");
  write_bytes(path, "a,b\n1,2\n3\n");
  expect_files<tg::IoError>([&] { tg::io::read_csv<float>(path); }, {path + ":3", "1"}, {path});
}

TEST_F(FileErrors, E54_CsvNotANumber) {
  const auto path = dir.file("n.csv");
  write_bytes(path, "a,b\n1,2\n3,abc\n");
  expect_files<tg::IoError>([&] { tg::io::read_csv<double>(path); }, {path + ":3", "column 2", "'b'"}, {path});
}

TEST_F(FileErrors, E55_WriteNpzDuplicateNamesKeepsTheOldFile) {
  const auto path = dir.file("model.npz");
  tg::io::write_npz<float>(path, {{"a", Array<float>{1.f}}});
  expect_files<tg::ValueError>(
      [&] { tg::io::write_npz<float>(path, {{"w", Array<float>{1.f}}, {"w", Array<float>{2.f}}}); }, {"'w'"},
      {path});
}

TEST_F(FileErrors, E56_WriteCsvWrongShapeKeepsTheOldFile) {
  const auto path = dir.file("curves.csv");
  write_bytes(path, "epoch,loss\n1,0.5\n");
  expect_files<tg::ShapeError>([&] { tg::io::write_csv<float>(path, {"epoch", "loss"}, Array<float>{1.f, 2.f, 3.f}); },
                               {"(3,)"}, {path});
}

TEST_F(FileErrors, E57_WriteIntoMissingDirectory) {
  const std::string path = dir.path() + "/no/such/dir/x.npy";
  expect_files<tg::IoError>([&] { tg::io::write_npy<float>(path, Array<float>{1.f}); }, {path}, {});
}

TEST_F(Errors, E58_CheckpointMissingExtraAndWrongShape) {
  tg::optim::Adam<double> opt(params);
  auto loss = tg::sum(tg::linear(x, w, b));
  tape.backward(loss);
  opt.step();
  const auto good = opt.state_dict();
  auto missing = good;
  missing.buffers.erase(std::find_if(missing.buffers.begin(), missing.buffers.end(),
                                     [](const auto& e) { return e.first == "exp_avg.1"; }));
  auto extra = good;
  extra.buffers.emplace_back("momentum.0", Array<double>::from_shape({2, 3}));
  auto wrong = good;
  for (auto& [name, a] : wrong.buffers) {
    if (name == "exp_avg_sq.0") a = Array<double>::from_shape({3, 2});
  }
  expect<tg::ValueError>([&] { opt.load_state_dict(missing); }, {"Adam", "load_state_dict", "missing 'exp_avg.1'"});
  expect<tg::ValueError>([&] { opt.load_state_dict(extra); }, {"Adam", "unexpected 'momentum.0'"});
  expect<tg::ValueError>([&] { opt.load_state_dict(wrong); }, {"Adam", "'exp_avg_sq.0'", "(3, 2)", "(2, 3)"});
  const auto after = opt.state_dict();
  EXPECT_EQ(after.step, good.step);
  ASSERT_EQ(after.buffers.size(), good.buffers.size());
  for (std::size_t i = 0; i < good.buffers.size(); ++i) {
    EXPECT_EQ(after.buffers[i].second, good.buffers[i].second) << good.buffers[i].first;
  }
}

TEST_F(Errors, E59_ClassLabelOutOfRange) {
  auto logits = tg::linear(x, w, b);  // (4, 3): 3 classes
  expect<tg::ValueError>([&] { tg::softmax_cross_entropy(logits, std::vector<std::int64_t>{0, 1, 3, 2}); },
                         {"cross_entropy", "label", "3"});
  expect<tg::ShapeError>([&] { tg::softmax_cross_entropy(logits, std::vector<std::int64_t>{0, 1}); },
                         {"cross_entropy", "2 labels", "(4, 3)", "expected 4"});
}

TEST_F(Errors, E60_EmptyDatasetAndZeroBatch) {
  tg::data::TensorDataset<double> empty(Array<double>::from_shape({0, 2}), Array<double>::from_shape({0, 1}));
  tg::data::TensorDataset<double> some(Array<double>::from_shape({3, 2}), Array<double>::from_shape({3, 1}));
  expect<tg::ValueError>([&] { tg::data::DataLoader<double> l(empty, tg::data::DataLoaderOptions(4)); },
                         {"DataLoader", "empty"});
  expect<tg::ValueError>([&] { tg::data::DataLoader<double> l(some, tg::data::DataLoaderOptions(0)); },
                         {"DataLoader", "batch size"});
}

TEST_F(Errors, E61_StandardizerBeforeFit) {
  tg::data::Standardizer<double> s;
  expect<tg::StateError>([&] { s.transform(Array<double>::from_shape({2, 2})); }, {"Standardizer", "fit() first"});
}

// ---- 62 on: reliability (issue 14): sizes, memory, step counts, optimizer steps ---------------

TEST_F(Errors, E62_ShapeWhoseElementCountOverflows) {
  // 2 x (2^63 + 1) wraps around to 2 elements: a weight that size would have been 2 floats.
  const std::size_t huge = (std::size_t(1) << 63) + 1;
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::Linear<double> l(tg::nn::LinearOptions(2, huge).bias(false), rng); },
                         {"Linear", "(2, 9223372036854775809)", "too large"});
  expect<tg::ValueError>([&] { tg::nn::MLP<double> m({2, 8, huge}, rng); },
                         {"MLP: layer 1 weight", "(8, 9223372036854775809)", "too large"});
  expect<tg::ValueError>([&] { rng.normal<double>({std::size_t(1) << 32, std::size_t(1) << 32}); },
                         {"Rng::normal", "(4294967296, 4294967296)", "too large"});
  expect<tg::ValueError>([&] { rng.uniform<float>({3, std::size_t(1) << 62}); }, {"Rng::uniform", "too large"});
  expect<tg::ValueError>([&] { tg::nn::init::he_normal<float>(huge, 2, rng); }, {"init::he_normal", "too large"});
  expect<tg::ValueError>([&] { tg::dropout_mask<double>({huge, 2}, 0.5, rng); }, {"dropout_mask", "too large"});
  // Not even the generator moved: the checks come before any draw.
  tg::Rng fresh(0);
  EXPECT_EQ(rng.below(1000000), fresh.below(1000000));
}

TEST_F(FileErrors, E63_LoadOverItsMemoryLimit) {
  // Real bombs, small on disk: 310 KB that gunzip to 300 MiB of u1 pixels, 8 times as much
  // read as double: more than the default limit of 2 GiB, rejected before allocating.
  const auto idx = dir.file("bomb.idx.gz");
  write_bytes(idx, tg_test::gzip_zeros(tg_test::idx_u8_header(300u << 20), 300u << 20));
  {
    tg_test::LargestAllocation largest;
    expect_files<tg::IoError>([&] { tg::io::read_idx<double>(idx); },
                              {idx, "(314572800,)", "u1 read as double", "2516582400 bytes", "2147483648",
                               "LoadOptions::max_bytes"},
                              {idx});
    EXPECT_LT(largest.bytes(), std::size_t(1) << 20);
  }
  // 620 KB of .npz holding 600 MiB of u1, 2.4 GiB read as float; and under an explicit limit,
  // the second entry of an archive gets what the first left.
  const auto npz = dir.file("bomb.npz");
  write_bytes(npz, tg_test::npz_zeros("x", tg_test::npy_header_for("|u1", "(629145600,)"), 600u << 20));
  expect_files<tg::IoError>([&] { tg::io::read_npz<float>(npz); }, {npz, "entry 'x.npy'", "u1 read as float", "2147483648"},
                            {idx, npz});
  const auto two = dir.file("two.npz");
  tg::io::write_npz<float>(two, {{"a", Array<float>::from_shape({100})}, {"b", Array<float>::from_shape({100})}});
  expect_files<tg::IoError>(
      [&] { tg::io::read_npz<double>(two, tg::io::LoadOptions().max_bytes(1000)); },
      {two, "entry 'b.npy'", "(100,)", "f4 read as double", "needs 800 bytes", "200 bytes left", "limit of 1000"},
      {idx, npz, two});
}

TEST_F(FileErrors, E64_LoadOutOfMemory) {
  // Memory runs out (every allocation above 64 KiB fails here): an IoError naming the file.
  const auto path = dir.file("big.npy");
  tg::io::write_npy<float>(path, Array<float>(xt::zeros<float>({256, 1024})));
  expect_files<tg::IoError>(
      [&] {
        tg_test::FailAllocationsAbove fail(64 << 10);
        tg::io::read_npy<float>(path);
      },
      {path, "out of memory", "1048576 bytes", "(256, 1024)"}, {path});
}

TEST_F(FileErrors, E65_CheckpointStepNotAnInteger) {
  // A step count that is not a non-negative integer below 2^63, here in the float format of
  // older checkpoints (1e30 was once converted to an integer with undefined behaviour).
  tg::nn::Sequential<double> empty;  // no parameters: the checkpoint holds the optimizer alone
  tg::optim::Adam<double> lone(std::vector<Parameter<double>>{});
  const auto path = dir.file("ckpt.npz");
  for (const double step : {1e30, 2.5, -1.0, std::nan("")}) {
    tg::io::write_npz<double>(path, {{"optimizer.step", Array<double>(step)}});
    expect_files<tg::ValueError>([&] { tg::load(empty, lone, path); },
                                 {path, "'step' must be a non-negative integer below 2^63", "nothing was changed"},
                                 {path});
  }
  EXPECT_EQ(lone.step_count(), 0u);
}

TEST_F(Errors, E66_AnomalyInOptimizerStep) {
  // lr 1e308 overflows the weights to -inf: caught, named, and the step undone.
  auto loss = tg::sum(tg::linear(x, w, b));
  tape.backward(loss);
  tg::optim::SGD<double> opt(params, tg::optim::SGDOptions(1e308).momentum(0.5));
  tg::AnomalyGuard anomaly;
  expect<tg::AnomalyError>([&] { opt.step(); },
                           {"anomaly in SGD::step", "parameter 0", "(2, 3)", "-inf", "element 0", "lr 1e+308",
                            "the step was undone"});
  EXPECT_EQ(opt.step_count(), 0u);
  for (const auto& [name, a] : opt.state_dict().buffers) EXPECT_TRUE(xt::all(xt::equal(a, 0.0))) << name;
}

// ---- 300-399: convolutions and pooling (tapegrad/conv.hpp, pooling.hpp, nn/conv.hpp) ---------------

namespace {
Var<double> zeros_on(tg::Tape<double>& tape, const tg::Shape& shape) {
  return tape.constant(Array<double>(xt::zeros<double>(shape)));
}
}  // namespace

TEST_F(Errors, E300_ConvInputRank) {
  // Inputs are recorded first: a failing op must leave the tape as it was.
  auto k = zeros_on(tape, {2, 1, 3, 3});
  auto img = zeros_on(tape, {1, 1, 5, 5});
  auto flat = zeros_on(tape, {2, 9});
  expect<tg::ShapeError>([&] { tg::conv2d(x, k); }, {"conv2d", "input (4, 2)", "3-D (C, H, W) or 4-D (N, C, H, W)"});
  expect<tg::ShapeError>([&] { tg::conv2d(img, flat); },
                         {"conv2d", "weight (2, 9)", "4-D (out_channels, in_channels / groups, kH, kW)"});
}

TEST_F(Errors, E301_ConvChannelsDoNotMatch) {
  auto img = zeros_on(tape, {2, 3, 8, 8});
  auto k = zeros_on(tape, {4, 2, 3, 3});
  expect<tg::ShapeError>([&] { tg::conv2d(img, k); },
                         {"conv2d", "input (2, 3, 8, 8) has 3 channels", "weight (4, 2, 3, 3) with groups 1 expects 2"});
}

TEST_F(Errors, E302_ConvChannelsNotDivisibleByGroups) {
  auto img = zeros_on(tape, {2, 3, 8, 8});
  auto k = zeros_on(tape, {4, 1, 3, 3});
  auto img4 = zeros_on(tape, {2, 4, 8, 8});
  auto k3 = zeros_on(tape, {3, 2, 3, 3});
  expect<tg::ShapeError>([&] { tg::conv2d(img, k, {}, 1, 0, 1, 2); },
                         {"conv2d", "(2, 3, 8, 8) has 3 channels", "groups 2 expects 2", "not divisible by groups"});
  expect<tg::ShapeError>([&] { tg::conv2d(img4, k3, {}, 1, 0, 1, 2); },
                         {"conv2d", "weight (3, 2, 3, 3) has 3 output channels, not divisible by groups 2"});
}

TEST_F(Errors, E303_ConvBiasShape) {
  auto img = zeros_on(tape, {2, 1, 8, 8});
  auto k = zeros_on(tape, {4, 1, 3, 3});
  auto bias = zeros_on(tape, {3});
  expect<tg::ShapeError>([&] { tg::conv2d(img, k, bias); },
                         {"conv2d", "bias (3,)", "weight (4, 1, 3, 3)", "expected (4,)"});
}

TEST_F(Errors, E304_ConvKernelLargerThanPaddedInput) {
  auto img = zeros_on(tape, {1, 1, 2, 2});
  auto k = zeros_on(tape, {1, 1, 3, 3});
  auto img5 = zeros_on(tape, {1, 1, 5, 5});
  expect<tg::ShapeError>([&] { tg::conv2d(img, k); },
                         {"conv2d", "input (1, 1, 2, 2)", "padded by (0, 0) is 2 x 2", "smaller than the kernel 3 x 3",
                          "weight (1, 1, 3, 3)"});
  // Dilation 3 spreads a 3x3 kernel over 7x7.
  expect<tg::ShapeError>([&] { tg::conv2d(img5, k, {}, 1, 0, 3); },
                         {"conv2d", "5 x 5", "smaller than the kernel 7 x 7", "dilation (3, 3)"});
}

TEST_F(Errors, E305_ConvBadStridePaddingDilationGroups) {
  auto img = zeros_on(tape, {1, 1, 5, 5});
  auto k = zeros_on(tape, {1, 1, 3, 3});
  expect<tg::ValueError>([&] { tg::conv2d(img, k, {}, 0); }, {"conv2d", "stride must be positive", "(0, 0)"});
  expect<tg::ValueError>([&] { tg::conv2d(img, k, {}, 1, {-1, 0}); }, {"conv2d", "padding must be non-negative", "(-1, 0)"});
  expect<tg::ValueError>([&] { tg::conv2d(img, k, {}, 1, 0, {1, 0}); }, {"conv2d", "dilation must be positive", "(1, 0)"});
  expect<tg::ValueError>([&] { tg::conv2d(img, k, {}, 1, 0, 1, 0); }, {"conv2d", "groups must be positive", "0"});
}

TEST_F(Errors, E306_ConvTransposeShapes) {
  auto img = zeros_on(tape, {2, 3, 4, 4});
  auto k = zeros_on(tape, {2, 5, 3, 3});
  auto k3 = zeros_on(tape, {3, 2, 3, 3});
  auto bias = zeros_on(tape, {3});
  auto one = zeros_on(tape, {1, 1, 1, 1});
  expect<tg::ShapeError>([&] { tg::conv_transpose2d(img, k); },
                         {"conv_transpose2d", "input (2, 3, 4, 4) has 3 channels", "weight (2, 5, 3, 3) expects 2"});
  expect<tg::ShapeError>([&] { tg::conv_transpose2d(img, k3, bias); },
                         {"conv_transpose2d", "bias (3,)", "expected (2,)"});
  // (1 − 1)·1 − 2·1 + 1·(1 − 1) + 0 + 1 = −1
  expect<tg::ShapeError>([&] { tg::conv_transpose2d(one, one, {}, 1, 1); },
                         {"conv_transpose2d", "input (1, 1, 1, 1)", "empty output (-1 x -1)"});
}

TEST_F(Errors, E307_ConvTransposeOutputPadding) {
  auto img = zeros_on(tape, {1, 1, 4, 4});
  auto k = zeros_on(tape, {1, 1, 3, 3});
  expect<tg::ValueError>([&] { tg::conv_transpose2d(img, k, {}, 2, 0, 2); },
                         {"conv_transpose2d", "output_padding (2, 2)", "smaller than either the stride (2, 2)",
                          "dilation (1, 1)"});
}

TEST_F(Errors, E308_PoolInputRank) {
  expect<tg::ShapeError>([&] { tg::max_pool2d(x, 2); }, {"max_pool2d", "input (4, 2)", "3-D (C, H, W) or 4-D"});
  expect<tg::ShapeError>([&] { tg::avg_pool2d(x, 2); }, {"avg_pool2d", "input (4, 2)", "3-D (C, H, W) or 4-D"});
  expect<tg::ShapeError>([&] { tg::adaptive_avg_pool2d(x, 1); }, {"adaptive_avg_pool2d", "input (4, 2)"});
}

TEST_F(Errors, E309_PoolKernelLargerThanPaddedInput) {
  auto img = zeros_on(tape, {1, 1, 2, 2});
  expect<tg::ShapeError>([&] { tg::max_pool2d(img, 3); },
                         {"max_pool2d", "input (1, 1, 2, 2)", "too small for the kernel (3, 3)", "0 x 0"});
  expect<tg::ShapeError>([&] { tg::avg_pool2d(img, {1, 3}); },
                         {"avg_pool2d", "input (1, 1, 2, 2)", "too small for the kernel (1, 3)", "2 x 0"});
}

TEST_F(Errors, E310_PoolBadKernelStridePadding) {
  auto img = zeros_on(tape, {1, 1, 6, 6});
  expect<tg::ValueError>([&] { tg::max_pool2d(img, 0); }, {"max_pool2d", "kernel_size must be positive", "(0, 0)"});
  expect<tg::ValueError>([&] { tg::max_pool2d(img, 2, {0, 1}); }, {"max_pool2d", "stride must be positive", "(0, 1)"});
  expect<tg::ValueError>([&] { tg::max_pool2d(img, 2, 2, 0, 0); }, {"max_pool2d", "dilation must be positive"});
  expect<tg::ValueError>([&] { tg::max_pool2d(img, 2, 2, 2); },
                         {"max_pool2d", "padding (2, 2)", "at most half the kernel size (2, 2)"});
  expect<tg::ValueError>([&] { tg::avg_pool2d(img, 3, 1, {0, 2}); },
                         {"avg_pool2d", "padding (0, 2)", "at most half the kernel size (3, 3)"});
  expect<tg::ValueError>([&] { tg::avg_pool2d(img, 2, 2, 0, false, true, -1); },
                         {"avg_pool2d", "divisor_override must be positive", "-1"});
  expect<tg::ValueError>([&] { tg::adaptive_avg_pool2d(img, {-1, 2}); },
                         {"adaptive_avg_pool2d", "output_size must be non-negative", "(-1, 2)"});
}

TEST_F(Errors, E311_ConvModuleOptions) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::Conv2d<double>(tg::nn::Conv2dOptions(3, 4, 3).groups(2), rng); },
                         {"Conv2d", "in_channels 3 is not divisible by groups 2"});
  expect<tg::ValueError>([&] { tg::nn::Conv2d<double>(tg::nn::Conv2dOptions(4, 3, 3).groups(2), rng); },
                         {"Conv2d", "out_channels 3 is not divisible by groups 2"});
  expect<tg::ValueError>([&] { tg::nn::Conv2d<double>(tg::nn::Conv2dOptions(0, 3, 3), rng); },
                         {"Conv2d", "channels must be positive", "(0, 3)"});
  expect<tg::ValueError>([&] { tg::nn::Conv2d<double>(tg::nn::Conv2dOptions(1, 3, {3, 0}), rng); },
                         {"Conv2d", "kernel_size must be positive", "(3, 0)"});
  expect<tg::ValueError>(
      [&] { tg::nn::ConvTranspose2d<double>(tg::nn::ConvTranspose2dOptions(1, 1, 3).stride(2).output_padding(2), rng); },
      {"ConvTranspose2d", "output_padding (2, 2)", "smaller than either the stride (2, 2) or the dilation (1, 1)"});
}

TEST_F(Errors, E312_Dropout2dRank) {
  tg::Rng rng(0);
  expect<tg::ShapeError>([&] { tg::dropout2d(x, 0.5, rng); },
                         {"dropout2d", "input (4, 2)", "3-D (C, H, W) or 4-D (N, C, H, W)"});
}

TEST_F(Errors, E313_BatchNorm2dInput) {
  tg::nn::BatchNorm2d<double> bn(3);
  expect<tg::ShapeError>([&] { bn.forward(x); }, {"BatchNorm2d", "expected input (N, 3, H, W)", "got (4, 2)"});
  auto images = tape.constant(Array<double>(xt::ones<double>({2, 2, 3, 3})));
  expect<tg::ShapeError>([&] { bn.forward(images); }, {"BatchNorm2d", "(N, 3, H, W)", "got (2, 2, 3, 3)"});
  expect<tg::ValueError>([&] { tg::nn::BatchNorm2d<double>(0); }, {"BatchNorm2d", "num_features must be positive"});
}

// ---- 200-299: losses, normalisation, lookup, modules, initialisers, groups, clipping -----------

TEST_F(Errors, E200_CrossEntropyTargetOutOfRange) {
  auto logits = tg::linear(x, w, b);  // (4, 3)
  expect<tg::ValueError>([&] { tg::cross_entropy(logits, {0, 1, 5, 2}); },
                         {"cross_entropy", "label 2 is 5", "[0, 3)", "ignore_index (-100)"});
  expect<tg::ValueError>([&] { tg::nll_loss(logits, {0, 1, -1, 2}); }, {"nll_loss", "label 2 is -1"});
}

TEST_F(Errors, E201_CrossEntropyTargetShape) {
  auto logits = tg::linear(x, w, b);
  expect<tg::ShapeError>([&] { tg::cross_entropy(logits, tg::IndexArray::from_shape({4, 2})); },
                         {"cross_entropy", "targets of shape (4, 2)", "input (4, 3)", "expected (4,)"});
  expect<tg::ShapeError>([&] { tg::nll_loss(logits, {0, 1}); }, {"nll_loss", "2 labels", "(4, 3)", "expected 4"});
}

TEST_F(Errors, E202_UnknownReduction) {
  auto logits = tg::linear(x, w, b);
  expect<tg::ValueError>([&] { tg::cross_entropy(logits, {0, 1, 2, 0}, tg::CrossEntropyOptions().reduction("avg")); },
                         {"cross_entropy", "reduction", "\"mean\", \"sum\" or \"none\"", "\"avg\""});
  expect<tg::ValueError>([&] { tg::mse_loss(x, x, tg::MSELossOptions().reduction("Mean")); },
                         {"mse_loss", "reduction", "\"Mean\""});
}

TEST_F(Errors, E203_LabelSmoothingOutOfRange) {
  auto logits = tg::linear(x, w, b);
  expect<tg::ValueError>(
      [&] { tg::cross_entropy(logits, {0, 1, 2, 0}, tg::CrossEntropyOptions().label_smoothing(-0.1)); },
      {"cross_entropy", "label_smoothing", "[0, 1]", "-0.1"});
}

TEST_F(Errors, E204_ClassWeights) {
  auto logits = tg::linear(x, w, b);
  expect<tg::ValueError>([&] { tg::cross_entropy(logits, {0, 1, 2, 0}, tg::CrossEntropyOptions().weight({1, 2})); },
                         {"cross_entropy", "2 class weights for 3 classes"});
  expect<tg::ValueError>([&] { tg::nll_loss(logits, {0, 1, 2, 0}, tg::NLLLossOptions().weight({1, -2, 1})); },
                         {"nll_loss", "class weight 1 is -2"});
}

TEST_F(Errors, E205_RegressionLossShapes) {
  auto y = tape.constant(Array<double>::from_shape({4, 1}));
  expect<tg::ShapeError>([&] { tg::l1_loss(x, y); }, {"l1_loss", "(4, 2)", "(4, 1)", "does not broadcast"});
  expect<tg::ShapeError>([&] { tg::smooth_l1_loss(x, y); }, {"smooth_l1_loss", "(4, 2)", "(4, 1)"});
  expect<tg::ShapeError>([&] { tg::huber_loss(y, x); }, {"huber_loss", "(4, 1)", "(4, 2)"});
}

TEST_F(Errors, E206_SmoothL1BetaAndHuberDelta) {
  expect<tg::ValueError>([&] { tg::smooth_l1_loss(x, x, tg::SmoothL1LossOptions().beta(-1)); },
                         {"smooth_l1_loss", "beta", ">= 0", "-1"});
  expect<tg::ValueError>([&] { tg::huber_loss(x, x, tg::HuberLossOptions().delta(0)); },
                         {"huber_loss", "delta", "> 0", "got 0"});
}

TEST_F(Errors, E207_LayerNormShapes) {
  expect<tg::ShapeError>([&] { tg::layer_norm(x, {3}); },
                         {"layer_norm", "normalized_shape (3,)", "input's shape (4, 2)"});
  auto h = tg::linear(x, w, b);  // (4, 3)
  expect<tg::ShapeError>([&] { tg::layer_norm(h, {3}, w); },
                         {"layer_norm", "weight (2, 3)", "normalized_shape (3,)"});
}

TEST_F(Errors, E208_BatchNormOneValuePerChannel) {
  Parameter<double> mean(Array<double>{0.5, 0.5}), var(Array<double>{2.0, 2.0});
  params.push_back(mean);
  params.push_back(var);
  auto one = tape.constant(Array<double>{{1, 2}});
  expect<tg::ValueError>([&] { tg::batch_norm(one, mean, var, Var<double>(), Var<double>(), true); },
                         {"batch_norm", "more than 1 value per channel", "training", "(1, 2)"});
}

TEST_F(Errors, E209_BatchNormShapesAndMissingStatistics) {
  Parameter<double> mean(Array<double>{0.5, 0.5, 0.5}), var(Array<double>{2.0, 2.0});
  params.push_back(mean);
  params.push_back(var);
  expect<tg::ShapeError>([&] { tg::batch_norm(x, mean, var, Var<double>(), Var<double>(), true); },
                         {"batch_norm", "running_mean (3,)", "input (4, 2)", "expected (2,)"});
  expect<tg::ValueError>([&] { tg::batch_norm(x, Parameter<double>(), Parameter<double>()); },
                         {"batch_norm", "evaluation", "running_mean and running_var"});
}

TEST_F(Errors, E210_EmbeddingIndex) {
  Parameter<double> table(Array<double>::from_shape({5, 3}));
  params.push_back(table);
  auto ids = tape.constant(Array<double>{1, 7, 2});
  expect<tg::ValueError>([&] { tg::embedding(ids, table); },
                         {"embedding", "index 1 is 7", "[0, 5)", "weight (5, 3)"});
  auto half = tape.constant(Array<double>{0.5});
  expect<tg::ValueError>([&] { tg::embedding(half, table); }, {"embedding", "index 0 is 0.5"});
}

TEST_F(Errors, E211_EmbeddingWeightAndPaddingIdx) {
  Parameter<double> flat(Array<double>{1, 2, 3}), table(Array<double>::from_shape({5, 3}));
  params.push_back(flat);
  params.push_back(table);
  auto ids = tape.constant(Array<double>{1, 2});
  expect<tg::ShapeError>([&] { tg::embedding(ids, flat); }, {"embedding", "weight must be 2-D", "(3,)"});
  expect<tg::ValueError>([&] { tg::embedding(ids, table, -6); }, {"embedding", "padding_idx -6", "[-5, 5)"});
}

TEST_F(Errors, E212_ModuleOptions) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::Embedding<double>(tg::nn::EmbeddingOptions(4, 2).padding_idx(4), rng); },
                         {"Embedding", "padding_idx 4", "[-4, 4)"});
  expect<tg::ValueError>([&] { tg::nn::LayerNorm<double>(tg::nn::LayerNormOptions({3, 0})); },
                         {"LayerNorm", "normalized_shape", "(3, 0)"});
  expect<tg::ValueError>([&] { tg::nn::BatchNorm1d<double>(tg::nn::BatchNormOptions(3).momentum(1.5)); },
                         {"BatchNorm1d", "momentum", "[0, 1]", "1.5"});
}

TEST_F(Errors, E213_BatchNorm1dInput) {
  tg::nn::BatchNorm1d<double> bn(3);
  expect<tg::ShapeError>([&] { bn.forward(x); }, {"BatchNorm1d", "(N, 3)", "(N, 3, L)", "(4, 2)"});
  // A batch of one in training changes no buffer (num_batches_tracked included).
  tg::nn::BatchNorm1d<double> two(2);
  auto one = tape.constant(Array<double>{{1, 2}});
  for (auto& p : two.buffers()) params.push_back(p);
  expect<tg::ValueError>([&] { two.forward(one); }, {"batch_norm", "more than 1 value per channel"});
}

TEST_F(Errors, E214_InitFans) {
  tg::Rng rng(0);
  Parameter<double> v(Array<double>{1, 2, 3});
  params.push_back(v);
  expect<tg::ValueError>([&] { tg::nn::init::xavier_uniform_(v, rng); },
                         {"init", "fan in and fan out", "(3,)", "fewer than 2 dimensions"});
  expect<tg::ValueError>([&] { tg::nn::init::kaiming_normal_(w, 0.0, "fan_avg", rng); },
                         {"init::kaiming_normal_", "mode", "'fan_in' or 'fan_out'", "'fan_avg'"});
  expect<tg::ValueError>([&] { tg::nn::init::kaiming_uniform_(w, 0.0, "fan_in", "swish", rng); },
                         {"init::calculate_gain", "unsupported nonlinearity 'swish'"});
}

TEST_F(Errors, E215_InitRanges) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::init::uniform_(w, 1.0, -1.0, rng); }, {"init::uniform_", "a (1)", "b (-1)"});
  expect<tg::ValueError>([&] { tg::nn::init::normal_(w, 0.0, -0.5, rng); }, {"init::normal_", "std", "-0.5"});
}

TEST_F(Errors, E216_ClipGradNormNonFinite) {
  // (an infinite gradient rather than NaN: the check that nothing changed compares with ==)
  w.mutable_grad() = Array<double>{{1, 2, 3}, {4, std::numeric_limits<double>::infinity(), 6}};
  expect<tg::ValueError>([&] { tg::nn::utils::clip_grad_norm_(params, 1.0, 2.0, true); },
                         {"clip_grad_norm_", "total norm of order 2", "inf", "error_if_nonfinite"});
  expect<tg::ValueError>([&] { tg::nn::utils::clip_grad_norm_(params, 1.0, -2.0); },
                         {"clip_grad_norm_", "norm_type", "> 0", "-2"});
  expect<tg::ValueError>([&] { tg::nn::utils::clip_grad_value_(params, -1.0); },
                         {"clip_grad_value_", "clip_value", ">= 0", "-1"});
}

TEST_F(Errors, E217_ParameterGroups) {
  using Group = tg::optim::SGD<double>::Group;
  expect<tg::ValueError>([&] { tg::optim::SGD<double>({Group({w}), Group({b, w})}, tg::optim::SGDOptions(0.1)); },
                         {"SGD", "parameters 0 and 2 are the same parameter", "in two parameter groups"});
  expect<tg::ValueError>(
      [&] {
        tg::optim::SGD<double>({Group({w}), Group({b}, tg::optim::SGDOptions(0.1).nesterov(true))},
                               tg::optim::SGDOptions(0.1));
      },
      {"SGD", "nesterov needs momentum > 0", "(group 1)"});
}

TEST_F(Errors, E218_OptimizerStateGroups) {
  using Group = tg::optim::Adam<double>::Group;
  tg::optim::Adam<double> two({Group({w}), Group({b})}, tg::optim::AdamOptions(0.01));
  tg::optim::Adam<double> one(params, tg::optim::AdamOptions(0.01));
  const auto state = two.state_dict();
  expect<tg::ValueError>([&] { one.load_state_dict(state); },
                         {"Adam::load_state_dict", "the state has 2 parameter groups, the optimizer 1"});
  auto bad = state;
  bad.param_groups[1].hyperparameters[3].second = 0;  // eps
  expect<tg::ValueError>([&] { two.load_state_dict(bad); },
                         {"Adam::load_state_dict", "parameter group 1", "eps must be > 0, got 0"});
  EXPECT_EQ(two.group_options(1).eps(), 1e-8);
}

TEST_F(FileErrors, E219_CheckpointWithoutBuffers) {
  // A BatchNorm's running statistics are part of the checkpoint: one without them is reported.
  tg::nn::BatchNorm1d<double> bn(2);
  const auto path = dir.file("bn.npz");
  tg::io::write_npz<double>(path, {{"weight", Array<double>{1, 1}}, {"bias", Array<double>{0, 0}}});
  expect_files<tg::ValueError>([&] { tg::load(bn, path); },
                               {path, "missing 'running_mean' (2,)", "missing 'running_var' (2,)",
                                "missing 'num_batches_tracked' ()", "nothing was changed"},
                               {path});
}

// ---- Inputs at the edges that are accepted (no error), each a test too -----------------------

TEST_F(Errors, E67_ExamplesWithZeroFeatures) {
  // memcpy from the features' buffer (null: it holds nothing) was undefined behaviour.
  Array<double> targets{1.0, 2.0, 3.0};
  targets.reshape({3, 1});
  tg::data::TensorDataset<double> d(Array<double>::from_shape({3, 0}), targets);
  tg::data::DataLoader<double> loader(d, tg::data::DataLoaderOptions(2));
  std::vector<tg::Shape> shapes;
  for (auto& batch : loader) shapes.push_back(batch.features.shape());
  EXPECT_EQ(shapes, (std::vector<tg::Shape>{{2, 0}, {1, 0}}));
  EXPECT_EQ(d.get(2).targets(0, 0), 3.0);
}

TEST_F(FileErrors, E68_CsvWithCarriageReturnLineEnds) {
  const auto path = dir.file("mac.csv");
  write_bytes(path, "a,b\r1,2\r3,4\r");
  const auto table = tg::io::read_csv<double>(path);
  EXPECT_EQ(table.columns, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(table.values, (Array<double>{{1, 2}, {3, 4}}));
}

TEST_F(Errors, E69_BatchSizeNearSizeMax) {
  tg::data::TensorDataset<double> d(Array<double>::from_shape({3, 2}), Array<double>::from_shape({3, 1}));
  for (const std::size_t batch : {SIZE_MAX, SIZE_MAX - 1}) {
    tg::data::DataLoader<double> loader(d, tg::data::DataLoaderOptions(batch));
    EXPECT_EQ(loader.num_batches(), 1u);
    std::vector<std::size_t> sizes;
    for (auto& b : loader) sizes.push_back(b.size());
    EXPECT_EQ(sizes, (std::vector<std::size_t>{3}));
    tg::data::DataLoader<double> dropping(d, tg::data::DataLoaderOptions(batch).drop_last(true));
    EXPECT_EQ(dropping.num_batches(), 0u);
    EXPECT_EQ(dropping.begin(), dropping.end());
  }
}

TEST_F(Errors, E70_GemmShapesDoNotFit) {
  Array<double> c = Array<double>::from_shape({3, 3});  // x·w is (4, 3)
  expect<tg::ShapeError>([&] { tg::kernels::gemm<double>(false, false, 1.0, x.value(), w.value(), 0.0, c); },
                         {"gemm", "(4, 2)", "(2, 3)", "(3, 3)"});
}

// ---- 71 on: handles and parameters that changed or died, binary targets ---------------------------

TEST_F(Errors, E71_BinaryTargetsOutsideZeroOne) {
  auto z = tg::linear(x, w, b);  // (4, 3)
  auto p = tg::sigmoid(z);
  Array<double> y = xt::zeros<double>({4, 3});
  y(1, 2) = 1.5;
  auto above = tape.constant(y);
  y(1, 2) = -0.5;
  auto below = tape.constant(y);
  expect<tg::ValueError>([&] { tg::bce(p, above); }, {"binary_cross_entropy", "targets must lie in [0, 1]", "1.5"});
  expect<tg::ValueError>([&] { tg::bce_with_logits(z, below); }, {"binary_cross_entropy_with_logits", "targets", "-0.5"});
}

TEST_F(Errors, E72_ParameterModifiedBeforeBackward) {
  auto loss = tg::sum(tg::linear(x, w, b));
  w.mutable_value() = Array<double>{{1, 2}, {3, 4}, {5, 6}};  // (3, 2): the same 6 elements
  expect<tg::StateError>([&] { tape.backward(loss); }, {"backward of 'linear'", "was modified", "version"});
  w.mutable_value() = Array<double>{{1, 2, 3}, {4, 5, 6}};
}

TEST_F(Errors, E73_ParameterDestroyedBeforeBackward) {
  tg::Var<double> loss;
  {
    Parameter<double> temporary(Array<double>{{1, 1, 1}, {1, 1, 1}});
    loss = tg::sum(tg::linear(x, temporary, b));
  }
  expect<tg::StateError>([&] { tape.backward(loss); }, {"backward of 'linear'", "destroyed before backward()"});
}

TEST_F(Errors, E74_HandleOutlivingItsTapeOrParameter) {
  tg::Var<double> dead;
  {
    tg::Tape<double> local;
    dead = tg::exp(local.constant(Array<double>{1.0}));
  }
  expect<tg::StateError>([&] { tg::add(x, dead); }, {"add", "the tape this value was recorded on was destroyed"});
  tg::Var<double> param_copy;
  { param_copy = Parameter<double>(Array<double>{1.0}); }
  expect<tg::StateError>([&] { tg::mul(x, param_copy); }, {"mul", "the parameter behind this handle was destroyed"});
}

// ---- 100-127: the N-d vocabulary (shape_ops, indexing, pointwise, reduction, matmul) ---------------

TEST_F(Errors, E100_ReshapeElementCount) {
  expect<tg::ShapeError>([&] { tg::reshape(x, {3, 3}); }, {"reshape", "[3, 3]", "9 elements", "(4, 2)", "8"});
}

TEST_F(Errors, E101_ReshapeTwoInferredSizes) {
  expect<tg::ValueError>([&] { tg::reshape(x, {-1, -1}); }, {"reshape", "more than one -1", "[-1, -1]", "(4, 2)"});
  expect<tg::ValueError>([&] { tg::reshape(x, {-2, 4}); }, {"reshape", "-2", "(4, 2)"});
}

TEST_F(Errors, E102_ReshapeInferredSizeDoesNotDivide) {
  expect<tg::ShapeError>([&] { tg::reshape(x, {3, -1}); }, {"reshape", "[3, -1]", "(4, 2)", "8 elements"});
}

TEST_F(Errors, E103_FlattenStartAfterEnd) {
  expect<tg::ValueError>([&] { tg::flatten(x, 1, 0); }, {"flatten", "start_dim 1", "end_dim 0", "(4, 2)"});
}

TEST_F(Errors, E104_DimOutOfRange) {
  expect<tg::ShapeError>([&] { tg::transpose(x, 0, 2); }, {"transpose", "dim 2", "(4, 2)", "[-2, 1]"});
  expect<tg::ShapeError>([&] { tg::unsqueeze(x, 3); }, {"unsqueeze", "dim 3", "(4, 2)", "[-3, 2]"});
  expect<tg::ShapeError>([&] { tg::squeeze(x, -3); }, {"squeeze", "dim -3", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::narrow(x, 2, 0, 1); }, {"narrow", "dim 2", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::index_select(x, -3, tg::IndexArray{0}); }, {"index_select", "dim -3", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::amax(x, {2}); }, {"amax", "dim 2", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::max(x, 5); }, {"max", "dim 5", "(4, 2)"});
}

TEST_F(Errors, E105_PermuteDims) {
  expect<tg::ShapeError>([&] { tg::permute(x, {0}); }, {"permute", "1 dims", "[0]", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::permute(x, {1, -1}); }, {"permute", "appears twice", "[1, -1]", "(4, 2)"});
}

TEST_F(Errors, E106_ExpandShapes) {
  expect<tg::ShapeError>([&] { tg::expand(x, {2}); }, {"expand", "[2]", "fewer dims", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::expand(x, {4, 3}); }, {"expand", "(4, 2)", "[4, 3]", "dim 1: 2 vs 3"});
}

TEST_F(Errors, E107_CatShapes) {
  auto c = tape.constant(Array<double>::from_shape({3, 3}));
  expect<tg::ShapeError>([&] { tg::cat({x, c}, 1); }, {"cat", "input 1", "(3, 3)", "(4, 2)", "except in dim 1"});
  auto s = tape.constant(Array<double>(1.0));
  expect<tg::ShapeError>([&] { tg::cat({s, s}); }, {"cat", "0-d", "()"});
  expect<tg::ValueError>([&] { tg::cat(std::vector<Var<double>>{}); }, {"cat", "non-empty"});
}

TEST_F(Errors, E108_StackShapes) {
  auto c = tape.constant(Array<double>::from_shape({2, 4}));
  expect<tg::ShapeError>([&] { tg::stack({x, c}); }, {"stack", "input 1", "(2, 4)", "(4, 2)", "equal shapes"});
}

TEST_F(Errors, E109_SplitSizes) {
  expect<tg::ShapeError>([&] { tg::split(x, {1, 2}, 0); }, {"split", "[1, 2]", "add up to 3", "(4, 2)", "4"});
  expect<tg::ValueError>([&] { tg::split(x, 0, 1); }, {"split", "split_size", "positive", "0", "(4, 2)"});
}

TEST_F(Errors, E110_ChunkCount) {
  expect<tg::ValueError>([&] { tg::chunk(x, 0); }, {"chunk", "chunks", "positive", "0", "(4, 2)"});
}

TEST_F(Errors, E111_NarrowPastTheEnd) {
  expect<tg::ValueError>([&] { tg::narrow(x, 0, 3, 2); }, {"narrow", "start 3", "length 2", "extent 4", "(4, 2)"});
  expect<tg::ValueError>([&] { tg::narrow(x, 1, -3, 1); }, {"narrow", "start -3", "(4, 2)"});
}

TEST_F(Errors, E112_SliceStep) {
  expect<tg::ValueError>([&] { tg::slice(x, 0, 0, 4, 0); }, {"slice", "step", "positive", "0", "(4, 2)"});
}

TEST_F(Errors, E113_PadValues) {
  expect<tg::ValueError>([&] { tg::pad(x, {1, 2, 3}); }, {"pad", "3 padding values", "[1, 2, 3]", "pairs"});
  expect<tg::ShapeError>([&] { tg::pad(x, {1, 1, 1, 1, 1, 1}); }, {"pad", "3 pairs", "(4, 2)", "2 dims"});
  expect<tg::ValueError>([&] { tg::pad(x, {-2, -1}); }, {"pad", "(-2, -1)", "dim 1", "(4, 2)", "-1 elements"});
}

TEST_F(Errors, E114_IndexSelectIndices) {
  expect<tg::ValueError>([&] { tg::index_select(x, 0, tg::IndexArray{0, 4}); },
                         {"index_select", "index 4", "position 1", "dim 0", "extent 4", "(4, 2)"});
  expect<tg::ValueError>([&] { tg::index_select(x, 1, tg::IndexArray{-1}); }, {"index_select", "index -1", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::index_select(x, 0, tg::IndexArray::from_shape({2, 1})); },
                         {"index_select", "1-D", "(2, 1)", "(4, 2)"});
}

TEST_F(Errors, E115_GatherIndex) {
  expect<tg::ShapeError>([&] { tg::gather(x, 1, tg::IndexArray{0, 1}); }, {"gather", "(2,)", "(4, 2)", "rank"});
  expect<tg::ShapeError>([&] { tg::gather(x, 0, tg::IndexArray::from_shape({1, 3})); },
                         {"gather", "(1, 3)", "(4, 2)", "dim 1", "3 vs 2"});
  expect<tg::ValueError>([&] { tg::gather(x, 1, tg::IndexArray(xt::reshape_view(tg::IndexArray{0, 2}, {2, 1}))); },
                         {"gather", "index 2", "position 1", "dim 1", "extent 2", "(4, 2)"});
}

TEST_F(Errors, E116_MaskedFillMaskShape) {
  expect<tg::ShapeError>([&] { tg::masked_fill(x, tg::BoolArray{true, false, true}, 0.0); },
                         {"masked_fill", "(4, 2)", "(3,)", "broadcast"});
}

TEST_F(Errors, E117_WhereShapes) {
  auto c = tape.constant(Array<double>::from_shape({3}));
  expect<tg::ShapeError>([&] { tg::where(tg::BoolArray{true, false}, x, c); }, {"where", "(4, 2)", "(3,)", "broadcast"});
}

TEST_F(Errors, E118_MatmulBatchDims) {
  auto a = tape.constant(Array<double>::from_shape({2, 4, 3}));
  auto c = tape.constant(Array<double>::from_shape({5, 3, 2}));
  expect<tg::ShapeError>([&] { tg::matmul(a, c); },
                         {"matmul", "(2, 4, 3)", "(5, 3, 2)", "batch dimensions (2,) and (5,)", "broadcast"});
  auto d = tape.constant(Array<double>::from_shape({2, 2, 3}));
  expect<tg::ShapeError>([&] { tg::matmul(d, d); }, {"matmul", "(2, 2, 3)", "inner dimensions differ (3 vs 2)"});
}

TEST_F(Errors, E119_BmmShapes) {
  auto a = tape.constant(Array<double>::from_shape({2, 4, 3}));
  auto c = tape.constant(Array<double>::from_shape({3, 3, 2}));
  expect<tg::ShapeError>([&] { tg::bmm(x, w); }, {"bmm", "(4, 2)", "(2, 3)", "3-D"});
  expect<tg::ShapeError>([&] { tg::bmm(a, c); }, {"bmm", "(2, 4, 3)", "(3, 3, 2)", "batch sizes differ (2 vs 3)"});
}

TEST_F(Errors, E120_Linear0D) {
  auto s = tape.constant(Array<double>(1.0));
  expect<tg::ShapeError>([&] { tg::linear(s, w, b); }, {"linear", "input ()", "weight (2, 3)"});
}

TEST_F(Errors, E121_ElementwiseBroadcast) {
  auto c = tape.constant(Array<double>::from_shape({3}));
  expect<tg::ShapeError>([&] { tg::pow(x, c); }, {"pow", "(4, 2)", "(3,)", "broadcast"});
  expect<tg::ShapeError>([&] { tg::maximum(x, c); }, {"maximum", "(4, 2)", "(3,)"});
  expect<tg::ShapeError>([&] { tg::minimum(c, x); }, {"minimum", "(3,)", "(4, 2)"});
}

TEST_F(Errors, E122_ClampWithoutBounds) {
  expect<tg::ValueError>([&] { tg::clamp(x, std::nullopt, std::nullopt); }, {"clamp", "min and max", "(4, 2)"});
}

TEST_F(Errors, E123_GeluApproximation) {
  expect<tg::ValueError>([&] { tg::gelu(x, "sigmoid"); }, {"gelu", "\"none\" or \"tanh\"", "\"sigmoid\""});
}

TEST_F(Errors, E124_ReductionDimTwice) {
  expect<tg::ShapeError>([&] { tg::sum(x, {0, -2}); }, {"sum", "dim -2", "appears twice", "[0, -2]", "(4, 2)"});
  expect<tg::ShapeError>([&] { tg::var(x, {1, 1}); }, {"var", "appears twice", "(4, 2)"});
}

TEST_F(Errors, E125_ExtremeOfNothing) {
  auto e = tape.constant(Array<double>::from_shape({0, 2}));
  expect<tg::ValueError>([&] { tg::amax(e, {0}); }, {"amax", "[0]", "extent 0", "(0, 2)"});
  expect<tg::ValueError>([&] { tg::max(e, 0); }, {"max", "dim 0", "(0, 2)", "extent 0"});
  expect<tg::ValueError>([&] { tg::norm(e, INFINITY, {0}); }, {"norm", "inf", "(0, 2)"});
}

// ---- 400-499: recurrent networks, attention, Transformers ------------------------------------

TEST_F(Errors, E400_RnnInputFeatures) {
  tg::Rng rng(0);
  tg::nn::LSTM<double> lstm(tg::nn::LSTMOptions(4, 3), rng);
  auto in = tape.constant(Array<double>::from_shape({5, 2, 3}));
  expect<tg::ShapeError>([&] { lstm.forward(in); }, {"LSTM", "(5, 2, 3)", "3 features", "weight_ih_l0", "(12, 4)"});
  tg::nn::GRUCell<double> cell(tg::nn::GRUCellOptions(4, 3), rng);
  auto step = tape.constant(Array<double>::from_shape({2, 5}));
  expect<tg::ShapeError>([&] { cell.forward(step); }, {"gru_cell", "(2, 5)", "weight_ih", "(9, 4)"});
}

TEST_F(Errors, E401_RnnInputRank) {
  tg::Rng rng(0);
  tg::nn::GRU<double> gru(tg::nn::GRUOptions(2, 3), rng);
  auto in = tape.constant(Array<double>::from_shape({5, 2, 3, 2}));
  expect<tg::ShapeError>([&] { gru.forward(in); }, {"GRU", "(5, 2, 3, 2)", "(T, B, features)"});
}

TEST_F(Errors, E402_RnnStateShape) {
  tg::Rng rng(0);
  tg::nn::LSTM<double> lstm(tg::nn::LSTMOptions(2, 3).num_layers(2), rng);
  auto in = tape.constant(Array<double>::from_shape({5, 4, 2}));
  auto h0 = tape.constant(Array<double>::from_shape({1, 4, 3}));
  expect<tg::ShapeError>([&] { lstm.forward(in, h0); }, {"LSTM", "h0", "(1, 4, 3)", "(2, 4, 3)"});
}

TEST_F(Errors, E403_RnnEmptySequence) {
  tg::Rng rng(0);
  tg::nn::RNN<double> rnn(tg::nn::RNNOptions(2, 3), rng);
  auto in = tape.constant(Array<double>::from_shape({0, 4, 2}));
  expect<tg::ValueError>([&] { rnn.forward(in); }, {"RNN", "(0, 4, 2)", "sequence length 0"});
}

TEST_F(Errors, E404_RnnWeightCount) {
  auto in = tape.constant(Array<double>::from_shape({5, 4, 2}));
  expect<tg::ValueError>([&] { tg::lstm(in, {x, x}, {}, {}, tg::RNNFuncOptions().num_layers(2)); },
                         {"lstm", "expected 8 weights", "got 2"});
}

TEST_F(Errors, E405_CellStateForAGru) {
  auto in = tape.constant(Array<double>::from_shape({5, 4, 2}));
  auto whh = tape.constant(Array<double>::from_shape({9, 3}));
  auto wih = tape.constant(Array<double>::from_shape({9, 2}));
  auto s = tape.constant(Array<double>::from_shape({1, 4, 3}));
  expect<tg::ValueError>([&] { tg::rnn(tg::RNNMode::gru, in, {wih, whh}, s, s, tg::RNNFuncOptions().bias(false)); },
                         {"gru", "c0", "only an LSTM"});
}

TEST_F(Errors, E406_RnnOptions) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::RNN<double>(tg::nn::RNNOptions(2, 3).nonlinearity("sigmoid"), rng); },
                         {"RNN", "nonlinearity", "\"sigmoid\""});
  expect<tg::ValueError>([&] { tg::nn::LSTM<double>(tg::nn::LSTMOptions(2, 3).dropout(1.5), rng); },
                         {"LSTM", "dropout", "1.5"});
  expect<tg::ValueError>([&] { tg::nn::GRU<double>(tg::nn::GRUOptions(0, 3), rng); }, {"GRU", "positive", "(0, 3)"});
}

TEST_F(Errors, E407_CellWithOneBias) {
  auto step = tape.constant(Array<double>::from_shape({2, 4}));
  auto wih = tape.constant(Array<double>::from_shape({3, 4}));
  auto whh = tape.constant(Array<double>::from_shape({3, 3}));
  auto bias = tape.constant(Array<double>::from_shape({3}));
  expect<tg::ValueError>([&] { tg::rnn_tanh_cell(step, Var<double>(), wih, whh, bias); },
                         {"rnn_tanh_cell", "both biases", "or neither"});
  auto h = tape.constant(Array<double>::from_shape({2, 4}));
  expect<tg::ShapeError>([&] { tg::rnn_tanh_cell(step, h, wih, whh); }, {"rnn_tanh_cell", "hx", "(2, 4)", "(2, 3)"});
}

TEST_F(Errors, E410_AttentionShapes) {
  auto q = tape.constant(Array<double>::from_shape({2, 4, 8}));
  auto k = tape.constant(Array<double>::from_shape({2, 5, 6}));
  auto v = tape.constant(Array<double>::from_shape({2, 5, 6}));
  expect<tg::ShapeError>([&] { tg::scaled_dot_product_attention(q, k, v); },
                         {"scaled_dot_product_attention", "(2, 4, 8)", "(2, 5, 6)", "last dimension"});
  auto k3 = tape.constant(Array<double>::from_shape({3, 5, 8}));
  expect<tg::ShapeError>([&] { tg::scaled_dot_product_attention(q, k3, k3); }, {"(2, 4, 8)", "(3, 5, 8)", "leading"});
}

TEST_F(Errors, E411_AttentionMaskShape) {
  auto q = tape.constant(Array<double>::from_shape({2, 4, 8}));
  tg::BoolArray mask = xt::ones<bool>({4, 6});
  expect<tg::ShapeError>([&] { tg::scaled_dot_product_attention(q, q, q, mask); },
                         {"attn_mask", "(4, 6)", "does not broadcast", "(2, 4, 4)"});
}

TEST_F(Errors, E412_AttentionMaskAndCausal) {
  auto q = tape.constant(Array<double>::from_shape({2, 4, 8}));
  const Array<double> mask = xt::zeros<double>({4, 4});
  expect<tg::ValueError>([&] { tg::scaled_dot_product_attention(q, q, q, mask, 0.0, true); },
                         {"attn_mask", "is_causal", "not both"});
  expect<tg::ValueError>([&] { tg::scaled_dot_product_attention(q, q, q, {}, 0.1); }, {"dropout_p 0.1", "Rng"});
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::scaled_dot_product_attention(q, q, q, {}, 1.0, false, std::nullopt, &rng); },
                         {"dropout_p", "[0, 1)", "got 1"});
}

TEST_F(Errors, E413_HeadsDoNotDivideTheWidth) {
  tg::Rng rng(0);
  expect<tg::ValueError>([&] { tg::nn::MultiheadAttention<double>(tg::nn::MultiheadAttentionOptions(10, 4), rng); },
                         {"MultiheadAttention", "embed_dim 10", "num_heads 4"});
  expect<tg::ValueError>(
      [&] { tg::nn::TransformerEncoderLayer<double>(tg::nn::TransformerEncoderLayerOptions(6, 4), rng); },
      {"embed_dim 6", "num_heads 4"});
}

TEST_F(Errors, E414_MultiheadAttentionInputs) {
  tg::Rng rng(0);
  tg::nn::MultiheadAttention<double> mha(tg::nn::MultiheadAttentionOptions(8, 2), rng);
  auto in = tape.constant(Array<double>::from_shape({5, 2, 6}));
  expect<tg::ShapeError>([&] { mha.forward(in, in, in); }, {"MultiheadAttention", "query", "(5, 2, 6)", "embed_dim 8"});
  auto q = tape.constant(Array<double>::from_shape({5, 2, 8}));
  auto kv = tape.constant(Array<double>::from_shape({7, 3, 8}));
  expect<tg::ShapeError>([&] { mha.forward(q, kv, kv); }, {"key", "(7, 3, 8)", "batch of 3", "query has 2"});
}

TEST_F(Errors, E415_MultiheadAttentionMasks) {
  tg::Rng rng(0);
  tg::nn::MultiheadAttention<double> mha(tg::nn::MultiheadAttentionOptions(8, 2), rng);
  auto q = tape.constant(Array<double>::from_shape({5, 2, 8}));
  tg::BoolArray kpm = xt::zeros<bool>({5, 2});
  expect<tg::ShapeError>([&] { mha.forward(q, q, q, kpm); }, {"key_padding_mask", "(5, 2)", "(2, 5)"});
  const Array<double> am = xt::zeros<double>({5, 4});
  expect<tg::ShapeError>([&] { mha.forward(q, q, q, {}, true, am); }, {"attn_mask", "(5, 4)", "(5, 5)", "(4, 5, 5)"});
}

TEST_F(Errors, E416_TransformerOptions) {
  tg::Rng rng(0);
  expect<tg::ValueError>(
      [&] { tg::nn::TransformerEncoderLayer<double>(tg::nn::TransformerEncoderLayerOptions(8, 2).activation("tanh"), rng); },
      {"TransformerEncoderLayer", "activation", "\"tanh\""});
  expect<tg::ValueError>(
      [&] { tg::nn::TransformerEncoderLayer<double>(tg::nn::TransformerEncoderLayerOptions(8, 2).dropout(1.0), rng); },
      {"TransformerEncoderLayer", "dropout", "[0, 1)", "got 1"});
  expect<tg::ValueError>(
      [&] {
        tg::nn::TransformerEncoderLayer<double>(tg::nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(0), rng);
      },
      {"TransformerEncoderLayer", "d_model and dim_feedforward", "(8, 0)"});
  expect<tg::ValueError>([&] { tg::nn::TransformerEncoder<double>(tg::nn::TransformerEncoderLayerOptions(8, 2), 0, rng); },
                         {"TransformerEncoder", "num_layers", "at least 1"});
}

TEST_F(Errors, E417_PositionsPastTheTable) {
  tg::Rng rng(0);
  tg::nn::PositionalEmbedding<double> pos(4, 3, rng);
  auto in = tape.constant(Array<double>::from_shape({2, 6, 3}));
  expect<tg::ShapeError>([&] { pos.forward(in); }, {"PositionalEmbedding", "(2, 6, 3)", "(4, 3)", "length <= 4"});
  auto wide = tape.constant(Array<double>::from_shape({2, 4, 5}));
  expect<tg::ShapeError>([&] { pos.forward(wide); }, {"PositionalEmbedding", "(2, 4, 5)", "(4, 3)"});
  expect<tg::ValueError>([&] { tg::nn::PositionalEmbedding<double>(0, 3, rng); },
                         {"PositionalEmbedding", "positive", "(0, 3)"});
}

TEST(ErrorKinds, AreCatchableAsErrorAndRuntimeError) {
  tg::Tape<float> tape;
  auto a = tape.constant(Array<float>{1.f, 2.f});
  auto c = tape.constant(Array<float>{1.f, 2.f, 3.f});
  EXPECT_THROW(tg::add(a, c), tg::Error);
  EXPECT_THROW(tg::add(a, c), std::runtime_error);
  EXPECT_THROW(tg::add(a, c), tg::ShapeError);
  // Each kind is a distinct class: a ShapeError is not a ValueError.
  EXPECT_FALSE((std::is_base_of_v<tg::ValueError, tg::ShapeError>));
  EXPECT_TRUE((std::is_base_of_v<tg::ValueError, tg::AnomalyError>));
  EXPECT_TRUE((std::is_base_of_v<tg::Error, tg::IoError>));
}
