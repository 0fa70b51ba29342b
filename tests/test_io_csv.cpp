#include "tapegrad/io/csv.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "io_test_util.hpp"
#include "tapegrad/error.hpp"

using tapegrad::Array;
using tapegrad::IoError;
using tapegrad::io::CsvOptions;
using tapegrad::io::read_csv;
using tapegrad::io::write_csv;
using tg_test::TempDir;

namespace {
void expect_io_error(const std::string& path, const std::string& what, const CsvOptions& options = {}) {
  try {
    (void)read_csv<float>(path, options);
    ADD_FAILURE() << "no error for " << path;
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected: " << what;
  }
}
}  // namespace

TEST(Csv, ReadsHeaderAndNumbers) {
  TempDir dir;
  tg_test::write_bytes(dir / "t.csv",
                       "\xEF\xBB\xBF" "mean radius, \"texture\",target\r\n"
                       "17.99,10.38,0\r\n"
                       "\r\n"
                       "  -2.5e-1 ,+3, 1\r\n"
                       "1e3,\"4\",nan\n");
  const auto t = read_csv<double>(dir / "t.csv");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"mean radius", "texture", "target"}));
  ASSERT_EQ(t.values.shape(), (tapegrad::Shape{3, 3}));
  EXPECT_EQ(t.values(0, 0), 17.99);
  EXPECT_EQ(t.values(1, 0), -0.25);
  EXPECT_EQ(t.values(1, 1), 3.0);
  EXPECT_EQ(t.values(2, 0), 1000.0);
  EXPECT_TRUE(std::isnan(t.values(2, 2)));
  EXPECT_EQ(t.column("target"), 2u);
  EXPECT_THROW((void)t.column("label"), tapegrad::ValueError);
}

TEST(Csv, ParsesFloatsWithoutDoubleRounding) {
  TempDir dir;
  // Just above 1 + 2^-24, the midpoint between the floats 1 and 1 + 2^-23: parsed as a float
  // it rounds up; parsed as a double it becomes the midpoint exactly, which then rounds to 1.
  tg_test::write_bytes(dir / "t.csv", "x\n1.00000005960464477539062500000001\n");
  EXPECT_EQ(read_csv<float>(dir / "t.csv").values(0, 0), 1.00000011920928955078125f);
}

TEST(Csv, OptionsDelimiterAndNoHeader) {
  TempDir dir;
  tg_test::write_bytes(dir / "t.tsv", "1\t2\n3\t4\n");
  const auto t = read_csv<float>(dir / "t.tsv", CsvOptions().delimiter('\t').header(false));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(t.values, (Array<float>{{1, 2}, {3, 4}}));
  tg_test::write_bytes(dir / "h.csv", "a,b\n");
  EXPECT_EQ(read_csv<float>(dir / "h.csv").values.shape(), (tapegrad::Shape{0, 2}));
}

TEST(Csv, ErrorsNameFileLineAndColumn) {
  TempDir dir;
  struct Case {
    std::string name, text, what;
  };
  const std::vector<Case> cases = {
      {"empty", "", ": empty file (no header)"},
      {"blank", "\n  \n", ": empty file (no header)"},
      {"noname", "a,,c\n1,2,3\n", ":1: column 2 of the header has no name"},
      {"word", "a,b\n1,2\n3,abc\n", ":3: column 2 ('b'): 'abc' is not a number"},
      {"partial", "a,b\n1,2.5x\n", ":2: column 2 ('b'): '2.5x' is not a number"},
      {"comma_decimal", "a\n\"2,5\"\n", ":2: 2 fields where the header has 1"},
      {"ragged_short", "a,b,c\n1,2,3\n4,5\n", ":3: 2 fields where the header has 3"},
      {"ragged_long", "a,b\n1,2\n\n3,4,5\n", ":4: 3 fields where the header has 2"},
      {"missing", "a,b\n1, \n", ":2: column 2 ('b') is empty"},
      {"range", "a\n1e999\n", ":2: column 1 ('a'): '1e999' is out of range"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    tg_test::write_bytes(dir / (c.name + ".csv"), c.text);
    expect_io_error(dir / (c.name + ".csv"), dir / (c.name + ".csv") + c.what);
  }
  expect_io_error(dir / "none.csv", "cannot open");
  expect_io_error(dir.path(), "not a regular file");
}

TEST(Csv, EveryLineEndIsALineEnd) {
  // "\r" alone (old Mac files) once read as one line with fields like 'b\r1'. Mixed ends count
  // lines as a text editor does ("\n\r" is two, so the bad field below is on line 5).
  TempDir dir;
  for (const std::string end : {"\n", "\r\n", "\r"}) {
    tg_test::write_bytes(dir / "e.csv", "a,b" + end + "1,2" + end + end + "3,4" + end);
    const auto t = read_csv<double>(dir / "e.csv");
    EXPECT_EQ(t.columns, (std::vector<std::string>{"a", "b"})) << int(end.back());
    EXPECT_EQ(t.values, (Array<double>{{1, 2}, {3, 4}})) << int(end.back());
  }
  tg_test::write_bytes(dir / "mixed.csv", "a,b\r\n1,2\n\r3,4\rx,5");
  expect_io_error(dir / "mixed.csv", dir / "mixed.csv" + ":5: column 1 ('a'): 'x' is not a number");
}

TEST(Csv, MemoryLimitCountsTheFileAndTheValues) {
  TempDir dir;
  tg_test::write_bytes(dir / "t.csv", "a,b\n1,2\n3,4\n");  // 12 bytes; 4 values
  EXPECT_EQ(read_csv<double>(dir / "t.csv", CsvOptions().max_bytes(12 + 32)).values.size(), 4u);
  expect_io_error(dir / "t.csv",
                  dir / "t.csv" + ": 2 rows of 2 columns take 16 bytes as float, which with the file's 12 bytes is "
                                  "more than the limit of 27 bytes on what one load may allocate (CsvOptions::max_bytes)",
                  CsvOptions().max_bytes(12 + 15));
  expect_io_error(dir / "t.csv", "file of 12 bytes exceeds the limit of 11 bytes", CsvOptions().max_bytes(11));
}

TEST(Csv, WriteReadsBackExactly) {
  TempDir dir;
  const Array<double> v = {{0.1, -1e-300, 3.0}, {1.0 / 3.0, 2e22, -0.0}};
  write_csv(dir / "out.csv", {"epoch", "loss", "acc"}, v);
  const auto t = read_csv<double>(dir / "out.csv");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"epoch", "loss", "acc"}));
  EXPECT_EQ(t.values, v);
  EXPECT_EQ(tg_test::read_bytes(dir / "out.csv").substr(0, 19), "epoch,loss,acc\n0.1,");
  EXPECT_THROW(write_csv(dir / "bad.csv", {"a", "b"}, v), tapegrad::ShapeError);
  EXPECT_THROW(write_csv(dir / "bad.csv", {"a", "b,c", "d"}, v), tapegrad::ValueError);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"out.csv"});
}
