#pragma once
// xtensor-blas, for the tutorial port's NumPy-style matrix products: kept out of xtensor.hpp so
// that only the sources that need it pay for it (and no installed header pulls it in). Like
// xtensor.hpp, this is the one place to change when xtensor 0.26 moves its headers.
#include <xtensor-blas/xlinalg.hpp>
