// Every input under tests/data/fuzz-regressions/ once crashed a loader (or tripped a sanitizer)
// when fuzzed (scripts/fuzz), or is a small version of a file that made a loader allocate far
// more than it should (a "bomb"). Named <format>-<what>.<ext>; each must now be an IoError,
// loaded with the options the fuzz targets use (fuzz/fuzz_options.hpp).
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_options.hpp"
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
    const auto options = fuzz::load_options();
    if (starts_with(name, "npy-")) {
      EXPECT_THROW(tg::io::read_npy<float>(path, options), tg::IoError);
      EXPECT_THROW(tg::io::read_npy<double>(path, options), tg::IoError);
    } else if (starts_with(name, "npz-")) {
      EXPECT_THROW(tg::io::read_npz<float>(path, options), tg::IoError);
      EXPECT_THROW(tg::io::read_npz<double>(path, options), tg::IoError);
    } else if (starts_with(name, "idx-")) {
      EXPECT_THROW(tg::io::read_idx<float>(path, options), tg::IoError);
      EXPECT_THROW(tg::io::read_idx<double>(path, options), tg::IoError);
    } else if (starts_with(name, "csv-")) {
      EXPECT_THROW(tg::io::read_csv<float>(path, fuzz::csv_options()), tg::IoError);
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

TEST(FuzzRegressions, WideningBombsAreGenuineAndOverTheLimitOnlyOnceWidened) {
  // 3 KB of deflate that expand to 3 MiB of u1 zeros: within the fuzz targets' 4 MiB as stored,
  // 12 MiB as float. With room for them they load, so the IoError above is the limit's.
  const std::string dir = TAPEGRAD_FUZZ_REGRESSIONS;
  const auto room = tg::io::LoadOptions().max_bytes(std::uint64_t(24) << 20);
  const auto npz = tg::io::read_npz<double>(dir + "/npz-u1-widening-bomb.npz", room);
  ASSERT_EQ(npz.size(), 1u);
  EXPECT_EQ(npz[0].second.size(), std::size_t(3) << 20);
  EXPECT_EQ(tg::io::read_idx<double>(dir + "/idx-u8-widening-bomb.idx.gz", room).size(), std::size_t(3) << 20);
  EXPECT_LT(std::size_t(3) << 20, fuzz::kMaxBytes);
  try {
    tg::io::read_idx<float>(dir + "/idx-u8-widening-bomb.idx.gz", fuzz::load_options());
    FAIL() << "no error";
  } catch (const tg::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("u1 read as float needs 12582912 bytes"), std::string::npos) << e.what();
  }
}
