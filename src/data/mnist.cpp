#include <unistd.h>

#include <cstdint>
#include <new>

#include "tapegrad/data/mnist.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/io/idx.hpp"
#include "detail/xtensor_extra.hpp"  // xt::view

namespace tapegrad::data {

namespace {
// "<dir>/<name>.gz" if it exists, else "<dir>/<name>" (whose absence read_idx reports).
std::string find(const std::string& dir, const std::string& name) {
  const std::string gz = dir + "/" + name + ".gz";
  return ::access(gz.c_str(), F_OK) == 0 ? gz : dir + "/" + name;
}
}  // namespace

template <class T>
TensorDataset<T> load_mnist(const std::string& dir, MnistSplit split, std::size_t limit,
                            const io::LoadOptions& options) {
  const std::string prefix = split == MnistSplit::train ? "train" : "t10k";
  const std::string images_path = find(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find(dir, prefix + "-labels-idx1-ubyte");
  Array<T> images = io::read_idx<T>(images_path, options);
  // The labels get what the images left of the limit.
  const std::uint64_t image_bytes = std::uint64_t(images.size()) * sizeof(T);
  Array<T> labels = io::read_idx<T>(labels_path, io::LoadOptions().max_bytes(options.max_bytes_ - image_bytes));
  TG_CHECK(IoError, images.dimension() == 3, images_path, ": expected images (N, rows, cols), got shape ",
           to_string(images.shape()));
  TG_CHECK(IoError, labels.dimension() == 1, labels_path, ": expected labels (N), got shape ",
           to_string(labels.shape()));
  TG_CHECK(IoError, images.shape()[0] == labels.shape()[0], images_path, " holds ", images.shape()[0],
           " images but ", labels_path, " holds ", labels.shape()[0], " labels");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    TG_CHECK(IoError, labels(i) >= 0 && labels(i) <= 9, labels_path, ": label ", i, " is ", labels(i),
             ", not in 0..9");
  }
  // Scaled and flattened in place: no second copy of 47 M pixels (and of its page faults).
  const std::size_t total = images.shape()[0], pixels = images.shape()[1] * images.shape()[2];
  const T inv = T(1) / T(255);
  T* px = images.data();
  for (std::size_t i = 0; i < images.size(); ++i) px[i] *= inv;
  images.reshape({total, pixels});
  if (limit == 0 || limit >= total) return TensorDataset<T>(std::move(images), std::move(labels));
  try {
    Array<T> x = xt::view(images, xt::range(0, limit), xt::all());
    Array<T> y = xt::view(labels, xt::range(0, limit));
    return TensorDataset<T>(std::move(x), std::move(y));
  } catch (const std::bad_alloc&) {
    throw IoError(detail::concat(images_path, ": out of memory while keeping its first ", limit, " examples"));
  }
}

template TensorDataset<float> load_mnist<float>(const std::string&, MnistSplit, std::size_t, const io::LoadOptions&);
template TensorDataset<double> load_mnist<double>(const std::string&, MnistSplit, std::size_t,
                                                  const io::LoadOptions&);

}  // namespace tapegrad::data
