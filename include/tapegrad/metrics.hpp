#pragma once
/// Metrics: plain numbers computed from values, never recorded on a tape.
///
///     double acc = tapegrad::accuracy(logits.value(), labels);              // multi-class
///     double bin = tapegrad::binary_accuracy(probs.value(), targets);       // p > 0.5 vs 0/1
#include <cstdint>
#include <vector>

#include "tapegrad/array.hpp"

namespace tapegrad {

/// The fraction of rows of `scores` (N, C) — logits or probabilities — whose arg-max (the first
/// one, on ties) equals the row's label. Throws ShapeError unless scores are 2-D with N ≥ 1 rows
/// and there are N labels; ValueError for a label outside [0, C).
template <class T>
double accuracy(const Array<T>& scores, const std::vector<std::int64_t>& labels);
/// The same with labels in an array of shape (N,) or (N, 1) holding integral values.
template <class T>
double accuracy(const Array<T>& scores, const Array<T>& labels);

/// The fraction of elements where the prediction `scores > threshold` agrees with the target
/// (`targets > 0.5`). The default threshold 0.5 suits probabilities; use 0 for logits.
/// Throws ShapeError unless both have the same non-empty shape.
template <class T>
double binary_accuracy(const Array<T>& scores, const Array<T>& targets, double threshold = 0.5);

}  // namespace tapegrad
