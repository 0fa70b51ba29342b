#pragma once
// The heavier xtensor headers, for the sources that need them (see detail/xtensor.hpp): views
// and printing. Public headers do not include it, so users' builds do not pay for it.
#include "tapegrad/detail/xtensor.hpp"

#include <xtensor/xio.hpp>
#include <xtensor/xview.hpp>
