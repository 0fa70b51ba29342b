#pragma once
/// Layer 6: standardisation, x' = (x − mean) / std per feature, as scikit-learn's
/// StandardScaler: fit on the training set only, then apply the same transform to the
/// training, validation and test sets.
///
///     tapegrad::data::Standardizer<float> scaler;
///     scaler.fit(train.features());
///     scaler.transform_inplace(train.features());
///     scaler.transform_inplace(test.features());
#include "tapegrad/array.hpp"

namespace tapegrad::data {

template <class T>
class Standardizer {
 public:
  /// Learns the mean and the (population, ddof = 0) standard deviation of each feature over
  /// the rows of `x` (N, features...), accumulating in double. A feature with zero variance
  /// gets scale 1, so it maps to 0 instead of NaN. Throws ValueError for no rows or a
  /// non-finite value (naming its row and feature).
  Standardizer& fit(const Array<T>& x);
  /// (x − mean) / scale, row by row. Throws StateError before fit(), ShapeError if the rows of
  /// `x` do not have the fitted feature shape.
  void transform_inplace(Array<T>& x) const;
  Array<T> transform(const Array<T>& x) const {
    Array<T> out = x;
    transform_inplace(out);
    return out;
  }
  /// x · scale + mean: the original units.
  Array<T> inverse_transform(const Array<T>& x) const;

  bool fitted() const noexcept { return mean_.size() > 0; }
  /// Per-feature mean and scale (std, or 1 for a constant feature), shaped as one row.
  const Array<T>& mean() const noexcept { return mean_; }
  const Array<T>& scale() const noexcept { return scale_; }

  /// {"mean", "scale"}, to save next to a model's parameters.
  StateDict<T> state_dict() const;
  /// Restores a state_dict(); throws ValueError naming what is missing or misshapen.
  void load_state_dict(const StateDict<T>& state);

 private:
  void check(const Array<T>& x, const char* op) const;
  Array<T> mean_ = empty_array<T>();
  Array<T> scale_ = empty_array<T>();
};

}  // namespace tapegrad::data
