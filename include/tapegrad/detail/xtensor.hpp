#pragma once
// Every xtensor include of the library goes through this header, so that an
// xtensor upgrade (0.26 moved its headers into subfolders) touches one file.
//
// Every public header includes it (through array.hpp), so it holds only what they and a user's
// custom op need: containers, expressions, math and builders. Sources that print arrays or
// take views include "tapegrad/detail/xtensor_extra.hpp" instead: a user who includes
// <tapegrad/tapegrad.hpp> does not pay for xio.hpp and xview.hpp.
#include <xtensor/xarray.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
