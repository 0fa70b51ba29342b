#pragma once
// Compressed files that expand a lot ("bombs"), for the tests of LoadOptions::max_bytes. Built in
// milliseconds however much they expand to: the compressed form of a MiB of zeros is made once
// and repeated, so a 300 KB file that really decompresses to 300 MB costs no 300 MB to make.
// Needs zlib (link ZLIB::ZLIB).
#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace tg_test {

/// A .npy header (format 1.0) for dtype `descr` ("|u1", "<f4") and shape `shape_text` ("(3,)").
inline std::string npy_header_for(const std::string& descr, const std::string& shape_text) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_text + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string h = "\x93NUMPY";
  h += char(1);
  h += char(0);
  h += char(dict.size() & 0xff);
  h += char(dict.size() >> 8);
  return h + dict;
}

/// The header of a rank-1 IDX file of `n` unsigned bytes.
inline std::string idx_u8_header(std::uint32_t n) {
  std::string h("\0\0\x08\x01", 4);
  for (int k = 3; k >= 0; --k) h += char((n >> (8 * k)) & 0xff);
  return h;
}

namespace bomb_detail {
constexpr std::uint64_t kMiB = std::uint64_t(1) << 20;

// Compresses `data` with deflate (windowBits 15 + 16: gzip; -15: raw deflate), flushing with
// `flush` (Z_FINISH for a whole gzip member, Z_FULL_FLUSH for a raw block that can be repeated).
inline std::string deflate(const std::string& data, int window_bits, int flush) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&z, uLong(data.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = uInt(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  const int r = ::deflate(&z, flush);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  if (r != Z_OK && r != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

inline void put16(std::string& s, unsigned v) {
  s += char(v & 0xff);
  s += char((v >> 8) & 0xff);
}
inline void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xffff);
  put16(s, v >> 16);
}
}  // namespace bomb_detail

/// A gzip file that decompresses to `header` followed by `zeros` zero bytes: concatenated gzip
/// members (one stream to gunzip and to zlib's gzread), about 1 KB per MiB of zeros.
inline std::string gzip_zeros(const std::string& header, std::uint64_t zeros) {
  using namespace bomb_detail;
  const std::uint64_t first = zeros % kMiB;
  std::string out = deflate(header + std::string(first, '\0'), 15 + 16, Z_FINISH);
  const std::string mib = deflate(std::string(kMiB, '\0'), 15 + 16, Z_FINISH);
  for (std::uint64_t k = 0; k < zeros / kMiB; ++k) out += mib;
  return out;
}

/// A .npz (zip) file with one deflated entry `name` that decompresses to `npy_header` followed
/// by `zeros` zero bytes (less than 4 GiB in all: no zip64), with a correct CRC-32 and sizes: a
/// genuine archive that numpy.load reads. About 1 KB per MiB of zeros.
inline std::string npz_zeros(const std::string& name, const std::string& npy_header, std::uint64_t zeros) {
  using namespace bomb_detail;
  const std::uint64_t size = npy_header.size() + zeros;
  if (size >= (std::uint64_t(1) << 32)) throw std::runtime_error("npz_zeros: 4 GiB or more needs zip64");
  // A raw deflate stream: the header and the first zeros, then the same full-flushed block of a
  // MiB of zeros again and again (a full flush forgets the history, so the block is the same
  // each time and starts on a byte boundary), then an empty final block.
  const std::uint64_t first = zeros % kMiB;
  std::string data = deflate(npy_header + std::string(first, '\0'), -15, Z_FULL_FLUSH);
  const std::string mib = deflate(std::string(kMiB, '\0'), -15, Z_FULL_FLUSH);
  for (std::uint64_t k = 0; k < zeros / kMiB; ++k) data += mib;
  data += std::string("\x03\x00", 2);  // a final, empty block with fixed codes
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(npy_header.data()), uInt(npy_header.size()));
  const std::string first_zeros(first, '\0');
  crc = crc32(crc, reinterpret_cast<const Bytef*>(first_zeros.data()), uInt(first));
  const std::string mib_zeros(kMiB, '\0');
  const uLong mib_crc = crc32(0L, reinterpret_cast<const Bytef*>(mib_zeros.data()), uInt(kMiB));
  for (std::uint64_t k = 0; k < zeros / kMiB; ++k) crc = crc32_combine(crc, mib_crc, z_off_t(kMiB));

  const std::string entry = name + ".npy";
  const auto common = [&](std::string& s) {  // from "version needed" to the name's length
    put16(s, 20);                             // version needed: deflate
    put16(s, 0);                              // flags
    put16(s, 8);                              // method: deflate
    put16(s, 0);                              // time 00:00
    put16(s, (0 << 9) | (1 << 5) | 1);        // date 1980-01-01
    put32(s, std::uint32_t(crc));
    put32(s, std::uint32_t(data.size()));
    put32(s, std::uint32_t(size));
    put16(s, unsigned(entry.size()));
    put16(s, 0);  // extra field length
  };
  std::string zip;
  put32(zip, 0x04034b50);  // local file header
  common(zip);
  zip += entry;
  zip += data;
  const std::uint32_t directory_offset = std::uint32_t(zip.size());
  std::string directory;
  put32(directory, 0x02014b50);  // central directory header
  put16(directory, 20);          // version made by
  common(directory);
  put16(directory, 0);  // comment length
  put16(directory, 0);  // disk
  put16(directory, 0);  // internal attributes
  put32(directory, 0);  // external attributes
  put32(directory, 0);  // offset of the local header
  directory += entry;
  zip += directory;
  put32(zip, 0x06054b50);  // end of central directory
  put16(zip, 0);
  put16(zip, 0);
  put16(zip, 1);
  put16(zip, 1);
  put32(zip, std::uint32_t(directory.size()));
  put32(zip, directory_offset);
  put16(zip, 0);
  return zip;
}

}  // namespace tg_test
