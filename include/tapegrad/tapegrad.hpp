#pragma once
/// The umbrella header: everything a user needs to build and train models. Inside the library
/// each file includes only what it uses.
#include "tapegrad/array.hpp"
#include "tapegrad/debug.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/nn/activation.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/sequential.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/optim/sgd.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/tape.hpp"
#include "tapegrad/version.hpp"
