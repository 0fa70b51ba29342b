#pragma once
/// The umbrella header of the MPI component (`tapegrad::mpi` in CMake, `tapegrad-mpi` in
/// pkg-config): data-parallel training over MPI. Not part of <tapegrad/tapegrad.hpp>, whose
/// users need no MPI.
#include "tapegrad/dist/checkpoint.hpp"
#include "tapegrad/dist/collectives.hpp"
#include "tapegrad/dist/data_parallel.hpp"
#include "tapegrad/dist/environment.hpp"
#include "tapegrad/dist/parameters.hpp"
#include "tapegrad/dist/reducer.hpp"
