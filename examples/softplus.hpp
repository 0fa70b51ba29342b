#pragma once
// softplus(x) = log(1 + e^x), a smooth ReLU, defined outside the library as a user would.
//
// Only the declaration is here. The definition, with the xtensor expressions that take a few
// seconds to compile, is in softplus.cpp, instantiated there for float and double: every
// file that uses the op compiles as fast as one that uses only built-in ops (the library's
// own ops are built the same way).
#include <tapegrad/tape.hpp>

namespace example {

template <class T>
tapegrad::Var<T> softplus(const tapegrad::Var<T>& x);

}  // namespace example
