// The tensors a checkpoint of a given configuration must hold, with Hugging Face names and shapes,
// derived from the family's role table (slim/model/family.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slim/io/model_config.h"

namespace slim::model {

struct RoleSpec;

enum class TensorRole { Embedding, Norm, Linear, Bias, Head };

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  TensorRole role;
  int64_t layer = -1;              // decoder layer index, -1 for global tensors
  const RoleSpec* spec = nullptr;  // the layer module's role (nullptr for global tensors)
  int64_t expert = -1;             // routed expert index of an expert linear
  std::string module;              // module path ("model.layers.0.mlp.up_proj"); "" for globals
};

// Every tensor the architecture reads, in checkpoint order (embedding, layers, norm, head).
std::vector<ExpectedTensor> expected_tensors(const io::ModelConfig& config);
// Tensors of decoder layer `layer` only.
std::vector<ExpectedTensor> expected_layer_tensors(const io::ModelConfig& config, int64_t layer);

}  // namespace slim::model
