// The initialisers of torch.nn.init, drawing from a tapegrad::Rng.
#include "tapegrad/nn/init.hpp"

#include <algorithm>
#include <vector>

#include "instantiate.hpp"

namespace tapegrad::nn::init {

Fans calculate_fan_in_and_fan_out(const Shape& shape) {
  TG_CHECK(ValueError, shape.size() >= 2, "init: fan in and fan out can not be computed for a tensor of shape ",
           to_string(shape), " (fewer than 2 dimensions)");
  std::size_t receptive = 1;
  for (std::size_t k = 2; k < shape.size(); ++k) receptive *= shape[k];
  return {shape[1] * receptive, shape[0] * receptive};
}

double calculate_gain(const std::string& nonlinearity, std::optional<double> param) {
  static const char* const linear[] = {"linear",           "conv1d",           "conv2d", "conv3d", "conv_transpose1d",
                                       "conv_transpose2d", "conv_transpose3d", "sigmoid"};
  for (const char* name : linear) {
    if (nonlinearity == name) return 1.0;
  }
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    TG_CHECK(ValueError, std::isfinite(slope), "init::calculate_gain: negative_slope ", slope, " is not a valid number");
    return std::sqrt(2.0 / (1 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4.0;
  throw ValueError(detail::concat("init::calculate_gain: unsupported nonlinearity '", nonlinearity, "'"));
}

namespace {
// fan_in or fan_out, as `mode` says.
std::size_t fan_of(const char* op, const Shape& shape, const std::string& mode) {
  TG_CHECK(ValueError, mode == "fan_in" || mode == "fan_out", op, ": mode must be 'fan_in' or 'fan_out', got '", mode,
           "'");
  const Fans f = calculate_fan_in_and_fan_out(shape);
  const std::size_t fan = mode == "fan_in" ? f.fan_in : f.fan_out;
  TG_CHECK(ValueError, fan > 0, op, ": ", mode, " of a tensor of shape ", to_string(shape), " is 0");
  return fan;
}

template <class T>
void fill_uniform(Parameter<T>& p, double a, double b, Rng& rng) {
  const Shape shape = p.shape();
  if (a == b) {
    p.mutable_value().fill(T(a));
    return;
  }
  // Drawn in double, so float and double tensors from one seed agree to float precision.
  const Array<double> u = rng.uniform<double>(shape, a, b);
  std::transform(u.begin(), u.end(), p.mutable_value().begin(), [](double v) { return T(v); });
}

template <class T>
void fill_normal(Parameter<T>& p, double mean, double std, Rng& rng) {
  const Array<double> z = rng.normal<double>(p.shape());
  std::transform(z.begin(), z.end(), p.mutable_value().begin(), [=](double v) { return T(mean + std * v); });
}
}  // namespace

template <class T>
Parameter<T> uniform_(Parameter<T> tensor, double a, double b, Rng& rng) {
  TG_CHECK(ValueError, a <= b, "init::uniform_: a (", a, ") must be <= b (", b, ")");
  fill_uniform(tensor, a, b, rng);
  return tensor;
}

template <class T>
Parameter<T> normal_(Parameter<T> tensor, double mean, double std, Rng& rng) {
  TG_CHECK(ValueError, std >= 0, "init::normal_: std must be >= 0, got ", std);
  fill_normal(tensor, mean, std, rng);
  return tensor;
}

template <class T>
Parameter<T> constant_(Parameter<T> tensor, double val) {
  tensor.mutable_value().fill(T(val));
  return tensor;
}

template <class T>
Parameter<T> xavier_uniform_(Parameter<T> tensor, double gain, Rng& rng) {
  const Fans f = calculate_fan_in_and_fan_out(tensor.shape());
  const double a = gain * std::sqrt(6.0 / double(f.fan_in + f.fan_out));
  fill_uniform(tensor, -a, a, rng);
  return tensor;
}

template <class T>
Parameter<T> xavier_normal_(Parameter<T> tensor, double gain, Rng& rng) {
  const Fans f = calculate_fan_in_and_fan_out(tensor.shape());
  fill_normal(tensor, 0.0, gain * std::sqrt(2.0 / double(f.fan_in + f.fan_out)), rng);
  return tensor;
}

template <class T>
Parameter<T> kaiming_uniform_(Parameter<T> tensor, double a, const std::string& mode, const std::string& nonlinearity,
                              Rng& rng) {
  const std::size_t fan = fan_of("init::kaiming_uniform_", tensor.shape(), mode);
  const double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / double(fan));
  fill_uniform(tensor, -bound, bound, rng);
  return tensor;
}

template <class T>
Parameter<T> kaiming_normal_(Parameter<T> tensor, double a, const std::string& mode, const std::string& nonlinearity,
                             Rng& rng) {
  const std::size_t fan = fan_of("init::kaiming_normal_", tensor.shape(), mode);
  fill_normal(tensor, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(double(fan)), rng);
  return tensor;
}

template <class T>
Parameter<T> orthogonal_(Parameter<T> tensor, double gain, Rng& rng) {
  const Shape shape = tensor.shape();
  TG_CHECK(ValueError, shape.size() >= 2, "init::orthogonal_: only tensors with 2 or more dimensions are supported, got ",
           to_string(shape));
  const std::size_t rows = shape[0], cols = rows == 0 ? 0 : numel(shape) / rows;
  if (rows == 0 || cols == 0) return tensor;
  // A standard normal (rows, cols); Q of the taller orientation (m >= n) by Gram–Schmidt.
  const Array<double> a = rng.normal<double>({rows, cols});
  const bool wide = rows < cols;
  const std::size_t m = wide ? cols : rows, n = wide ? rows : cols;
  std::vector<double> q(m * n);  // column j at q[j·m ...]
  for (std::size_t j = 0; j < n; ++j) {
    double* qj = q.data() + j * m;
    for (std::size_t i = 0; i < m; ++i) qj[i] = wide ? a(j, i) : a(i, j);
    for (int pass = 0; pass < 2; ++pass) {  // twice is enough (Giraud et al.)
      for (std::size_t k = 0; k < j; ++k) {
        const double* qk = q.data() + k * m;
        double dot = 0;
        for (std::size_t i = 0; i < m; ++i) dot += qk[i] * qj[i];
        for (std::size_t i = 0; i < m; ++i) qj[i] -= dot * qk[i];
      }
    }
    double norm = 0;
    for (std::size_t i = 0; i < m; ++i) norm += qj[i] * qj[i];
    norm = std::sqrt(norm);  // R's diagonal, positive: no sign to correct
    for (std::size_t i = 0; i < m; ++i) qj[i] /= norm;
  }
  T* w = tensor.mutable_value().data();
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) w[r * cols + c] = T(gain * (wide ? q[r * m + c] : q[c * m + r]));
  }
  return tensor;
}

#define TAPEGRAD_SECTION(T)                                                                                     \
  template Parameter<T> uniform_(Parameter<T>, double, double, Rng&);                                          \
  template Parameter<T> normal_(Parameter<T>, double, double, Rng&);                                           \
  template Parameter<T> constant_(Parameter<T>, double);                                                       \
  template Parameter<T> xavier_uniform_(Parameter<T>, double, Rng&);                                           \
  template Parameter<T> xavier_normal_(Parameter<T>, double, Rng&);                                            \
  template Parameter<T> kaiming_uniform_(Parameter<T>, double, const std::string&, const std::string&, Rng&); \
  template Parameter<T> kaiming_normal_(Parameter<T>, double, const std::string&, const std::string&, Rng&);  \
  template Parameter<T> orthogonal_(Parameter<T>, double, Rng&);
TAPEGRAD_INSTANTIATE(TAPEGRAD_SECTION)
#undef TAPEGRAD_SECTION

}  // namespace tapegrad::nn::init
