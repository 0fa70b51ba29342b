// Accuracy for multi-class scores and for binary predictions.
#include "tapegrad/metrics.hpp"

#include <cmath>

#include "tapegrad/error.hpp"

namespace tapegrad {

namespace {
template <class T, class At>
double accuracy_impl(const Array<T>& scores, std::size_t n_labels, At at) {
  TG_CHECK(ShapeError, scores.dimension() == 2 && scores.shape()[0] > 0 && scores.shape()[1] > 0,
           "accuracy: scores must be 2-D (N, C) with N, C >= 1, got ", to_string(scores.shape()));
  const std::size_t rows = scores.shape()[0], classes = scores.shape()[1];
  TG_CHECK(ShapeError, n_labels == rows, "accuracy: ", n_labels, " labels for ", rows, " rows of scores");
  std::size_t correct = 0;
  for (std::size_t n = 0; n < rows; ++n) {
    const double y = at(n);
    TG_CHECK(ValueError, std::floor(y) == y && y >= 0 && y < double(classes), "accuracy: label ", n, " is ", y,
             ", outside the class indices [0, ", classes, ")");
    const T* row = scores.data() + n * classes;
    std::size_t best = 0;
    for (std::size_t c = 1; c < classes; ++c) {
      if (row[c] > row[best]) best = c;
    }
    correct += best == std::size_t(y);
  }
  return double(correct) / double(rows);
}
}  // namespace

template <class T>
double accuracy(const Array<T>& scores, const std::vector<std::int64_t>& labels) {
  return accuracy_impl(scores, labels.size(), [&](std::size_t n) { return double(labels[n]); });
}

template <class T>
double accuracy(const Array<T>& scores, const Array<T>& labels) {
  const bool column = labels.dimension() == 2 && labels.shape()[1] == 1;
  TG_CHECK(ShapeError, labels.dimension() == 1 || column, "accuracy: labels must have shape (N,) or (N, 1), got ",
           to_string(labels.shape()));
  return accuracy_impl(scores, labels.shape()[0], [&](std::size_t n) { return double(labels.data()[n]); });
}

template <class T>
double binary_accuracy(const Array<T>& scores, const Array<T>& targets, double threshold) {
  TG_CHECK(ShapeError, scores.shape() == targets.shape() && scores.size() > 0, "binary_accuracy: scores ",
           to_string(scores.shape()), " and targets ", to_string(targets.shape()), " must have the same non-empty shape");
  std::size_t correct = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    correct += (double(scores.data()[i]) > threshold) == (double(targets.data()[i]) > 0.5);
  }
  return double(correct) / double(scores.size());
}

#define TAPEGRAD_INSTANTIATE(T)                                                         \
  template double accuracy(const Array<T>&, const std::vector<std::int64_t>&);         \
  template double accuracy(const Array<T>&, const Array<T>&);                           \
  template double binary_accuracy(const Array<T>&, const Array<T>&, double);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
