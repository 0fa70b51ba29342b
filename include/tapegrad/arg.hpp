#pragma once
/// The one idiom of every options struct, as libtorch's `TORCH_ARG` (torch/arg.h): a chainable
/// setter `name(value)` returning the struct, a getter `name()`, and the member, whose default
/// follows the macro:
///
///     struct SGDOptions {
///       explicit SGDOptions(double lr) : lr_(lr) {}
///       TAPEGRAD_ARG(double, lr);
///       TAPEGRAD_ARG(double, momentum) = 0;
///     };
///     auto options = SGDOptions(0.1).momentum(0.9);   // options.momentum() == 0.9
#define TAPEGRAD_ARG(T, name)                                  \
 public:                                                       \
  auto name(const T& new_##name)->decltype(*this) {            \
    this->name##_ = new_##name;                                \
    return *this;                                              \
  }                                                            \
  const T& name() const noexcept { return this->name##_; }     \
                                                               \
 private:                                                      \
  T name##_
