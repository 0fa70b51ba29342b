// Every input under tests/data/fuzz-regressions/ once crashed a loader (or tripped a sanitizer)
// when fuzzed (scripts/fuzz). Named <format>-<what>.<ext>; each must now be an IoError.
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tapegrad/error.hpp"
#include "tapegrad/io/csv.hpp"
#include "tapegrad/io/idx.hpp"
#include "tapegrad/io/npy.hpp"
#include "tapegrad/io/npz.hpp"

namespace tg = tapegrad;

namespace {

std::vector<std::string> regression_files() {
  std::vector<std::string> files;
  if (DIR* d = opendir(TAPEGRAD_FUZZ_REGRESSIONS)) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') files.push_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST(FuzzRegressions, EveryInputIsAnIoError) {
  const auto files = regression_files();
  ASSERT_FALSE(files.empty()) << "no inputs in " << TAPEGRAD_FUZZ_REGRESSIONS;
  for (const auto& name : files) {
    const std::string path = std::string(TAPEGRAD_FUZZ_REGRESSIONS) + "/" + name;
    SCOPED_TRACE(path);
    if (starts_with(name, "npy-")) {
      EXPECT_THROW(tg::io::read_npy<float>(path), tg::IoError);
      EXPECT_THROW(tg::io::read_npy<double>(path), tg::IoError);
    } else if (starts_with(name, "npz-")) {
      EXPECT_THROW(tg::io::read_npz<float>(path), tg::IoError);
    } else if (starts_with(name, "idx-")) {
      EXPECT_THROW(tg::io::read_idx<float>(path), tg::IoError);
      EXPECT_THROW(tg::io::read_idx<double>(path), tg::IoError);
    } else if (starts_with(name, "csv-")) {
      EXPECT_THROW(tg::io::read_csv<float>(path), tg::IoError);
    } else {
      ADD_FAILURE() << "unknown format prefix (expected npy-, npz-, idx- or csv-)";
    }
  }
}

TEST(FuzzRegressions, ZeroExtentWithHugeOtherExtentsIsRejected) {
  // The crash found in IDX (dims 0 × 805306376 × 234881024 × 2056): a 0 made the size check pass
  // while xtensor's strides overflowed. The message says why.
  try {
    tg::io::read_idx<float>(std::string(TAPEGRAD_FUZZ_REGRESSIONS) + "/idx-zero-dim-stride-overflow.idx");
    FAIL() << "no error";
  } catch (const tg::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("too large"), std::string::npos) << e.what();
  }
}
