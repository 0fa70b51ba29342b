#pragma once
/// Layer 6: MNIST-format image sets (MNIST, Fashion-MNIST: same file names and format).
///
///     auto train = tapegrad::data::load_mnist<float>("/usr/share/datasets/fashion-mnist",
///                                                    tapegrad::data::MnistSplit::train);
///     // train.features() (60000, 784) in [0, 1], train.targets() (60000,) class indices 0..9
#include <cstddef>
#include <string>

#include "tapegrad/data/dataset.hpp"
#include "tapegrad/io/file.hpp"

namespace tapegrad::data {

enum class MnistSplit { train, test };

/// Reads `<dir>/{train,t10k}-images-idx3-ubyte[.gz]` and the matching labels file. Images are
/// flattened to one row each and scaled to [0, 1]; targets are the class indices. `limit` > 0
/// keeps only the first `limit` examples. Throws IoError if a file is missing or malformed, or
/// if images and labels disagree in number, or a label is not in 0..9, or the images and
/// labels would take more than `options.max_bytes` together (default 2 GiB; Fashion-MNIST's
/// training set takes 188 MB as float), or memory runs out.
template <class T>
TensorDataset<T> load_mnist(const std::string& dir, MnistSplit split, std::size_t limit = 0,
                            const io::LoadOptions& options = {});

}  // namespace tapegrad::data
