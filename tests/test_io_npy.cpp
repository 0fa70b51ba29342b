#include "tapegrad/io/npy.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "io_test_util.hpp"
#include "tapegrad/error.hpp"

using tapegrad::Array;
using tapegrad::IoError;
using tapegrad::io::read_npy;
using tapegrad::io::write_npy;
using tg_test::TempDir;

namespace {

// A .npy file from a header dict and raw data, for hand-made (and broken) files.
std::string npy_file(const std::string& dict, const std::string& data, unsigned char major = 1) {
  std::string h = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  out += char(h.size() & 0xff);
  out += char((h.size() >> 8) & 0xff);
  if (major != 1) out += std::string(2, '\0');
  return out + h + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Expects read_npy to throw IoError whose message names the file and contains `what`.
void expect_io_error(const std::string& path, const std::string& what) {
  try {
    tg_test::LargestAllocation largest;
    (void)read_npy<float>(path);
    ADD_FAILURE() << "no error for " << path << " (expected: " << what << ")";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected to contain: " << what;
  }
}

}  // namespace

TEST(Npy, RoundTripsFloatAndDoubleOfEveryRank) {
  TempDir dir;
  const Array<float> a0 = 3.5f;
  const Array<float> a1 = {1.f, -2.f, 3.25f};
  const Array<float> a2 = {{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}};
  Array<double> a3 = xt::reshape_view(xt::arange<double>(24) * 0.1, {2, 3, 4});
  const Array<float> empty = xt::zeros<float>({0, 3});
  for (const auto& a : {a0, a1, a2, empty}) {
    write_npy(dir / "a.npy", a);
    const Array<float> back = read_npy<float>(dir / "a.npy");
    EXPECT_EQ(back.shape(), a.shape());
    EXPECT_EQ(back, a);
  }
  write_npy(dir / "d.npy", a3);
  EXPECT_EQ(read_npy<double>(dir / "d.npy"), a3);
  // Converting on read: float64 file into float.
  EXPECT_TRUE(xt::allclose(read_npy<float>(dir / "d.npy"), Array<float>(xt::cast<float>(a3))));
}

TEST(Npy, HeaderIsPaddedSoDataIsAligned) {
  TempDir dir;
  const Array<float> a = xt::ones<float>({5, 7});
  write_npy(dir / "a.npy", a);
  const std::string bytes = tg_test::read_bytes(dir / "a.npy");
  ASSERT_EQ((bytes.size() - a.size() * sizeof(float)) % 64, 0u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 7), }"), std::string::npos);
}

TEST(Npy, NumpyReadsWhatWeWriteAndWeReadWhatNumpyWrites) {
  TempDir dir;
  Array<double> a = xt::reshape_view(xt::arange<double>(12) / 8.0 - 0.5, {3, 4});
  write_npy(dir / "ours.npy", a);
  write_npy(dir / "scalar.npy", Array<float>(2.5f));
  const std::string script = "import numpy as np, sys\n"
                             "d = '" + dir.path() + "'\n"
                             "a = np.load(d + '/ours.npy')\n"
                             "want = (np.arange(12) / 8.0 - 0.5).reshape(3, 4)\n"
                             "assert a.dtype == np.float64 and a.shape == (3, 4) and (a == want).all(), a\n"
                             "s = np.load(d + '/scalar.npy')\n"
                             "assert s.dtype == np.float32 and s.shape == () and s == 2.5\n"
                             "base = np.arange(12).reshape(3, 4)\n"
                             "for dt in ['<f4', '>f8', '<i2', '>i4', '|u1', '<u8', '|i1', '<i8']:\n"
                             "    np.save(d + '/t_' + dt[1:] + dt[0].replace('<','L').replace('>','B').replace('|','N') + '.npy', base.astype(dt))\n"
                             "np.save(d + '/bool.npy', base % 3 == 0)\n"
                             "np.save(d + '/fortran.npy', np.asfortranarray(base.astype('<f8')))\n"
                             "np.save(d + '/fortran3.npy', np.asfortranarray(np.arange(24.).reshape(2, 3, 4)))\n";
  ASSERT_EQ(tg_test::run_python(dir.path(), script), 0);

  const Array<double> base = xt::reshape_view(xt::arange<double>(12), {3, 4});
  for (const char* name : {"t_f4L", "t_f8B", "t_i2L", "t_i4B", "t_u1N", "t_u8L", "t_i1N", "t_i8L", "fortran"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(read_npy<double>(dir / (std::string(name) + ".npy")), base);
  }
  const Array<float> mask = xt::cast<float>(xt::equal(xt::fmod(base, 3.0), 0.0));
  EXPECT_EQ(read_npy<float>(dir / "bool.npy"), mask);
  const Array<double> cube = xt::reshape_view(xt::arange<double>(24), {2, 3, 4});
  EXPECT_EQ(read_npy<double>(dir / "fortran3.npy"), cube);
}

TEST(Npy, VersionTwoHeaders) {
  TempDir dir;
  tg_test::write_bytes(dir / "v2.npy",
                       npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", raw<float>({1.f, 2.f}), 2));
  EXPECT_EQ(read_npy<float>(dir / "v2.npy"), (Array<float>{1.f, 2.f}));
}

TEST(Npy, MissingOrUnreadableFiles) {
  TempDir dir;
  expect_io_error(dir / "nope.npy", "cannot open");
  expect_io_error(dir.path(), "not a regular file");
  tg_test::write_bytes(dir / "empty.npy", "");
  expect_io_error(dir / "empty.npy", "bad magic");
  tg_test::write_bytes(dir / "text.npy", "hello, this is not numpy at all");
  expect_io_error(dir / "text.npy", "bad magic");
}

TEST(Npy, CorruptHeaders) {
  TempDir dir;
  const std::string data = raw<float>({1.f, 2.f, 3.f, 4.f});
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  struct Case {
    std::string name, bytes, what;
  };
  std::string bad_version = npy_file(ok, data);
  bad_version[6] = 9;
  std::string truncated_header = npy_file(ok, data).substr(0, 30);
  std::string huge_len = npy_file(ok, data);
  huge_len[8] = char(0xff);
  huge_len[9] = char(0xff);
  std::string v2_huge_len = npy_file(ok, data, 2);
  v2_huge_len[11] = char(0x7f);
  const std::vector<Case> cases = {
      {"version", bad_version, "unsupported .npy format version 9"},
      {"short_header", truncated_header, "truncated"},
      {"huge_len", huge_len, "truncated: the .npy header needs 65535 bytes"},
      {"v2_huge_len", v2_huge_len, "exceeds"},
      {"not_dict", npy_file("['descr', '<f4']", data), "expected '{'"},
      {"no_shape", npy_file("{'descr': '<f4', 'fortran_order': False, }", data), "are required"},
      {"extra_key", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", data),
       "unexpected key 'x'"},
      {"bad_bool", npy_file("{'descr': '<f4', 'fortran_order': 0, 'shape': (4,), }", data), "True or False"},
      {"neg_dim", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", data),
       "non-negative integer"},
      {"float_dim", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4.0,), }", data),
       "expected ',' or ')'"},
      {"unterminated", npy_file("{\"descr': '<f4', 'fortran_order': False, 'shape': (4,), }", data),
       "unterminated string"},
      {"bad_quote", npy_file("{'descr': '<f4, 'fortran_order': False, 'shape': (4,), }", data),
       "unsupported dtype '<f4, '"},
      {"complex", npy_file("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", data),
       "unsupported dtype '<c8'"},
      {"object", npy_file("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", data), "unsupported dtype '|O'"},
      {"unicode", npy_file("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", data),
       "unsupported dtype '<U3'"},
      {"half", npy_file("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", data), "unsupported dtype '<f2'"},
      {"structured", npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", data),
       "structured dtypes are not supported"},
      {"trailing_text", npy_file(ok + " junk", data), "unexpected text after the dict"},
      {"dim_overflow",
       npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", data),
       "overflows 64 bits"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    tg_test::write_bytes(dir / (c.name + ".npy"), c.bytes);
    expect_io_error(dir / (c.name + ".npy"), c.what);
  }
}

TEST(Npy, SizesAreCheckedBeforeAllocating) {
  TempDir dir;
  const std::string data = raw<float>({1.f, 2.f, 3.f, 4.f});
  // Shapes claiming far more data than the file holds: an error, and no big allocation.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"huge", "(1099511627776, 1099511627776)"},     // 2^80 bytes: overflow
      {"big", "(1000000000,)"},                        // 4 GB claimed, 16 bytes present
      {"many", "(65536, 65536, 65536, 65536, 65536)"}  // overflow across dimensions
  };
  for (const auto& [name, shape] : cases) {
    SCOPED_TRACE(name);
    tg_test::write_bytes(dir / (name + ".npy"),
                         npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", data));
    tg_test::LargestAllocation largest;
    EXPECT_THROW((void)read_npy<double>(dir / (name + ".npy")), IoError);
    EXPECT_LT(largest.bytes(), std::size_t(1) << 20);
  }
  // Too little data for the shape, and too much.
  tg_test::write_bytes(dir / "short.npy",
                       npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data));
  expect_io_error(dir / "short.npy", "truncated: header says shape (2, 3) (24 bytes of data), but only 16 bytes follow");
  tg_test::write_bytes(dir / "long.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", data));
  expect_io_error(dir / "long.npy", "4 unexpected bytes after the data of shape (3,)");
  // The probe itself works: a valid 4 MB array is seen allocating its 4 MB.
  write_npy(dir / "ok.npy", Array<float>(xt::ones<float>({1024, 1024})));
  tg_test::LargestAllocation largest;
  EXPECT_EQ(read_npy<float>(dir / "ok.npy").size(), 1024u * 1024u);
  EXPECT_GE(largest.bytes(), std::size_t(4) << 20);
}

TEST(Npy, WritingIsAtomic) {
  TempDir dir;
  const Array<float> a = {1.f, 2.f};
  write_npy(dir / "a.npy", a);
  const std::string before = tg_test::read_bytes(dir / "a.npy");
  // A destination that cannot be replaced (a directory): the error names the file, the old
  // content is untouched, and no temporary file is left behind.
  EXPECT_THROW(write_npy(dir.path(), a), IoError);
  EXPECT_THROW(write_npy(dir / "missing-dir/a.npy", a), IoError);
  write_npy(dir / "a.npy", Array<float>{3.f, 4.f, 5.f});
  EXPECT_EQ(read_npy<float>(dir / "a.npy"), (Array<float>{3.f, 4.f, 5.f}));
  EXPECT_NE(tg_test::read_bytes(dir / "a.npy"), before);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"a.npy"});
}
