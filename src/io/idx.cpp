// IDX: 0x00 0x00 <type> <rank>, then rank big-endian uint32 dimensions, then the data,
// big-endian. Gzipped files are read through zlib's gz* interface.
#include "tapegrad/io/idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "io/internal.hpp"
#include "tapegrad/error.hpp"

namespace tapegrad::io {

namespace {

// A deflate stream expands at most ~1032:1: a header claiming more than that many times the
// compressed size is corrupt, and is rejected before allocating.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr unsigned kMaxRank = 16;

// The decompressed content of a gzip file, as a Reader whose size is an upper bound.
class GzReader final : public io_detail::Reader {
 public:
  GzReader(const std::string& path, std::uint64_t compressed_size)
      : name_(path), bound_(compressed_size * kMaxDeflateRatio + 1024) {
    gz_ = gzopen(path.c_str(), "rb");
    if (!gz_) {
      throw IoError(detail::concat(path, ": cannot open: ", errno ? std::strerror(errno) : "out of memory"));
    }
    gzbuffer(gz_, 1 << 17);
  }
  ~GzReader() override { gzclose(gz_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  std::size_t read(void* dst, std::size_t n) override {
    char* p = static_cast<char*>(dst);
    std::size_t got = 0;
    while (got < n) {
      const unsigned chunk = unsigned(std::min<std::size_t>(n - got, 1u << 30));
      const int r = gzread(gz_, p + got, chunk);
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(gz_, &code);
        throw IoError(detail::concat(name_, ": corrupt gzip data: ", msg));
      }
      if (r == 0) break;
      got += std::size_t(r);
    }
    // gzread reports a truncated stream as a short read with an error set.
    int code = 0;
    const char* msg = gzerror(gz_, &code);
    TG_CHECK(IoError, code == Z_OK || code == Z_BUF_ERROR || got == n, name_, ": corrupt gzip data: ", msg);
    TG_CHECK(IoError, code != Z_BUF_ERROR, name_, ": truncated gzip data (unexpected end of file)");
    position_ += got;
    return got;
  }
  std::uint64_t size() const override { return std::max(bound_, position_); }
  std::uint64_t position() const override { return position_; }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  gzFile gz_ = nullptr;
  std::uint64_t bound_;
  std::uint64_t position_ = 0;
};

std::uint32_t big_endian32(const unsigned char* b) {
  return std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | std::uint32_t(b[3]);
}

template <class T>
Array<T> read_idx_from(io_detail::Reader& in, bool exact_size, io_detail::Budget& budget) {
  const std::string& file = in.name();
  unsigned char magic[4];
  TG_CHECK(IoError, in.read(magic, 4) == 4, file, ": not an IDX file (shorter than its 4-byte magic number)");
  TG_CHECK(IoError, magic[0] == 0 && magic[1] == 0, file, ": not an IDX file (magic number starts with ",
           unsigned(magic[0]), ", ", unsigned(magic[1]), " instead of 0, 0)");
  io_detail::DType type;
  type.little_endian = false;
  switch (magic[2]) {
    case 0x08: type = {io_detail::Kind::unsigned_, 1, false}; break;
    case 0x09: type = {io_detail::Kind::signed_, 1, false}; break;
    case 0x0B: type = {io_detail::Kind::signed_, 2, false}; break;
    case 0x0C: type = {io_detail::Kind::signed_, 4, false}; break;
    case 0x0D: type = {io_detail::Kind::float_, 4, false}; break;
    case 0x0E: type = {io_detail::Kind::float_, 8, false}; break;
    default:
      throw IoError(detail::concat(file, ": unknown IDX element type 0x", std::hex, unsigned(magic[2])));
  }
  const unsigned rank = magic[3];
  TG_CHECK(IoError, rank >= 1 && rank <= kMaxRank, file, ": IDX rank ", rank, " is outside [1, ", kMaxRank, "]");
  unsigned char dims[4 * kMaxRank];
  in.read_exact(dims, 4 * rank, "the dimensions");
  Shape shape;
  for (unsigned k = 0; k < rank; ++k) shape.push_back(std::size_t(big_endian32(dims + 4 * k)));
  // checked_numel bounds the product of the non-zero dimensions too: xtensor multiplies them into
  // signed strides even when another dimension is 0 (found by fuzzing: tests/data/fuzz-regressions).
  const std::uint64_t numel = io_detail::checked_numel(file, shape);  // <= 2^60: times 8 fits
  const std::uint64_t bytes = numel * type.itemsize;
  TG_CHECK(IoError, bytes <= in.remaining(), file, ": truncated: header says shape ", to_string(shape), " (",
           bytes, " bytes of data), but ", exact_size ? "only " : "the compressed file can hold at most ",
           in.remaining(), " bytes follow");
  TG_CHECK(IoError, !exact_size || bytes == in.remaining(), file, ": ", in.remaining() - bytes,
           " unexpected bytes after the data of shape ", to_string(shape));
  // What the array takes in memory, after widening (u1 read as double: 8 times the stored
  // bytes), is bounded by what the caller allows, not just by what the file can hold.
  budget.take<T>(file, shape, io_detail::dtype_name(type));
  Array<T> out = io_detail::allocate<T>(file, shape);
  io_detail::read_elements(in, type, out.data(), out.size(), "IDX data");
  if (!exact_size) {
    char extra;
    TG_CHECK(IoError, in.read(&extra, 1) == 0, file, ": unexpected data after the shape ", to_string(shape),
             " the header announces");
  }
  return out;
}

}  // namespace

template <class T>
Array<T> read_idx(const std::string& path, const LoadOptions& options) {
  return io_detail::out_of_memory_is_io_error(path, [&] {
    io_detail::Budget budget(options);
    io_detail::FileReader file(path);
    unsigned char head[2] = {0, 0};
    const std::size_t n = file.read(head, 2);
    if (n == 2 && head[0] == 0x1f && head[1] == 0x8b) {
      GzReader gz(path, file.size());
      return read_idx_from<T>(gz, false, budget);
    }
    io_detail::FileReader plain(path);
    return read_idx_from<T>(plain, true, budget);
  });
}

template Array<float> read_idx<float>(const std::string&, const LoadOptions&);
template Array<double> read_idx<double>(const std::string&, const LoadOptions&);

}  // namespace tapegrad::io
