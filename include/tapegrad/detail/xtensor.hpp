#pragma once
// Every xtensor include of the library goes through this header, so that an
// xtensor upgrade (0.26 moved its headers into subfolders) touches one file.
#include <xtensor/xarray.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xview.hpp>
