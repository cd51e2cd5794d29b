// `slim inspect`: what a model directory holds and what is wrong with it, without loading weights.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slim/io/model_config.h"

namespace slim::model {

struct TensorGroup {
  std::string pattern;  // name with decoder-layer indices replaced by '*'
  int64_t count = 0;
  std::string dtype;  // "BF16", or "mixed"
  std::string shape;  // "[64, 128]", or "mixed"
};

// One tensor with a checksum, for `inspect --tensors`.
struct TensorDetail {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string file;  // checkpoint file holding it
  // Sum of the values in fp64 (for F8 and unsigned types without an ATen equivalent: of the
  // raw bytes), so other tools can cross-check what Slim reads.
  double sum = 0;
};

struct DtypeTotal {
  int64_t tensors = 0;
  uint64_t bytes = 0;
};

struct InspectReport {
  std::string model_path;
  // "huggingface", "ascendv1", "compressed-tensors" or "gguf" (slim/model/weight_source.h).
  std::string format;
  std::map<std::string, int64_t> quantized;  // quantized outputs: linears per tag ("FLOAT" too)
  std::optional<io::ModelConfig> config;
  std::vector<std::string> checkpoint_files;  // relative to model_path
  std::string index_file;                     // "" when not sharded
  int64_t tensor_count = 0;
  int64_t parameter_count = 0;
  uint64_t total_bytes = 0;
  std::map<std::string, DtypeTotal> dtypes;
  std::vector<TensorGroup> groups;
  std::vector<TensorDetail> details;     // filled only when asked for
  std::vector<std::string> other_files;  // tokenizer.json, generation_config.json, ...
  std::vector<std::string> problems;     // the model cannot be used as is
  std::vector<std::string> notes;        // worth knowing, not wrong

  nlohmann::ordered_json to_json() const;
  std::string to_text() const;
};

// `model_path` is a model directory, or a single .safetensors / index file (then config.json is
// not consulted). Throws slim::Error when the safetensors cannot be read at all; everything else
// (config problems, missing or mis-shaped tensors) is reported in `problems`. With
// `tensor_details`, every tensor is read to compute its checksum.
InspectReport inspect_model(const std::string& model_path, bool tensor_details = false);

// Replaces ".layers.<n>." by ".layers.*." and ".experts.<n>." by ".experts.*." in a tensor name.
std::string layer_pattern(const std::string& tensor_name);

}  // namespace slim::model
