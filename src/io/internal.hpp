#pragma once
// Internal to the io sources (not installed): byte sources and the .npy codec shared by the
// .npy and .npz readers and writers.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tapegrad/array.hpp"

namespace tapegrad::io::io_detail {

/// Writes everything or throws IoError naming `path`.
void write_all(int fd, const void* data, std::size_t size, const std::string& path);

/// A sequential byte source whose total size is known before reading (a file, a zip entry), so
/// that sizes claimed by a header are checked before anything is allocated.
class Reader {
 public:
  virtual ~Reader() = default;
  /// Reads up to n bytes; returns fewer only at the end of the data. Throws IoError on errors.
  virtual std::size_t read(void* dst, std::size_t n) = 0;
  /// Total bytes of the source.
  virtual std::uint64_t size() const = 0;
  /// Bytes consumed so far.
  virtual std::uint64_t position() const = 0;
  /// The name used in messages ("model.npz: layers.0.weight.npy").
  virtual const std::string& name() const = 0;

  std::uint64_t remaining() const { return size() - position(); }
  /// Reads exactly n bytes or throws IoError ("truncated") naming `what`.
  void read_exact(void* dst, std::size_t n, const char* what);
};

/// A regular file (anything else is an IoError).
class FileReader final : public Reader {
 public:
  explicit FileReader(const std::string& path);
  ~FileReader() override;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  std::size_t read(void* dst, std::size_t n) override;
  std::uint64_t size() const override { return size_; }
  std::uint64_t position() const override { return position_; }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;
};

/// Element types the readers convert from.
enum class Kind : std::uint8_t { float_, signed_, unsigned_, bool_ };

/// One element type as stored in a file.
struct DType {
  Kind kind = Kind::float_;
  std::size_t itemsize = 4;
  bool little_endian = true;
};

/// True on little-endian hosts.
bool host_little_endian() noexcept;

/// Reads `count` elements of `type` from `in` into `out`, converting to T. Reads in blocks, so
/// memory beyond `out` stays small.
template <class T>
void read_elements(Reader& in, const DType& type, T* out, std::size_t count, const char* what);

/// The header of a .npy array.
struct NpyHeader {
  DType dtype;
  bool fortran_order = false;
  Shape shape;
  std::uint64_t data_bytes = 0;  ///< numel * itemsize, checked against overflow
};

/// Parses and validates a .npy header, leaving `in` at the first data byte. Checks that the
/// data the header announces fits exactly in what remains of `in`.
NpyHeader read_npy_header(Reader& in);
/// Reads a whole .npy array from `in` (header and data).
template <class T>
Array<T> read_npy_from(Reader& in);
/// The bytes of a .npy file holding `a` (format 1.0, or 2.0 for very long headers).
template <class T>
std::string npy_bytes(const Array<T>& a);
/// Just the header of such a file.
template <class T>
std::string npy_header(const Shape& shape);

}  // namespace tapegrad::io::io_detail
