#include "tapegrad/io/npz.hpp"

#include <gtest/gtest.h>

#include "bomb_util.hpp"
#include "io_test_util.hpp"
#include "tapegrad/error.hpp"

using tapegrad::Array;
using tapegrad::IoError;
using tapegrad::StateDict;
using tapegrad::ValueError;
using tapegrad::io::NpzCompression;
using tapegrad::io::read_npz;
using tapegrad::io::write_npz;
using tg_test::TempDir;

namespace {

StateDict<float> sample() {
  StateDict<float> d;
  d.emplace_back("layers.0.weight", Array<float>(xt::reshape_view(xt::arange<float>(6) * 0.5f, {2, 3})));
  d.emplace_back("layers.0.bias", Array<float>{{0.25f, -1.f, 2.f}});
  d.emplace_back("step", Array<float>(7.f));
  d.emplace_back("empty", Array<float>(xt::zeros<float>({0})));
  return d;
}

void expect_same(const StateDict<float>& a, const StateDict<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.shape(), b[i].second.shape()) << a[i].first;
    EXPECT_EQ(a[i].second, b[i].second) << a[i].first;
  }
}

void expect_io_error(const std::string& path, const std::string& what) {
  try {
    tg_test::LargestAllocation largest;
    (void)read_npz<double>(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected: " << what;
  }
}

}  // namespace

TEST(Npz, RoundTripsStoredAndDeflated) {
  TempDir dir;
  for (auto c : {NpzCompression::none, NpzCompression::deflate}) {
    write_npz(dir / "a.npz", sample(), c);
    expect_same(read_npz<float>(dir / "a.npz"), sample());
  }
  StateDict<double> none;
  write_npz(dir / "empty.npz", none);
  EXPECT_TRUE(read_npz<double>(dir / "empty.npz").empty());
}

TEST(Npz, SameArraysGiveSameBytes) {
  TempDir dir;
  write_npz(dir / "a.npz", sample(), NpzCompression::deflate);
  const std::string first = tg_test::read_bytes(dir / "a.npz");
  write_npz(dir / "b.npz", sample(), NpzCompression::deflate);
  EXPECT_EQ(tg_test::read_bytes(dir / "b.npz"), first);
}

TEST(Npz, NumpyReadsOursAndWeReadNumpys) {
  TempDir dir;
  write_npz(dir / "stored.npz", sample());
  write_npz(dir / "deflated.npz", sample(), NpzCompression::deflate);
  write_npz(dir / "empty.npz", StateDict<float>{});
  const std::string script =
      "import numpy as np\n"
      "d = '" + dir.path() + "'\n"
      "for name in ['stored', 'deflated']:\n"
      "    z = np.load(d + '/' + name + '.npz')\n"
      "    assert list(z.keys()) == ['layers.0.weight', 'layers.0.bias', 'step', 'empty'], list(z.keys())\n"
      "    w = z['layers.0.weight']\n"
      "    assert w.dtype == np.float32 and (w == np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5).all()\n"
      "    assert z['layers.0.bias'].shape == (1, 3) and z['step'].shape == () and z['step'] == 7\n"
      "    assert z['empty'].shape == (0,)\n"
      "assert len(np.load(d + '/empty.npz').files) == 0\n"
      "x = np.linspace(-1, 1, 20).reshape(4, 5)\n"
      "np.savez(d + '/np_stored.npz', x=x, labels=np.arange(4, dtype=np.uint8), flag=np.array(True))\n"
      "np.savez_compressed(d + '/np_deflated.npz', x=x, labels=np.arange(4, dtype=np.uint8), flag=np.array(True))\n";
  ASSERT_EQ(tg_test::run_python(dir.path(), script), 0);
  const Array<double> x = xt::reshape_view(xt::linspace<double>(-1, 1, 20), {4, 5});
  for (const char* name : {"np_stored.npz", "np_deflated.npz"}) {
    SCOPED_TRACE(name);
    const auto z = read_npz<double>(dir / name);
    ASSERT_EQ(z.size(), 3u);
    EXPECT_EQ(z[0].first, "x");
    EXPECT_TRUE(xt::allclose(z[0].second, x, 0, 1e-15));
    EXPECT_EQ(z[1].first, "labels");
    EXPECT_EQ(z[1].second, (Array<double>{0, 1, 2, 3}));
    EXPECT_EQ(z[2].first, "flag");
    EXPECT_EQ(z[2].second, Array<double>(1.0));
  }
}

TEST(Npz, BadNamesAreRejectedBeforeTheFileIsTouched) {
  TempDir dir;
  write_npz(dir / "a.npz", sample());
  const std::string before = tg_test::read_bytes(dir / "a.npz");
  StateDict<float> dup = sample();
  dup.emplace_back("step", Array<float>(1.f));
  EXPECT_THROW(write_npz(dir / "a.npz", dup), ValueError);
  StateDict<float> unnamed = {{"", Array<float>(1.f)}};
  EXPECT_THROW(write_npz(dir / "a.npz", unnamed), ValueError);
  EXPECT_EQ(tg_test::read_bytes(dir / "a.npz"), before);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"a.npz"});
}

TEST(Npz, CorruptArchives) {
  TempDir dir;
  expect_io_error(dir / "missing.npz", "cannot open");
  tg_test::write_bytes(dir / "text.npz", "this is not a zip archive at all, just text");
  expect_io_error(dir / "text.npz", "not a readable .npz (zip) archive");
  write_npz(dir / "good.npz", sample());
  const std::string good = tg_test::read_bytes(dir / "good.npz");
  tg_test::write_bytes(dir / "cut.npz", good.substr(0, good.size() / 2));
  expect_io_error(dir / "cut.npz", "not a readable .npz (zip) archive");
  tg_test::write_bytes(dir / "cut_end.npz", good.substr(0, good.size() - 10));
  expect_io_error(dir / "cut_end.npz", "not a readable .npz (zip) archive");
  // One flipped bit in an array's data: the CRC check catches it.
  std::string flipped = good;
  const std::size_t at = flipped.find("\x93NUMPY") + 128 + 5;  // inside the first array's data
  flipped[at] = char(flipped[at] ^ 0x10);
  tg_test::write_bytes(dir / "flipped.npz", flipped);
  expect_io_error(dir / "flipped.npz", "layers.0.weight.npy");
}

TEST(Npz, CorruptEntriesNameTheEntry) {
  TempDir dir;
  const std::string script =
      "import zipfile, struct, numpy as np, io\n"
      "d = '" + dir.path() + "'\n"
      "def npy(header, data):\n"
      "    h = header.encode()\n"
      "    h += b' ' * ((64 - (10 + len(h) + 1) % 64) % 64) + b'\\n'\n"
      "    return b'\\x93NUMPY\\x01\\x00' + struct.pack('<H', len(h)) + h + data\n"
      "with zipfile.ZipFile(d + '/readme.npz', 'w') as z:\n"
      "    z.writestr('readme.txt', 'hello')\n"
      "with zipfile.ZipFile(d + '/short.npz', 'w') as z:\n"
      "    z.writestr('w.npy', npy(\"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }\", b'\\0' * 16))\n"
      "with zipfile.ZipFile(d + '/dtype.npz', 'w') as z:\n"
      "    z.writestr('w.npy', npy(\"{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\", b'\\0' * 16))\n"
      "with zipfile.ZipFile(d + '/dup.npz', 'w') as z:\n"
      "    buf = io.BytesIO(); np.save(buf, np.ones(2)); z.writestr('a.npy', buf.getvalue())\n"
      "    z.writestr('a.npy', buf.getvalue())\n"
      // A deflated entry whose directory claims 4 GB: the size fields of the local header
      // (offset 22) and of the central directory (offset 24 after 'PK\\1\\2') are patched.
      "with zipfile.ZipFile(d + '/bomb.npz', 'w', zipfile.ZIP_DEFLATED) as z:\n"
      "    buf = io.BytesIO(); np.save(buf, np.zeros(100)); z.writestr('z.npy', buf.getvalue())\n"
      "b = bytearray(open(d + '/bomb.npz', 'rb').read())\n"
      "b[22:26] = struct.pack('<I', 0xFFFFFFF0)\n"
      "c = b.find(b'PK\\x01\\x02')\n"
      "b[c + 24:c + 28] = struct.pack('<I', 0xFFFFFFF0)\n"
      "open(d + '/bomb.npz', 'wb').write(bytes(b))\n";
  ASSERT_EQ(tg_test::run_python(dir.path(), script), 0);
  expect_io_error(dir / "readme.npz", "entry 'readme.txt' is not a .npy file");
  expect_io_error(dir / "short.npz", "entry 'w.npy': truncated");
  expect_io_error(dir / "dtype.npz", "unsupported dtype '<c16'");
  expect_io_error(dir / "dup.npz", "not a readable .npz (zip) archive");
  expect_io_error(dir / "bomb.npz", "entry 'z.npy'");
  tg_test::LargestAllocation largest;
  EXPECT_THROW((void)read_npz<float>(dir / "bomb.npz"), IoError);
  EXPECT_LT(largest.bytes(), std::size_t(1) << 20);
}

TEST(Npz, MemoryLimitCountsWhatTheArraysTakeAfterWidening) {
  // 3 KB that inflate to 3 MiB of u1 zeros: a genuine archive (numpy reads it) within the ratio
  // cap on compressed sizes, but 12 MiB as float. The caller's limit decides, over all entries.
  TempDir dir;
  const std::uint64_t n = 3 << 20;
  tg_test::write_bytes(dir / "bomb.npz",
                       tg_test::npz_zeros("x", tg_test::npy_header_for("|u1", "(" + std::to_string(n) + ",)"), n));
  EXPECT_LT(tg_test::read_bytes(dir / "bomb.npz").size(), 4096u);
  ASSERT_EQ(tg_test::run_python(dir.path(), "import numpy as np, sys\n"
                                            "x = np.load('" + dir / "bomb.npz" + "')['x']\n"
                                            "sys.exit(0 if x.dtype == np.uint8 and x.shape == (3 << 20,) and not x.any() else 1)\n"),
            0);
  const auto limit = [](std::uint64_t bytes) { return tapegrad::io::LoadOptions().max_bytes(bytes); };
  EXPECT_EQ(read_npz<float>(dir / "bomb.npz", limit(n * 4))[0].second.size(), n);
  tg_test::LargestAllocation largest;
  try {
    (void)read_npz<float>(dir / "bomb.npz", limit(n * 4 - 1));
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "bomb.npz" + ": entry 'x.npy': shape (3145728,) of u1 read as float "
                                                             "needs 12582912 bytes, more than the limit of 12582911"),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(largest.bytes(), std::size_t(1) << 20);
  // A Fortran-ordered array counts twice: it is transposed through a copy.
  ASSERT_EQ(tg_test::run_python(dir.path(), "import numpy as np\n"
                                            "np.savez('" + dir / "f.npz" + "', f=np.asfortranarray(np.ones((4, 8), np.float32)))\n"),
            0);
  EXPECT_EQ(read_npz<float>(dir / "f.npz", limit(256))[0].second, Array<float>(xt::ones<float>({4, 8})));
  try {
    (void)read_npz<float>(dir / "f.npz", limit(255));
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("needs 256 bytes (with the copy that transposes its Fortran order)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Npz, RunningOutOfMemoryIsAnIoError) {
  TempDir dir;
  write_npz<float>(dir / "big.npz", {{"w", Array<float>(xt::ones<float>({512, 512}))}});
  tg_test::FailAllocationsAbove fail(512 << 10);
  expect_io_error(dir / "big.npz", "entry 'w.npy': out of memory allocating 2097152 bytes for an array of shape (512, 512)");
}
