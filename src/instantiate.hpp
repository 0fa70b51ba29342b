#pragma once
// Explicit instantiation, beside the definitions: every source that defines templates of the
// public API ends with
//
//     #define TAPEGRAD_OPS(T) template Var<T> relu(const Var<T>&); ...
//     TAPEGRAD_INSTANTIATE(TAPEGRAD_OPS)
//
// so that the element types the library supports are listed in this one place.
// tests/test_instantiation.cpp calls every public template for each of them: a declaration
// without its instantiation fails the suite, not a user's link.
#define TAPEGRAD_INSTANTIATE(LIST) LIST(float) LIST(double)
