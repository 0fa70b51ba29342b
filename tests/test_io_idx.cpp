#include "tapegrad/io/idx.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include "bomb_util.hpp"
#include "io_test_util.hpp"
#include "tapegrad/error.hpp"
#include "detail/xtensor_extra.hpp"  // xt::view

using tapegrad::Array;
using tapegrad::IoError;
using tapegrad::io::read_idx;
using tg_test::TempDir;

namespace {

std::string be32(std::uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

std::string idx_header(unsigned char type, const std::vector<std::uint32_t>& dims) {
  std::string h = {0, 0, char(type), char(dims.size())};
  for (auto d : dims) h += be32(d);
  return h;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

void expect_io_error(const std::string& path, const std::string& what) {
  try {
    (void)read_idx<float>(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected: " << what;
  }
}

}  // namespace

TEST(Idx, ReadsUnsignedBytesPlainAndGzipped) {
  TempDir dir;
  std::string data;
  for (int i = 0; i < 2 * 3 * 4; ++i) data += char(i * 10);
  const std::string file = idx_header(0x08, {2, 3, 4}) + data;
  tg_test::write_bytes(dir / "plain-idx3-ubyte", file);
  write_gz(dir / "zipped-idx3-ubyte.gz", file);
  const Array<float> want = xt::reshape_view(xt::arange<float>(24) * 10.f, {2, 3, 4});
  EXPECT_EQ(read_idx<float>(dir / "plain-idx3-ubyte"), want);
  EXPECT_EQ(read_idx<float>(dir / "zipped-idx3-ubyte.gz"), want);
  // Detection is by content: a gzipped file without .gz, a plain one with it.
  tg_test::write_bytes(dir / "plain.gz", file);
  EXPECT_EQ(read_idx<double>(dir / "plain.gz"), Array<double>(want));
}

TEST(Idx, ReadsEveryElementTypeBigEndian) {
  TempDir dir;
  // -2, 300, 70000 and 1.5 in each type that can hold them.
  tg_test::write_bytes(dir / "i8", idx_header(0x09, {2}) + std::string{char(-2), char(100)});
  EXPECT_EQ(read_idx<double>(dir / "i8"), (Array<double>{-2, 100}));
  tg_test::write_bytes(dir / "i16", idx_header(0x0B, {2}) + std::string{char(0xff), char(0xfe), char(0x01), char(0x2c)});
  EXPECT_EQ(read_idx<double>(dir / "i16"), (Array<double>{-2, 300}));
  tg_test::write_bytes(dir / "i32", idx_header(0x0C, {1, 2}) + be32(70000) + be32(std::uint32_t(-2)));
  EXPECT_EQ(read_idx<double>(dir / "i32"), (Array<double>{{70000, -2}}));
  tg_test::write_bytes(dir / "f32", idx_header(0x0D, {1}) + be32(0x3fc00000));  // 1.5f
  EXPECT_EQ(read_idx<double>(dir / "f32"), (Array<double>{1.5}));
  tg_test::write_bytes(dir / "f64", idx_header(0x0E, {1}) + be32(0xbff80000) + be32(0));  // -1.5
  EXPECT_EQ(read_idx<float>(dir / "f64"), (Array<float>{-1.5f}));
  tg_test::write_bytes(dir / "empty", idx_header(0x08, {0, 28}));
  EXPECT_EQ(read_idx<float>(dir / "empty").shape(), (tapegrad::Shape{0, 28}));
}

TEST(Idx, CorruptHeaders) {
  TempDir dir;
  const std::string data(6, '\1');
  struct Case {
    std::string name, bytes, what;
  };
  const std::vector<Case> cases = {
      {"empty", "", "shorter than its 4-byte magic"},
      {"magic", std::string{1, 0, 8, 1} + be32(6) + data, "magic number starts with 1, 0"},
      {"type", idx_header(0x0A, {6}) + data, "unknown IDX element type 0xa"},
      {"rank0", idx_header(0x08, {}) + data, "IDX rank 0"},
      {"rank200", std::string{0, 0, 8, char(200)} + data, "IDX rank 200"},
      {"dims", std::string{0, 0, 8, 3} + be32(2), "truncated"},
      {"short", idx_header(0x08, {2, 4}) + data, "truncated: header says shape (2, 4) (8 bytes of data), but only 6"},
      {"long", idx_header(0x08, {5}) + data, "1 unexpected bytes after the data of shape (5,)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    tg_test::write_bytes(dir / c.name, c.bytes);
    expect_io_error(dir / c.name, c.what);
  }
}

TEST(Idx, HugeShapesAllocateNothing) {
  TempDir dir;
  const std::string data(16, '\0');
  tg_test::write_bytes(dir / "huge", idx_header(0x0E, {0xffffffffu, 0xffffffffu, 0xffffffffu}) + data);
  write_gz(dir / "huge.gz", idx_header(0x08, {60000, 28, 28}) + data);
  tg_test::LargestAllocation largest;
  EXPECT_THROW((void)read_idx<float>(dir / "huge"), IoError);
  expect_io_error(dir / "huge.gz", "the compressed file can hold at most");
  EXPECT_LT(largest.bytes(), std::size_t(1) << 20);
}

TEST(Idx, MemoryLimitCountsWhatTheArrayTakesAfterWidening) {
  // 2 KB of gzip that expand to 2 MiB of u8 pixels: 8 MiB as float, 16 MiB as double. The
  // ratio cap on the compressed size let this through; the caller's limit does not.
  TempDir dir;
  const std::uint32_t n = 2u << 20;
  tg_test::write_bytes(dir / "bomb.gz", tg_test::gzip_zeros(tg_test::idx_u8_header(n), n));
  EXPECT_LT(tg_test::read_bytes(dir / "bomb.gz").size(), 4096u);
  const auto limit = [](std::uint64_t mib) { return tapegrad::io::LoadOptions().max_bytes(mib << 20); };
  const Array<float> all = read_idx<float>(dir / "bomb.gz", limit(8));
  EXPECT_EQ(all.shape(), (tapegrad::Shape{n}));
  EXPECT_TRUE(xt::all(xt::equal(all, 0.f)));
  tg_test::LargestAllocation largest;
  try {
    (void)read_idx<double>(dir / "bomb.gz", limit(8));
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(": shape (2097152,) of u1 read as double needs 16777216 bytes, more than the "
                                         "limit of 8388608 bytes on what one load may allocate (LoadOptions::max_bytes)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(largest.bytes(), std::size_t(1) << 20);
}

TEST(Idx, RunningOutOfMemoryIsAnIoError) {
  TempDir dir;
  tg_test::write_bytes(dir / "big", idx_header(0x08, {1 << 20}) + std::string(1 << 20, '\1'));
  tg_test::FailAllocationsAbove fail(1 << 20);
  expect_io_error(dir / "big", "out of memory allocating 4194304 bytes for an array of shape (1048576,)");
}

TEST(Idx, CorruptGzip) {
  TempDir dir;
  std::string data;
  for (int i = 0; i < 4000; ++i) data += char((i * 7919) % 251);
  const std::string file = idx_header(0x08, {4000}) + data;
  write_gz(dir / "good.gz", file);
  const std::string gz = tg_test::read_bytes(dir / "good.gz");
  tg_test::write_bytes(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  expect_io_error(dir / "cut.gz", "truncated");
  std::string flipped = gz;
  flipped[gz.size() / 2] = char(flipped[gz.size() / 2] ^ 0x55);
  tg_test::write_bytes(dir / "flipped.gz", flipped);
  expect_io_error(dir / "flipped.gz", "gzip");
  // More data inside the gzip stream than the header announces.
  write_gz(dir / "long.gz", idx_header(0x08, {3999}) + data);
  expect_io_error(dir / "long.gz", "unexpected data after the shape (3999,)");
}

// The real files of Debian's dataset-fashion-mnist (a test dependency, see scripts/setup.sh).
TEST(Idx, ReadsFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  const Array<float> labels = read_idx<float>(dir + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_EQ(labels.shape(), (tapegrad::Shape{10000}));
  // The first test labels as published: ankle boot, pullover, trouser, trouser, shirt.
  EXPECT_EQ(xt::view(labels, xt::range(0, 5)), (Array<float>{9, 2, 1, 1, 6}));
  EXPECT_EQ(xt::amax(labels)(), 9.f);
  const Array<float> images = read_idx<float>(dir + "/t10k-images-idx3-ubyte.gz");
  ASSERT_EQ(images.shape(), (tapegrad::Shape{10000, 28, 28}));
  EXPECT_EQ(xt::amax(images)(), 255.f);
  EXPECT_EQ(xt::amin(images)(), 0.f);
}
