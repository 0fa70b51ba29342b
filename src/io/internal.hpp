#pragma once
// Internal to the io sources (not installed): byte sources and the .npy codec shared by the
// .npy and .npz readers and writers.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/array.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/io/file.hpp"

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

/// The NumPy name of a stored element type without its byte order, for messages: "u1", "f4", "b1".
std::string dtype_name(const DType& type);

/// tapegrad::checked_numel for a shape read from `file`: a shape too large is an IoError naming
/// the file ("<file>: shape (...) is too large: ..."), as every defect of a file is.
std::size_t checked_numel(const std::string& file, const Shape& shape);

/// What a load may still allocate for the arrays it returns: LoadOptions::max_bytes, less what
/// the arrays read so far took.
class Budget {
 public:
  explicit Budget(const LoadOptions& options) : max_(options.max_bytes_), left_(options.max_bytes_) {}
  /// Takes the bytes of `copies` arrays of `shape` whose elements, stored as `stored` (a
  /// dtype_name) in `file`, are read as T; throws IoError naming the file, the shape, both
  /// element types and the limit when they are more than what is left.
  template <class T>
  void take(const std::string& file, const Shape& shape, const std::string& stored, unsigned copies = 1);

 private:
  std::uint64_t max_, left_;
};

/// An array of `shape` for data read from `file` (whose shape passed checked_numel): running
/// out of memory is an IoError naming the file, the shape and the bytes, not std::bad_alloc.
template <class T>
Array<T> allocate(const std::string& file, const Shape& shape);

/// Returns f(); a std::bad_alloc thrown by it becomes an IoError naming `path`. Every loader's
/// entry point runs through it, so that no allocation failure leaves a loader as std::bad_alloc.
template <class F>
auto out_of_memory_is_io_error(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    throw IoError(detail::concat(path, ": out of memory while loading it"));
  }
}

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
/// Reads the data of a .npy array whose header was just read, taking its bytes from `budget`.
template <class T>
Array<T> read_npy_data(Reader& in, const NpyHeader& header, Budget& budget);
/// Reads a whole .npy array from `in` (header and data).
template <class T>
Array<T> read_npy_from(Reader& in, Budget& budget);

/// The one element of an array, exactly as stored: an integer (signed, unsigned or bool) or a
/// float. Checkpoints read their step count this way.
struct NpyScalar {
  bool is_float = false;
  double value = 0;             ///< a float's value
  bool negative = false;        ///< an integer's sign
  std::uint64_t magnitude = 0;  ///< an integer's absolute value
};
/// Reads the data of a one-element array whose header was just read.
NpyScalar read_npy_scalar(Reader& in, const NpyHeader& header);

/// The bytes of a .npy file holding `a` (format 1.0, or 2.0 for very long headers).
template <class T>
std::string npy_bytes(const Array<T>& a);
/// The bytes of a .npy file holding the 0-d int64 array `v`.
std::string npy_int64_bytes(std::int64_t v);
/// Just the header of a .npy file of T.
template <class T>
std::string npy_header(const Shape& shape);

/// Called by read_npz_entries for each entry, with its name (".npy" removed) and header, the
/// reader at its first data byte. Returning true means it consumed the entry's data itself;
/// false, that the entry is to be read as an array.
using NpzEntryHook = std::function<bool(const std::string& name, const NpyHeader& header, Reader& in)>;
/// read_npz, with `hook` (may be empty) offered each entry first.
template <class T>
StateDict<T> read_npz_entries(const std::string& path, const LoadOptions& options, const NpzEntryHook& hook);
/// write_npz of entries given as (name, bytes of a .npy file).
void write_npz_files(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files,
                     bool deflate);

}  // namespace tapegrad::io::io_detail
