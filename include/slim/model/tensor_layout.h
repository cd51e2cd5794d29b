// The tensors a checkpoint of a given configuration must hold, with Hugging Face names and shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slim/io/model_config.h"

namespace slim::model {

enum class TensorRole { Embedding, Norm, Linear, Bias, Head };

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  TensorRole role;
  int64_t layer = -1;  // decoder layer index, -1 for global tensors
};

// Every tensor the architecture reads, in checkpoint order (embedding, layers, norm, head).
std::vector<ExpectedTensor> expected_tensors(const io::ModelConfig& config);
// Tensors of decoder layer `layer` only.
std::vector<ExpectedTensor> expected_layer_tensors(const io::ModelConfig& config, int64_t layer);

}  // namespace slim::model
