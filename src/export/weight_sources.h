// The weight sources of the quantized and GGUF formats, opened by model::open_weight_source
// (src/export/weight_sources.cpp). Not a public header: src/export only (and its tests).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "slim/io/safetensors.h"
#include "slim/model/weight_source.h"

namespace slim::exporter::detail {

// An Ascend V1 directory (quant_model_description.json, quant_model_weights*.safetensors,
// config.json), written by Slim or msModelSlim. (ascendv1_source.cpp)
std::unique_ptr<model::WeightSource> open_ascendv1_weight_source(const std::string& directory);
// A compressed-tensors directory (config.json with quantization_config).
// (compressed_tensors_source.cpp)
std::unique_ptr<model::WeightSource> open_compressed_tensors_weight_source(
    const std::string& directory);
// A .gguf file of a llama / qwen2 / qwen3 model. (gguf_source.cpp)
std::unique_ptr<model::WeightSource> open_gguf_weight_source(const std::string& path);

// What the Ascend V1 and compressed-tensors sources share (weight_sources.cpp): float tensors by
// name from the directory's safetensors, quantized linears by module, and a linear's tensors
// released together. Subclasses fill the three tables in their constructors.
class QuantizedDirectorySource : public model::WeightSource {
 public:
  std::optional<std::vector<int64_t>> float_shape(const std::string& name) const override;
  // A name that belongs to a quantized linear is an error saying so.
  at::Tensor float_tensor(const std::string& name) const override;
  // A tensor's pages; a module name, or the name of one of its tensors, releases every tensor of
  // that quantized linear.
  void release(const std::vector<std::string>& names) const override;

 protected:
  virtual const io::SafetensorsCheckpoint& checkpoint() const = 0;

  std::set<std::string> float_names_;
  std::map<std::string, std::string> quantized_;  // module -> tag ("" when the format has none)
  std::map<std::string, std::vector<std::string>> module_tensors_;  // module -> its tensors
};

// "model.layers.0.mlp.up_proj.weight" -> "model.layers.0.mlp.up_proj" ("" without a dot).
std::string module_of(const std::string& tensor);
// Safetensors dtypes that are ATen floating types (not F8: those are codes).
bool is_float_dtype(io::Dtype dtype);
// The decoder layer a tensor belongs to: the first purely numeric component of its dotted name
// ("model.layers.3.self_attn.k_proj.kv_cache_scale" -> 3), as msModelSlim finds it (§5.8).
std::optional<int64_t> layer_of_tensor(const std::string& name);

}  // namespace slim::exporter::detail
