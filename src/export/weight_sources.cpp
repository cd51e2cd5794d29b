// Picks the weight source a path holds (slim/model/weight_source.h).
#include <filesystem>

#include "slim/core/error.h"
#include "slim/model/weight_source.h"

namespace slim::model {

std::unique_ptr<WeightSource> open_weight_source(const std::string& path) {
  SLIM_CHECK(std::filesystem::exists(path), path, ": not found");
  return open_hf_weight_source(path);
}

}  // namespace slim::model
