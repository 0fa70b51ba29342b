// The .npy codec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// A header is a magic string, a version, a length and a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// which is parsed here by a small strict parser (never eval'd, never trusted).
#include "tapegrad/io/npy.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "io/internal.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/io/file.hpp"

namespace tapegrad::io {

namespace io_detail {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
// numpy refuses headers longer than 10000 bytes by default (max_header_size); ours are ~100.
// The limit keeps a hostile length field from allocating.
constexpr std::size_t kMaxHeaderLen = 1 << 16;
// numpy's NPY_MAXDIMS is 32 (64 since numpy 2).
constexpr std::size_t kMaxDims = 64;

// A recursive-descent parser for the header's dict literal.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& file) : s_(text), file_(file) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = string_literal("a key");
      expect(':');
      if (key == "descr") {
        h.dtype = dtype(string_literal("the 'descr' value (structured dtypes are not supported)"));
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        h.shape = shape();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    skip_space();
    if (i_ != s_.size()) fail("unexpected text after the dict");
    if (!have_descr || !have_order || !have_shape) fail("'descr', 'fortran_order' and 'shape' are required");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(detail::concat(file_, ": malformed .npy header at offset ", i_, ": ", what));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal(const char* what) {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail(std::string("expected a string as ") + what);
    const std::size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail("expected True or False for 'fortran_order'");
  }
  Shape shape() {
    expect('(');
    Shape out;
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++i_;
        return out;
      }
      if (peek() < '0' || peek() > '9') fail("expected a non-negative integer in 'shape'");
      std::uint64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        const unsigned digit = unsigned(peek() - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) fail("dimension overflows 64 bits");
        v = v * 10 + digit;
        ++i_;
      }
      if (peek() == 'L') ++i_;  // Python 2 longs
      if (out.size() == kMaxDims) fail("more than 64 dimensions");
      if (v > std::numeric_limits<std::size_t>::max()) fail("dimension too large");
      out.push_back(std::size_t(v));
      skip_space();
      if (peek() == ',') {
        ++i_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in 'shape'");
      }
    }
  }
  DType dtype(const std::string& d) {
    DType t;
    const auto bad = [&]() { fail("unsupported dtype '" + d + "' (supported: float, int, uint, bool)"); };
    if (d.size() < 3) bad();
    switch (d[0]) {
      case '<': t.little_endian = true; break;
      case '>': t.little_endian = false; break;
      case '|':
      case '=': t.little_endian = host_little_endian(); break;
      default: bad();
    }
    const std::string size = d.substr(2);
    if (size != "1" && size != "2" && size != "4" && size != "8") bad();
    t.itemsize = std::size_t(size[0] - '0');
    switch (d[1]) {
      case 'f':
        t.kind = Kind::float_;
        if (t.itemsize != 4 && t.itemsize != 8) bad();
        break;
      case 'i': t.kind = Kind::signed_; break;
      case 'u': t.kind = Kind::unsigned_; break;
      case 'b':
        t.kind = Kind::bool_;
        if (t.itemsize != 1) bad();
        break;
      default: bad();
    }
    return t;
  }

  const std::string& s_;
  const std::string& file_;
  std::size_t i_ = 0;
};

template <class T>
constexpr Kind kind_of() {
  return std::is_floating_point_v<T> ? Kind::float_ : std::is_signed_v<T> ? Kind::signed_ : Kind::unsigned_;
}

template <class T>
const char* descr_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "npy: float or double");
  if (host_little_endian()) return std::is_same_v<T, float> ? "<f4" : "<f8";
  return std::is_same_v<T, float> ? ">f4" : ">f8";
}

template <class U>
U load(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(U)];
  if (swap) {
    for (std::size_t k = 0; k < sizeof(U); ++k) b[k] = p[sizeof(U) - 1 - k];
  } else {
    std::memcpy(b, p, sizeof(U));
  }
  U u;
  std::memcpy(&u, b, sizeof(U));
  return u;
}

// Converts n elements of type U at p into out: one loop per source type, so the type dispatch
// happens once per block rather than once per element (the loop over u8 pixels vectorises).
template <class U, class T>
void convert_block(const unsigned char* p, std::size_t n, bool swap, T* out) {
  if (!swap) {
    for (std::size_t k = 0; k < n; ++k) {
      U u;
      std::memcpy(&u, p + k * sizeof(U), sizeof(U));
      out[k] = T(u);
    }
  } else {
    for (std::size_t k = 0; k < n; ++k) out[k] = T(load<U>(p + k * sizeof(U), true));
  }
}

template <class T>
void convert(const unsigned char* p, std::size_t n, const DType& t, bool swap, T* out) {
  switch (t.kind) {
    case Kind::float_:
      if (t.itemsize == 4) return convert_block<float>(p, n, swap, out);
      return convert_block<double>(p, n, swap, out);
    case Kind::signed_:
      switch (t.itemsize) {
        case 1: return convert_block<std::int8_t>(p, n, swap, out);
        case 2: return convert_block<std::int16_t>(p, n, swap, out);
        case 4: return convert_block<std::int32_t>(p, n, swap, out);
        default: return convert_block<std::int64_t>(p, n, swap, out);
      }
    case Kind::unsigned_:
      switch (t.itemsize) {
        case 1: return convert_block<std::uint8_t>(p, n, swap, out);
        case 2: return convert_block<std::uint16_t>(p, n, swap, out);
        case 4: return convert_block<std::uint32_t>(p, n, swap, out);
        default: return convert_block<std::uint64_t>(p, n, swap, out);
      }
    case Kind::bool_:
      for (std::size_t k = 0; k < n; ++k) out[k] = T(p[k] != 0 ? 1 : 0);
      return;
  }
}

}  // namespace

bool host_little_endian() noexcept {
  const std::uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

template <class T>
void read_elements(Reader& in, const DType& type, T* out, std::size_t count, const char* what) {
  const bool swap = type.little_endian != host_little_endian() && type.itemsize > 1;
  if (type.kind == kind_of<T>() && type.itemsize == sizeof(T) && !swap) {
    in.read_exact(out, count * sizeof(T), what);
    return;
  }
  constexpr std::size_t kBlock = 1 << 16;
  unsigned char buf[kBlock];
  const std::size_t per_block = kBlock / type.itemsize;
  while (count > 0) {
    const std::size_t n = std::min(count, per_block);
    in.read_exact(buf, n * type.itemsize, what);
    convert(buf, n, type, swap, out);
    out += n;
    count -= n;
  }
}

NpyHeader read_npy_header(Reader& in) {
  const std::string& file = in.name();
  unsigned char pre[kMagicLen + 2];
  TG_CHECK(IoError, in.read(pre, sizeof pre) == sizeof pre && std::memcmp(pre, kMagic, kMagicLen) == 0, file,
           ": not a .npy file (bad magic string)");
  const unsigned major = pre[kMagicLen];
  TG_CHECK(IoError, major >= 1 && major <= 3, file, ": unsupported .npy format version ", major, ".",
           unsigned(pre[kMagicLen + 1]));
  std::size_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    in.read_exact(b, 2, "the header length");
    header_len = std::size_t(b[0]) | std::size_t(b[1]) << 8;
  } else {
    unsigned char b[4];
    in.read_exact(b, 4, "the header length");
    header_len = std::size_t(b[0]) | std::size_t(b[1]) << 8 | std::size_t(b[2]) << 16 | std::size_t(b[3]) << 24;
  }
  TG_CHECK(IoError, header_len <= kMaxHeaderLen, file, ": .npy header length ", header_len, " exceeds ",
           kMaxHeaderLen, " bytes");
  TG_CHECK(IoError, header_len <= in.remaining(), file, ": truncated: the .npy header needs ", header_len,
           " bytes, the file has ", in.remaining(), " left");
  std::string text(header_len, '\0');
  in.read_exact(text.data(), header_len, "the header");
  NpyHeader h = HeaderParser(text, file).parse();

  // Size checks before anything is allocated: numel * itemsize must not overflow and must be
  // exactly what the file holds after the header. checked_numel bounds the product of the
  // non-zero extents too: xtensor multiplies them into strides even when another extent is 0
  // (found by fuzzing: (0, 2^32, 2^32) overflowed a signed stride).
  const std::uint64_t numel = checked_numel(file, h.shape);  // <= 2^60: times 8 fits
  h.data_bytes = numel * h.dtype.itemsize;
  TG_CHECK(IoError, h.data_bytes <= in.remaining(), file, ": truncated: header says shape ", to_string(h.shape),
           " (", h.data_bytes, " bytes of data), but only ", in.remaining(), " bytes follow");
  TG_CHECK(IoError, h.data_bytes == in.remaining(), file, ": ", in.remaining() - h.data_bytes,
           " unexpected bytes after the data of shape ", to_string(h.shape));
  return h;
}

std::string dtype_name(const DType& type) {
  const char kind = type.kind == Kind::float_ ? 'f' : type.kind == Kind::signed_ ? 'i' : type.kind == Kind::unsigned_ ? 'u' : 'b';
  return std::string(1, kind) + std::to_string(type.itemsize);
}

std::size_t checked_numel(const std::string& file, const Shape& shape) {
  try {
    return tapegrad::checked_numel(file.c_str(), shape);
  } catch (const ValueError& e) {
    throw IoError(e.what());  // the message already starts with the file's name
  }
}

template <class T>
void Budget::take(const std::string& file, const Shape& shape, const std::string& stored, unsigned copies) {
  // numel <= 2^60 (checked_numel), so numel * sizeof(T) * 2 fits in 64 bits.
  const std::uint64_t bytes = std::uint64_t(numel(shape)) * sizeof(T) * copies;
  if (bytes <= left_) {
    left_ -= bytes;
    return;
  }
  throw IoError(detail::concat(
      file, ": shape ", to_string(shape), " of ", stored, " read as ", std::is_same_v<T, float> ? "float" : "double",
      " needs ", bytes, " bytes", copies > 1 ? " (with the copy that transposes its Fortran order)" : "",
      left_ == max_ ? "" : detail::concat(", more than the ", left_, " bytes left of"),
      left_ == max_ ? ", more than the limit of " : " the limit of ", max_,
      " bytes on what one load may allocate (LoadOptions::max_bytes)"));
}

template <class T>
Array<T> allocate(const std::string& file, const Shape& shape) {
  try {
    return Array<T>(shape);
  } catch (const std::bad_alloc&) {
    throw IoError(detail::concat(file, ": out of memory allocating ", std::uint64_t(numel(shape)) * sizeof(T),
                                 " bytes for an array of shape ", to_string(shape)));
  }
}

template <class T>
Array<T> read_npy_data(Reader& in, const NpyHeader& h, Budget& budget) {
  const bool transpose = h.fortran_order && h.shape.size() > 1;
  budget.take<T>(in.name(), h.shape, dtype_name(h.dtype), transpose ? 2 : 1);
  Shape storage = h.shape;
  if (h.fortran_order) std::reverse(storage.begin(), storage.end());
  Array<T> out = allocate<T>(in.name(), storage);
  read_elements(in, h.dtype, out.data(), out.size(), "array data");
  if (transpose) {
    Array<T> c = allocate<T>(in.name(), h.shape);
    xt::noalias(c) = xt::transpose(out);
    return c;
  }
  return out;
}

template <class T>
Array<T> read_npy_from(Reader& in, Budget& budget) {
  const NpyHeader h = read_npy_header(in);
  return read_npy_data<T>(in, h, budget);
}

NpyScalar read_npy_scalar(Reader& in, const NpyHeader& h) {
  TG_CHECK(IoError, h.data_bytes == h.dtype.itemsize, in.name(), ": expected one element, found shape ",
           to_string(h.shape));
  unsigned char b[8];
  in.read_exact(b, h.dtype.itemsize, "array data");
  const bool swap = h.dtype.little_endian != host_little_endian() && h.dtype.itemsize > 1;
  NpyScalar out;
  const auto set_signed = [&](std::int64_t v) {
    out.negative = v < 0;
    // |v| without overflow at INT64_MIN.
    out.magnitude = v < 0 ? std::uint64_t(0) - std::uint64_t(v) : std::uint64_t(v);
  };
  switch (h.dtype.kind) {
    case Kind::float_:
      out.is_float = true;
      out.value = h.dtype.itemsize == 4 ? double(load<float>(b, swap)) : load<double>(b, swap);
      break;
    case Kind::signed_:
      switch (h.dtype.itemsize) {
        case 1: set_signed(load<std::int8_t>(b, swap)); break;
        case 2: set_signed(load<std::int16_t>(b, swap)); break;
        case 4: set_signed(load<std::int32_t>(b, swap)); break;
        default: set_signed(load<std::int64_t>(b, swap)); break;
      }
      break;
    case Kind::unsigned_:
      switch (h.dtype.itemsize) {
        case 1: out.magnitude = load<std::uint8_t>(b, swap); break;
        case 2: out.magnitude = load<std::uint16_t>(b, swap); break;
        case 4: out.magnitude = load<std::uint32_t>(b, swap); break;
        default: out.magnitude = load<std::uint64_t>(b, swap); break;
      }
      break;
    case Kind::bool_: out.magnitude = b[0] != 0 ? 1 : 0; break;
  }
  return out;
}

namespace {
std::string npy_header_of(const char* descr, const Shape& shape) {
  std::string dict = detail::concat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (");
  for (std::size_t k = 0; k < shape.size(); ++k) {
    dict += std::to_string(shape[k]);
    if (shape.size() == 1 || k + 1 < shape.size()) dict += shape.size() == 1 ? "," : ", ";
  }
  dict += "), }";
  // Pad with spaces and a final newline so that the data starts on a 64-byte boundary, as numpy
  // does; version 2.0 only if the header does not fit in 16 bits.
  const bool v2 = dict.size() + 1 + 64 > 65535;
  const std::size_t prefix = kMagicLen + 2 + (v2 ? 4 : 2);
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  const std::size_t len = dict.size();
  std::string out(kMagic, kMagicLen);
  out += char(v2 ? 2 : 1);
  out += char(0);
  out += char(len & 0xff);
  out += char((len >> 8) & 0xff);
  if (v2) {
    out += char((len >> 16) & 0xff);
    out += char((len >> 24) & 0xff);
  }
  return out + dict;
}
}  // namespace

template <class T>
std::string npy_header(const Shape& shape) {
  return npy_header_of(descr_of<T>(), shape);
}

std::string npy_int64_bytes(std::int64_t v) {
  std::string out = npy_header_of(host_little_endian() ? "<i8" : ">i8", Shape{});
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

template <class T>
std::string npy_bytes(const Array<T>& a) {
  std::string out = npy_header<T>(a.shape());
  out.append(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(T));
  return out;
}

template void read_elements<float>(Reader&, const DType&, float*, std::size_t, const char*);
template void read_elements<double>(Reader&, const DType&, double*, std::size_t, const char*);
template void Budget::take<float>(const std::string&, const Shape&, const std::string&, unsigned);
template void Budget::take<double>(const std::string&, const Shape&, const std::string&, unsigned);
template Array<float> allocate<float>(const std::string&, const Shape&);
template Array<double> allocate<double>(const std::string&, const Shape&);
template Array<float> read_npy_data<float>(Reader&, const NpyHeader&, Budget&);
template Array<double> read_npy_data<double>(Reader&, const NpyHeader&, Budget&);
template Array<float> read_npy_from<float>(Reader&, Budget&);
template Array<double> read_npy_from<double>(Reader&, Budget&);
template std::string npy_header<float>(const Shape&);
template std::string npy_header<double>(const Shape&);
template std::string npy_bytes<float>(const Array<float>&);
template std::string npy_bytes<double>(const Array<double>&);

}  // namespace io_detail

template <class T>
Array<T> read_npy(const std::string& path, const LoadOptions& options) {
  return io_detail::out_of_memory_is_io_error(path, [&] {
    io_detail::FileReader in(path);
    io_detail::Budget budget(options);
    return io_detail::read_npy_from<T>(in, budget);
  });
}

template <class T>
void write_npy(const std::string& path, const Array<T>& a) {
  AtomicFile out(path);
  out.write(io_detail::npy_header<T>(a.shape()));
  out.write(a.data(), a.size() * sizeof(T));
  out.commit();
}

template Array<float> read_npy<float>(const std::string&, const LoadOptions&);
template Array<double> read_npy<double>(const std::string&, const LoadOptions&);
template void write_npy<float>(const std::string&, const Array<float>&);
template void write_npy<double>(const std::string&, const Array<double>&);

}  // namespace tapegrad::io
