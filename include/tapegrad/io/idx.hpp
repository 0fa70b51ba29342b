#pragma once
/// Layer 6: the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/),
/// plain or gzipped (detected from the content, not the name).
///
///     auto images = tapegrad::io::read_idx<float>("train-images-idx3-ubyte.gz");  // (60000, 28, 28), 0..255
///     auto labels = tapegrad::io::read_idx<float>("train-labels-idx1-ubyte.gz");  // (60000,)
///
/// The magic number, element type, rank and dimensions are validated, and the size the header
/// announces is checked against the file's size (for gzip: against the most that many
/// compressed bytes can expand to) before anything is allocated.
#include <string>

#include "tapegrad/array.hpp"
#include "tapegrad/io/file.hpp"

namespace tapegrad::io {

/// Reads an IDX file, converting its elements (u8, i8, i16, i32, f32 or f64, big-endian) to T
/// without scaling. Throws IoError naming the file and what is wrong, also when the array would
/// take more than `options.max_bytes` in memory (default 2 GiB, counted after decompression
/// and widening: a 1 MB gzipped file of u8 zeros holds 1 GB, 8 GB read as double) or when
/// memory runs out.
template <class T>
Array<T> read_idx(const std::string& path, const LoadOptions& options = {});

}  // namespace tapegrad::io
