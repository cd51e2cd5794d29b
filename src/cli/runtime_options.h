// --device and --dtype, shared by the commands that run a model.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "slim/model/causal_lm.h"

namespace slim::cli {

struct RuntimeFlags {
  std::string device = "cpu";
  std::string dtype = "fp32";
  void add_to(CLI::App& command);
  // Throws slim::Error for an unknown dtype or an unavailable device.
  model::RuntimeOptions resolve() const;
};

}  // namespace slim::cli
