#pragma once
// The xtensor extras the tutorial port uses (.npy files and BLAS matrix products), kept out of
// xtensor.hpp so that only the sources that need them pay for them. Like xtensor.hpp, this is
// the one place to change when xtensor 0.26 moves its headers into subfolders.
#include <xtensor/xnpy.hpp>
#include <xtensor-blas/xlinalg.hpp>
